"""Devices and dtypes: what this machine has, and turning "auto"/"cuda:1"/"bf16" into torch values.

A *precision* is a float dtype (float32, bfloat16, float16) or a quantized precision (int8, int4:
``workbench.quantize``); ``precision_name`` gives the canonical name a load is keyed by, and
``resolve_dtype`` the float dtype a model is built in (a quantized model's other layers compute in it).

>>> resolve_device("cpu")
device(type='cpu')
>>> resolve_dtype("bf16", resolve_device("cpu"))
torch.bfloat16
>>> precision_name("auto", resolve_device("cpu")), precision_name("int8", resolve_device("cpu"))
('float32', 'int8')
"""

from __future__ import annotations


import importlib.util

import torch

from workbench.errors import DeviceError, DtypeError
from workbench.quantize import DEVICE_TYPES, QUANTIZED, check_device, compute_dtype

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}


def available_devices() -> list[str]:
    """The device choices this machine offers, ``auto`` first: auto, cpu, cuda:0…, mps."""
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        out.append("mps")
    return out


def available_dtypes(device: str = "auto") -> list[str]:
    """The precision choices that make sense on ``device``: no float16 on a CPU; int8 on a CPU or a
    CUDA GPU and int4 on a CUDA GPU, where torchao is installed."""
    dev = resolve_device(device)
    out = ["auto", "float32", "bfloat16"] + (["float16"] if dev.type != "cpu" else [])
    if importlib.util.find_spec("torchao") is not None:
        out += [name for name in QUANTIZED if dev.type in DEVICE_TYPES[name]]
    return out


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(spec: str | None) -> torch.device:
    """``auto`` -> cuda:0, else mps, else cpu; anything this machine lacks is a ``DeviceError``."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError:
        raise DeviceError(f"Unknown device `{spec}`; choose one of {', '.join(available_devices())}.") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"Device `{spec}` was asked for, but this machine has no CUDA GPU (torch {torch.__version__}); "
                f"choose one of {', '.join(available_devices())}."
            )
        index = 0 if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"Device `{spec}` does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s); "
                f"choose one of {', '.join(available_devices())}."
            )
        return torch.device("cuda", index)
    if dev.type == "mps" and not _mps_available():
        raise DeviceError(f"Device `mps` is not available here; choose one of {', '.join(available_devices())}.")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"Device `{spec}` is not supported; choose one of {', '.join(available_devices())}.")
    return dev


def dtype_name(spec: str | None) -> str:
    """Canonical precision name: ``fp16`` -> ``float16``; ``int8`` stays ``int8``, ``auto`` ``auto``."""
    spec = (spec or "auto").strip().lower().removeprefix("torch.")
    spec = DTYPE_ALIASES.get(spec, spec)
    if spec != "auto" and spec not in DTYPES and spec not in QUANTIZED:
        raise DtypeError(f"Unknown dtype `{spec}`; choose one of auto, {', '.join([*DTYPES, *QUANTIZED])}.")
    return spec


def precision_name(spec: str | None, device: torch.device) -> str:
    """The canonical precision a load on ``device`` runs in (``auto`` resolved), refusing what the
    device cannot run: ``float16`` on a CPU, ``int4`` off a CUDA GPU."""
    name = dtype_name(spec)
    if name in QUANTIZED:
        check_device(name, device)
        return name
    return str(resolve_dtype(name, device)).removeprefix("torch.")


def resolve_dtype(spec: str | None, device: torch.device) -> torch.dtype:
    """``auto`` -> float32 on CPU, bfloat16 (or float16 where bf16 is unsupported) on a GPU; a
    quantized precision -> the float dtype its model is built in (``quantize.compute_dtype``).

    ``float16`` on a CPU is refused: most CPU kernels lack it and it is slower than bfloat16.
    """
    name = dtype_name(spec)
    if name in QUANTIZED:
        check_device(name, device)
        return compute_dtype(name, device)
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if device.type == "mps" else torch.float32
    if name == "float16" and device.type == "cpu":
        raise DtypeError("`float16` needs a GPU (cuda or mps); on CPU choose `bfloat16` (fast on recent CPUs), `int8` "
                         "or `float32`.")
    return DTYPES[name]
