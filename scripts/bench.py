"""Timings with their targets, measured in one run (``make bench``; never by the tests).

1. Build + render to YAML, this project vs troposphere's ``to_yaml`` (cfn-flip), on the same
   template: median of RUNS runs each, and the ratio (target: at least 5x faster).
2. ``import clazar_templates`` in a fresh interpreter (target: under 100 ms), and which heavy
   libraries it pulled in (none of cfn-lint, boto3, click should be).
3. ``clazar-templates build --no-lint`` of both templates as a whole process, median of 10
   fresh interpreters (target: under 0.15 s).
4. ``make templates`` with a warm virtual environment vs the same templates linted by the
   ``cfn-lint`` command alone, with the same rules and regions (target: at most 1.5x).
   Both run in a scratch copy of the project, so the working tree is not touched.

    python scripts/bench.py [--runs 50]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HEAVY = ("cfnlint", "boto3", "botocore", "click", "troposphere", "yaml")


def median_time(action: Callable[[], object], runs: int) -> float:
    """Median wall time of ``action`` in seconds (after one unmeasured warm-up)."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def process(*command: str | Path, cwd: Path | None = None) -> Callable[[], object]:
    def run() -> object:
        return subprocess.run(
            [str(c) for c in command], cwd=cwd, check=True, capture_output=True, text=True
        )

    return run


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render_speed(runs: int) -> list[str]:
    from clazar_templates.stacks import STACKS
    from clazar_templates.template.render import to_yaml

    lines = []
    for target in STACKS.values():
        ours = median_time(lambda t=target: to_yaml(t.build()), runs)
        theirs = median_time(lambda t=target: t.build().to_yaml(), runs)
        ratio = theirs / ours
        lines.append(
            f"build+render {target.name}: this project {ours * 1e3:.1f} ms, troposphere "
            f"to_yaml {theirs * 1e3:.1f} ms, {ratio:.1f}x faster "
            f"(median of {runs}; target >= 5x) {verdict(ratio >= 5)}"
        )
    return lines


def import_speed(runs: int) -> list[str]:
    probe = (
        "import sys, time; t = time.perf_counter(); import clazar_templates; "
        "print(time.perf_counter() - t); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    times, pulled = [], ""
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", probe], check=True, capture_output=True, text=True
        ).stdout.split("\n")
        times.append(float(out[0]))
        pulled = out[1]
    took = statistics.median(times)
    whole = median_time(process(sys.executable, "-c", "import clazar_templates"), runs)
    return [
        f"import clazar_templates: {took * 1e3:.1f} ms in a fresh interpreter "
        f"({whole * 1e3:.0f} ms with interpreter start-up; median of {runs}; "
        f"heavy modules imported: {pulled or 'none'}; target < 100 ms) "
        f"{verdict(took < 0.1 and not pulled)}"
    ]


def build_speed(runs: int) -> list[str]:
    command = BIN / "clazar-templates"
    with tempfile.TemporaryDirectory() as out:
        took = median_time(process(command, "build", "--no-lint", "--out", out), runs)
    return [
        f"clazar-templates build --no-lint (both templates, whole process): "
        f"{took:.3f} s (median of {runs}; target < 0.15 s) {verdict(took < 0.15)}"
    ]


def make_speed(runs: int) -> list[str]:
    from clazar_templates.template.render import LINT_REGIONS

    venv = Path(sys.prefix)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "project"
        copy.mkdir()
        for name in ("Makefile", "pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, copy / name)
        for name in ("templates", "docs"):
            shutil.copytree(ROOT / name, copy / name)
        stamp = venv / ".installed"  # the venv is warm: never let make reinstall it
        make = process("make", "-s", "-o", stamp, "templates", f"VENV={venv}", cwd=copy)
        files = sorted(str(p) for p in (copy / "templates").glob("*.yaml"))
        regions = [arg for region in LINT_REGIONS for arg in ("--regions", region)]
        bare = process(BIN / "cfn-lint", *regions, "--include-checks", "I", "--", *files)
        made = median_time(make, runs)
        linted = median_time(bare, runs)
    ratio = made / linted
    return [
        f"make templates {made:.2f} s vs cfn-lint alone on the same {len(files)} templates "
        f"{linted:.2f} s: {ratio:.2f}x (median of {runs}; target <= 1.5x) {verdict(ratio <= 1.5)}"
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs of each in-process timing")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {sys.prefix}")
    # Fresh interpreters must find the package's bytecode, as every run after the first does;
    # with PYTHONDONTWRITEBYTECODE set, nothing would ever write it.
    package = importlib.util.find_spec("clazar_templates")
    for location in (package and package.submodule_search_locations) or []:
        compileall.compile_dir(location, quiet=1)
    lines = [
        *render_speed(max(args.runs, 50)),
        *import_speed(20),
        *build_speed(10),
        *make_speed(3),
    ]
    for line in lines:
        print(line, flush=True)
    return 0 if all(line.endswith("PASS") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
