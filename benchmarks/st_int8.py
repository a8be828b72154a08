"""sentence-transformers' int8 backends on the benchmark's texts: ONNX Runtime (dynamic int8, no
calibration) and OpenVINO (static int8 with NNCF, calibrated on these same texts), both against the
workbench's float32 embeddings of the same texts (and sentence-transformers' own torch float32 for
scale). Every model truncates at 512 tokens, as the workbench does. Run by ``benchmarks/onnx-openvino.sh`` in a
throw-away virtual environment (its own transformers, sentence-transformers, optimum-onnx,
optimum-intel); nothing here imports the workbench.

    python benchmarks/st_int8.py TEXTS.json REFERENCE.npy MODEL_DIR OUT.json [--sizes 1,8,32,64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def measure(model, texts: list[str], reference: np.ndarray, sizes: list[int], repeats: int) -> list[dict]:
    model.max_seq_length = 512  # as the workbench truncates (MiniLM's sentence-transformers config says 256)
    rows = []
    for bs in sizes:
        model.encode(texts[: 2 * bs], batch_size=bs)  # warm-up
        best, out = float("inf"), None
        for _ in range(repeats):
            start = time.perf_counter()
            out = model.encode(texts, batch_size=bs, convert_to_numpy=True)
            best = min(best, time.perf_counter() - start)
        cos = cosines(out, reference)
        rows.append({"batch_size": bs, "items_per_s": round(len(texts) / best, 2),
                     "cosine_mean": round(float(cos.mean()), 5), "cosine_min": round(float(cos.min()), 5)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("texts")
    parser.add_argument("reference")
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--sizes", default="1,8,32,64")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-torch", action="store_true", help="leave out sentence-transformers' torch float32 rows")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    torch.set_num_threads(torch.get_num_threads())
    texts = json.loads(Path(args.texts).read_text())
    reference = np.load(args.reference)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="st-int8-"))
    folder = work / "model"
    shutil.copytree(args.model, folder)
    import os

    results: dict = {"texts": len(texts), "sizes": sizes, "repeats": args.repeats,
                     "load_average_start": [round(x, 2) for x in os.getloadavg()]}

    if not args.skip_torch:
        print("sentence-transformers, torch, float32", flush=True)
        results["torch_float32"] = {"rows": measure(SentenceTransformer(str(folder), device="cpu"), texts, reference,
                                                    sizes, args.repeats)}

    # ONNX Runtime, dynamic int8: export, quantize (AVX-512 VNNI config where the CPU has it), load
    vnni = "avx512_vnni" in Path("/proc/cpuinfo").read_text()
    config = "avx512_vnni" if vnni else "avx2"
    onnx = SentenceTransformer(str(folder), backend="onnx", device="cpu")
    onnx.save_pretrained(str(folder))
    export_dynamic_quantized_onnx_model(onnx, config, str(folder))
    name = next(p.relative_to(folder) for p in (folder / "onnx").glob(f"model_*int8_{config}.onnx"))  # qint8 or quint8
    quantized = SentenceTransformer(str(folder), backend="onnx", device="cpu", model_kwargs={"file_name": str(name)})
    print(f"onnxruntime int8 ({config})", flush=True)
    results["onnxruntime_int8"] = {"config": config, "file": str(name), "rows": measure(quantized, texts, reference, sizes, args.repeats)}

    # OpenVINO, static int8 (NNCF post-training quantization) calibrated on these texts
    import nncf
    import openvino as ov
    from optimum.intel import OVModelForFeatureExtraction

    ov_fp32 = SentenceTransformer(str(folder), backend="openvino", device="cpu")
    core_model = ov_fp32[0].auto_model.model  # the openvino.Model inside optimum-intel's wrapper
    tokenizer = ov_fp32.tokenizer
    names = {i.get_any_name() for i in core_model.inputs}
    calibration = []
    for t in texts[:300]:
        enc = tokenizer(t, truncation=True, max_length=256, return_tensors="np")
        calibration.append({k: v for k, v in enc.items() if k in names})
    int8_model = nncf.quantize(core_model, nncf.Dataset(calibration), model_type=nncf.ModelType.TRANSFORMER,
                               subset_size=len(calibration))
    ov_dir = work / "openvino-int8"
    shutil.copytree(folder, ov_dir)
    (ov_dir / "openvino").mkdir(exist_ok=True)
    ov.save_model(int8_model, str(ov_dir / "openvino" / "openvino_model_qint8.xml"))
    ov_int8 = SentenceTransformer(str(ov_dir), backend="openvino", device="cpu",
                                  model_kwargs={"file_name": "openvino/openvino_model_qint8.xml"})
    print("openvino int8 (NNCF static, calibrated on the benchmark's own texts)", flush=True)
    results["openvino_int8"] = {"calibration": f"{len(calibration)} of the benchmark's texts",
                                "rows": measure(ov_int8, texts, reference, sizes, args.repeats)}
    import onnxruntime
    import sentence_transformers
    import transformers

    results["versions"] = {"sentence-transformers": sentence_transformers.__version__,
                           "onnxruntime": onnxruntime.__version__, "openvino": ov.__version__,
                           "nncf": nncf.__version__, "transformers": transformers.__version__,
                           "torch": torch.__version__}
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    del OVModelForFeatureExtraction


if __name__ == "__main__":
    main()
