"""Timings with their targets, measured in one run (``make bench``; never by the tests).

0. Locked: every lock file under requirements/ pins each package to a version, with hashes.
1. Build + render to YAML, this project vs troposphere's ``to_yaml`` (cfn-flip), on the same
   template: median of RUNS runs each, and the ratio (target: at least 5x faster).
2. ``import clazar_templates`` in a fresh interpreter (target: under 100 ms), and which heavy
   libraries it pulled in (none of cfn-lint, boto3, click should be).
3. ``clazar-templates build --no-lint`` of both templates as a whole process vs a bare
   interpreter importing the troposphere and awacs modules the build uses (target: 1.3x).
4. ``make templates`` with nothing changed (target: 1 s), and with every template changed vs
   the ``cfn-lint`` command alone on them, same rules and regions (target: no slower). Both
   in a scratch copy of the project, so the working tree is not touched.
5. ``make test`` in a fresh clone of HEAD (target: 150 s), again warm (90 s; it reuses the
   reporter's deadline figures, kept by the hash of the code they measured, and says so),
   and ``make test-fast`` (20 s), with their CPU time (user + sys): on a busy machine wall
   time grows, CPU time much less.

    python scripts/bench.py [--runs 50] [--no-make-test]
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


# Run from `make bench`, this process has the outer make's variables: a make started here
# must not join its jobs, nor use the working tree's caches (lint findings, deadline figures).
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    and not k.startswith("CLAZAR_")
}


def process(*command: str | Path, cwd: Path | None = None) -> Callable[[], object]:
    def run() -> object:
        return subprocess.run(
            [str(c) for c in command], cwd=cwd, env=ENV, check=True, capture_output=True, text=True
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


FLOOR_PROBE = (
    "import sys, runpy; sys.argv = ['clazar-templates', 'build', '--no-lint', '--out', {out!r}]; "
    "from clazar_templates.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('troposphere', 'awacs'))))"
)


def build_speed(runs: int) -> list[str]:
    """The build as a whole process vs a bare interpreter importing the troposphere and awacs
    modules that build imports (the floor any troposphere-based generator pays)."""
    command = BIN / "clazar-templates"
    with tempfile.TemporaryDirectory() as out:
        probe = [sys.executable, "-c", FLOOR_PROBE.format(out=out)]
        printed = subprocess.run(probe, check=True, capture_output=True, text=True).stdout
        used = printed.splitlines()[-1].split()  # after the build's own "wrote ..." lines
        floor = median_time(process(sys.executable, "-c", f"import {', '.join(used)}"), runs)
        took = median_time(process(command, "build", "--no-lint", "--out", out), runs)
    ratio = took / floor
    return [
        f"clazar-templates build --no-lint (both templates, whole process) {took:.3f} s vs "
        f"importing the {len(used)} troposphere/awacs modules it uses {floor:.3f} s: "
        f"{ratio:.2f}x (median of {runs}; target <= 1.3x) {verdict(ratio <= 1.3)}"
    ]


def scratch_project(tmp: str) -> Path:
    """A copy of the files ``make templates`` reads, in ``tmp``."""
    copy = Path(tmp) / "project"
    copy.mkdir()
    for name in ("Makefile", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    for name in ("templates", "docs", "requirements"):
        shutil.copytree(ROOT / name, copy / name)
    return copy


def make_speed(runs: int) -> list[str]:
    """``make templates`` with nothing changed (make skips it by its dates), and with every template
    changed (cache emptied before each run) vs the ``cfn-lint`` command on the same files."""
    from clazar_templates.template.render import LINT_CHECKS, LINT_REGIONS

    venv = Path(sys.prefix)
    with tempfile.TemporaryDirectory() as tmp:
        copy = scratch_project(tmp)
        stamp = venv / ".installed"  # the venv is warm: never let make reinstall it
        make = process("make", "-s", "-o", stamp, "templates", f"VENV={venv}", cwd=copy)
        cache = copy / ".cache"

        def changed() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            make()

        files = sorted(str(p) for p in (copy / "templates").glob("*.yaml"))
        regions = [arg for region in LINT_REGIONS for arg in ("--regions", region)]
        checks = [arg for check in LINT_CHECKS for arg in ("--include-checks", check)]
        bare = process(BIN / "cfn-lint", *regions, *checks, "--", *files)
        noop = median_time(make, runs * 2)
        made = median_time(changed, runs)
        linted = median_time(bare, runs)
    ratio = made / linted
    return [
        f"make templates, nothing changed: {noop:.2f} s (median of {runs * 2}; target <= 1 s) "
        f"{verdict(noop <= 1.0)}",
        f"make templates, every template linted {made:.2f} s vs cfn-lint alone on the same "
        f"{len(files)} templates {linted:.2f} s: {ratio:.2f}x (median of {runs}; "
        f"target <= 1.0x) {verdict(ratio <= 1.0)}",
    ]


def locked() -> list[str]:
    """Every lock file pins each package to one version, with hashes."""
    lines = []
    for lock in sorted((ROOT / "requirements").glob("*.txt")):
        text = lock.read_text(encoding="utf-8").replace("\\\n", " ")
        pins = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
        bad = [p for p in pins if "==" not in p or "--hash=sha256:" not in p]
        lines.append(
            f"locked: {lock.relative_to(ROOT)} pins {len(pins)} packages, "
            f"{len(pins) - len(bad)} with hashes {verdict(bool(pins) and not bad)}"
        )
    return lines


def timed_make(target: str, cwd: Path) -> tuple[float, float, bool]:
    """Wall and CPU (user+sys of every child) seconds of ``make TARGET``, and whether it
    passed; its output goes to .cache/bench-TARGET.log in ``cwd``."""
    log = cwd / ".cache" / f"bench-{target}.log"
    log.parent.mkdir(exist_ok=True)
    before = os.times()
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            ["make", target], check=False, cwd=cwd, env=ENV, stdout=out, stderr=subprocess.STDOUT
        )
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, done.returncode == 0


def test_speed() -> list[str]:
    """``make test`` in a fresh clone of this repository's HEAD (new virtual environments, no
    caches of the project's own), then again (warm); ``make test-fast`` there too."""
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, env=ENV)
        for name, target, limit in (
            ("fresh clone make test", "test", 150),
            ("warm make test", "test", 90),
            ("make test-fast", "test-fast", 20),
        ):
            wall, cpu, ok = timed_make(target, clone)
            log = (clone / ".cache" / f"bench-{target}.log").read_text(encoding="utf-8")
            kept = "; deadline figures remembered" if "\nremembered: " in log else ""
            lines.append(
                f"{name}: {wall:.0f} s (cpu {cpu:.0f} s; {'passed' if ok else 'FAILED'}{kept}; "
                f"target <= {limit} s) {verdict(ok and wall <= limit)}"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs of each in-process timing")
    parser.add_argument(
        "--no-make-test", action="store_true", help="skip make test in a fresh clone (minutes)"
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {sys.prefix}")
    # Fresh interpreters must find the package's bytecode, as every run after the first does;
    # with PYTHONDONTWRITEBYTECODE set, nothing would ever write it.
    package = importlib.util.find_spec("clazar_templates")
    for location in (package and package.submodule_search_locations) or []:
        compileall.compile_dir(location, quiet=1)
    figures: list[Callable[[], list[str]]] = [
        locked,
        lambda: render_speed(max(args.runs, 50)),
        lambda: import_speed(20),
        lambda: build_speed(10),
        lambda: make_speed(3),
        *([] if args.no_make_test else [test_speed]),
    ]
    lines = []
    for figure in figures:
        for line in figure():
            print(line, flush=True)
            lines.append(line)
    return 0 if all(line.endswith("PASS") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
