"""Every option combination of every stack: built, rendered, cfn-linted and checkov'd.

Each flag is tried as True, False and None (deploy time); each option that accepts "" as
None, "" and a valid value (existing co-sell roles both by name and by ARN); each number as
None, its least value and one above; in every combination. The value options (account,
external ID, ...) alternate between all at deploy time and all fixed (``--both``: each
combination in both). Options are read from ``option_fields``, so an option added later
is swept without editing this file. Identical templates are checked once. Linting runs in
a process pool on every core, then checkov runs on every distinct template, one process
per chunk, as many at once as cores.

    python scripts/sweep.py --checkov .venv-checkov/bin/checkov [--jobs N] [--both]

Prints how many combinations and distinct templates were checked, each distinct problem
with a count and the simplest combination showing it (every finding on stderr), and the
time taken; exits 1 on any finding.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from checkov_templates import (
    checkov_directory,
    choices,
    declared,
    executable,
    shapes,
    unjustified,
    values,
)
from clazar_templates import options as o
from clazar_templates.stacks import STACKS
from clazar_templates.template.render import lint, to_yaml

Combination = tuple[str, tuple[tuple[str, Any], ...]]  # (stack, ((field, value), ...))


def combinations(both: bool = False) -> Iterator[Combination]:
    """Every combination of the options that shape a template (flags, numbers, and options
    taking ""). The value options (account, external ID, ...) add no Conditions: they are all left
    to deploy time in every other combination and all fixed in the rest (``both``: each
    combination in both modes, twice the work)."""
    for short, target in STACKS.items():
        specs = dict(o.option_fields(target.options))
        shaping = {n: choices(s) for n, s in specs.items() if shapes(s)}
        fixed_later = [n for n in specs if n not in shaping]
        for i, chosen in enumerate(itertools.product(*shaping.values())):
            for fixed in (False, True) if both else (i % 2 == 1,):
                plain = {n: values(specs[n])[0] if fixed else None for n in fixed_later}
                yield short, (*plain.items(), *zip(shaping, chosen, strict=True))


def render(combination: Combination) -> tuple[str, dict[str, list[str]], list[str]]:
    """The template text, its resources' declared checkov skips, and its checkov
    suppressions lacking a reason."""
    short, settings = combination
    template = STACKS[short].build(STACKS[short].options(**dict(settings))).to_dict()
    return to_yaml(template), declared(template), unjustified(template)


RECORDED_OPTIONS = re.compile(r"(?m)^    Options:\n(?:      .*\n)+")


def without_recorded_options(text: str) -> str:
    """The template without Metadata.Clazar.Options, which records every option fixed
    (also those the template does not depend on): what linting one of two templates that
    differ only there tells about the other."""
    return RECORDED_OPTIONS.sub("", text, count=1)


def check(text: str) -> list[str]:
    return [str(f) for f in lint(text)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkov", type=executable, help="the checkov executable (omit to skip checkov)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--both", action="store_true", help="value options in both modes")
    args = parser.parse_args()
    started = time.perf_counter()
    todo = list(combinations(args.both))
    lint("{}")  # load cfn-lint's rules once, before the workers fork
    with Pool(args.jobs) as pool:
        rendered = pool.map(render, todo, chunksize=64)
        first: dict[str, Combination] = {}  # each distinct text -> its first combination
        seen: set[str] = set()
        for combination, (text, _, _) in zip(todo, rendered, strict=True):
            if (key := without_recorded_options(text)) not in seen:
                seen.add(key)
                first[text] = combination
        distinct = list(first)
        print(f"sweep: {len(todo)} combinations, {len(distinct)} distinct templates", flush=True)
        findings = []
        for done, found in enumerate(pool.imap(check, distinct, chunksize=4), 1):
            findings.append(found)
            if done % 500 == 0:
                print(f"  cfn-lint: {done}/{len(distinct)}", flush=True)
    failures = [
        (describe(first[text]), f"cfn-lint {finding}")
        for text, found in zip(distinct, findings, strict=True)
        for finding in found
    ]
    print(f"cfn-lint: {len(failures)} findings ({time.perf_counter() - started:.1f} s)")
    if args.checkov:
        named = {f"t{i:05d}.yaml": text for i, text in enumerate(distinct)}
        skips = {text: found for text, found, _ in rendered}
        reasonless = {text: found for text, _, found in rendered}
        for text in distinct:
            failures += [(describe(first[text]), f"no reason given: {u}") for u in reasonless[text]]
        for finding in run_checkov(args.checkov, named, skips, args.jobs):
            name, _, rest = finding.partition(": ")
            shown = describe(first[named[name]]) if name in named else name
            failures.append((shown, f"checkov {rest}"))
    summarize(failures)
    elapsed = time.perf_counter() - started
    print(
        f"sweep: checked {len(distinct)} distinct templates ({len(todo)} combinations, "
        f"{args.jobs} processes): {len(failures)} findings in {elapsed:.1f} s"
    )
    return 1 if failures else 0


def summarize(failures: list[tuple[str, str]]) -> None:
    """Every finding on stderr; on stdout, each distinct problem once, with a count and the
    simplest combination that shows it."""
    groups: dict[str, list[str]] = {}
    for combination, finding in failures:
        print(f"{combination}: {finding}", file=sys.stderr)
        groups.setdefault(re.sub(r" line \d+", "", finding), []).append(combination)
    for finding, where in sorted(groups.items(), key=lambda g: -len(g[1])):
        print(f"{len(where):5d} x {finding}\n        e.g. {min(where, key=len)}")


def describe(combination: Combination) -> str:
    short, settings = combination
    return short + "(" + ", ".join(f"{n}={v!r}" for n, v in settings if v is not None) + ")"


def run_checkov(
    checkov: str, named: dict[str, str], skips: dict[str, dict[str, list[str]]], jobs: int
) -> list[str]:
    """checkov on every named text: one process per chunk of at most 200, ``jobs`` at once.
    Findings start with the file name."""
    started = time.perf_counter()
    names = list(named)
    size = max(1, min(200, -(-len(names) // jobs)))
    with tempfile.TemporaryDirectory() as tmp:
        chunks = []
        for start in range(0, len(names), size):
            directory = Path(tmp) / f"chunk-{start // size:03d}"
            directory.mkdir()
            for name in names[start : start + size]:
                (directory / name).write_text(named[name], encoding="utf-8")
            chunks.append((directory, {n: skips[named[n]] for n in names[start : start + size]}))
        with ThreadPoolExecutor(jobs) as threads:
            found = [
                f for r in threads.map(lambda c: checkov_directory(checkov, *c), chunks) for f in r
            ]
    elapsed = time.perf_counter() - started
    print(f"checkov: {len(names)} templates, {len(found)} findings ({elapsed:.1f} s)")
    return found


if __name__ == "__main__":
    sys.exit(main())
