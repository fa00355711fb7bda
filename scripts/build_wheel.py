"""Build the project's wheel from a clean copy of what it packages, with the locked
setuptools of the running interpreter (make: .venv), without the package index.

    python scripts/build_wheel.py [--out .cache/dist]    # make wheel; prints the wheel's path

A copy, because setuptools builds in the source tree's build/ and *.egg-info, where a module
deleted since the last build would still be packaged, and two builds at once (the packaging
tests and `make ranges`, side by side in `make test`) would race. `make test` builds it once
and hands it to both through ``CLAZAR_WHEEL``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ("src", "pyproject.toml", "README.md", "LICENSE")
WHEEL = "CLAZAR_WHEEL"
"""Environment variable naming an already built wheel (``make test`` sets it)."""


def build(out: Path) -> Path:
    """The wheel, in ``out`` (its older wheels removed; nothing else is touched)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("clazar_templates-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / "project"
        copy.mkdir()
        for name in PACKAGED:
            source = ROOT / name
            if source.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
                shutil.copytree(source, copy / name, ignore=ignore)
            else:
                shutil.copy(source, copy / name)
        uv = ROOT / ".venv-tools/bin/uv"
        if uv.is_file():
            command = [str(uv), "build", "-q", "--wheel", "--no-build-isolation",
                       "--python", sys.executable, "--out-dir", str(out), str(copy)]  # fmt: skip
        else:  # make INSTALLER=pip: the venv has pip
            command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                       "--no-build-isolation", "-w", str(out), str(copy)]  # fmt: skip
        subprocess.run(command, check=True)
    (wheel,) = out.glob("clazar_templates-*.whl")
    return wheel


def unhashed(lock: Path, out: Path) -> Path:
    """``lock``'s pins (and markers) without their hashes, as a pip constraints file in
    ``out``: pip turns on --require-hashes for a constraint with a hash, and then refuses
    the wheel itself, which has none (uv does not)."""
    pins = [line.removesuffix("\\").strip() for line in lock.read_text("utf-8").splitlines()]
    pins = [pin for pin in pins if pin and not pin.startswith(("#", "--"))]
    path = out / f"{lock.stem}-unhashed.txt"
    path.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".cache/dist")
    print(build(parser.parse_args().out.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
