"""Run transformers 4.57's own pipelines on the parity cases and write their outputs (the goldens).

Runs in the throw-away transformers 4.57.6 venv that ``scripts/parity-goldens.sh`` makes; it
imports nothing from the workbench. Usage: ``python scripts/parity_457.py CASES_JSON OUT_JSON``.
A case whose output holds no text (an empty generation or answer list) fails the run: such a
golden would prove nothing.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import torch
import transformers
from PIL import Image
from transformers import pipeline


def plain(value: Any) -> Any:
    """Outputs as JSON values (numpy/torch scalars to Python numbers)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def has_text(value: Any) -> bool:
    """True when some generated text / answer in ``value`` is not empty."""
    if isinstance(value, dict):
        return any(has_text(v) for k, v in value.items() if k.endswith("text") or k == "answer")
    if isinstance(value, list):
        return any(has_text(v) for v in value)
    return isinstance(value, str) and bool(value.strip())


def run(case: dict[str, Any]) -> Any:
    pipe = pipeline(case["task_457"], model=case["folder"], device="cpu")
    inputs = dict(case["inputs"])
    if "image" in inputs:
        inputs["image"] = Image.open(inputs["image"]).convert("RGB")
    kwargs = case["kwargs_457"]
    if case["task"] in ("question-answering", "visual-question-answering"):
        return pipe(**inputs, **kwargs)
    (value,) = inputs.values()
    return pipe(value, **kwargs)


def main(cases_file: str, out_file: str) -> None:
    torch.manual_seed(0)
    cases = json.loads(open(cases_file).read())["cases"]
    outputs = {}
    for case in cases:
        output = plain(run(case))
        if not has_text(output):
            raise SystemExit(f"case {case['name']}: 4.57 gave no text ({output!r}); pick an input where it does")
        outputs[case["name"]] = output
        print(f"{case['name']}: {json.dumps(output)[:150]}", file=sys.stderr)
    meta = {"transformers": transformers.__version__, "torch": torch.__version__,
            "note": "outputs of transformers 4.57 pipelines on the offline models; regenerate with "
                    "scripts/parity-goldens.sh"}
    with open(out_file, "w") as f:
        json.dump({"meta": meta, "outputs": outputs}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
