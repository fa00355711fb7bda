"""Run checkov on every template this project emits for a spread of build-time options.

checkov lives in its own virtual environment (it pins old boto3), so it runs as a separate
process on a directory of rendered templates. A failed check fails the run; a suppression
is accepted only if it is written on the resource (``Metadata: checkov: skip``) with a
comment saying why, and a check checkov reports skipped that the resource's Metadata does
not declare fails the run too. checkov reads configuration from the scanned directory, the
working directory and ``~`` (``.checkov.yaml``) and from its environment (``CKV_SKIP_CHECK``,
``CKV_CHECK``, ``CKV_FRAMEWORK``, ``BC_API_KEY``...), any of which could skip or deselect a
check: so it runs with only its command line, in a directory holding only the templates,
with an empty temporary ``HOME`` and none of this process's environment but ``PATH``
(``os.defpath``) and ``LANG``. It must report parsing every resource of every template, or
the run fails.

The spread: every template with all options at deploy time; one option at a time at each
of its values (flags true/false, optional options "" or a value); and every flag true or
false with every optional option "" or given. ``make sweep`` checks every combination.

    python scripts/checkov_templates.py --checkov .venv-checkov/bin/checkov [--cache DIR --key FILE]

With ``--cache``, a clean run is remembered by the hash of every rendered template, this
script, the checkov executable's path and each ``--key`` file (``make`` passes checkov's lock
file): the same templates, the same checks and the same checkov are not scanned again. Only
a clean run (no failed check, no undeclared skip, every resource seen) is remembered; as
checkov runs in an environment of its own, no variable or configuration file of the user's
can have made it clean.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from clazar_templates import options as o
from clazar_templates.stacks import STACKS
from clazar_templates.template.render import to_yaml

MIN_REASON = 20  # characters: "why", not a placeholder

# Shared with sweep.py, which tries every combination of these values.
SELLER = "111122223333"
VALUES: dict[o.Kind, list[Any]] = {
    # Valid build-time values of each kind of option ("" and None are added for optional).
    o.ACCOUNT: ["999988887777"],
    o.EXTERNAL: ["clazar-external-id-0001"],
    o.ACCOUNT_REF: ["acct_12345"],
    o.ROLE: ["SellerClazarRole"],
    o.EXISTING_TOPIC: [f"arn:aws:sns:us-west-2:{SELLER}:seller-feed"],
    o.EXISTING_BUCKET: ["seller-feed-bucket"],
    o.EXISTING_ROLE: ["SellerRole", f"arn:aws:iam::{SELLER}:role/partner/SellerRole"],
}


def values(spec: o.Option) -> list[Any]:
    """Valid build-time values of ``spec``'s kind: for a number, its least value (0 turns
    something off) and one above it; else VALUES."""
    if spec.kind.is_number:
        least = spec.kind.min_value or 0
        return [least, least + 30]
    if spec.kind not in VALUES:
        raise SystemExit(
            f"no valid value for {spec.parameter}; add its kind to VALUES in {__file__}"
        )
    return VALUES[spec.kind]


def shapes(spec: o.Option) -> bool:
    """Whether the option's value can add or remove resources (a Condition depends on it)."""
    return spec.kind.is_flag or spec.kind.optional or spec.kind.is_number


def choices(spec: o.Option) -> list[Any]:
    """Every value tried for one option: None (deploy time) first."""
    if spec.kind.is_flag:
        return [None, True, False]
    return [None, *([""] if spec.kind.optional else []), *values(spec)]


def spread(short: str) -> list[dict[str, Any]]:
    """Option settings for ``short``: see the module docstring."""
    specs = dict(o.option_fields(STACKS[short].options))
    out: list[dict[str, Any]] = [{}]
    for name, spec in specs.items():
        out += [{name: value} for value in choices(spec)[1:]]
    for flag in (True, False):
        for given in (True, False):
            settings: dict[str, Any] = {}
            for name, spec in specs.items():
                if spec.kind.is_flag:
                    settings[name] = flag
                else:
                    settings[name] = values(spec)[-1] if given or not spec.kind.optional else ""
            out.append(settings)
    return out


def templates() -> dict[str, dict[str, Any]]:
    """File name -> template dict, for every distinct template of the spread."""
    out: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for short, target in STACKS.items():
        for i, settings in enumerate(spread(short)):
            template = target.build(target.options(**settings)).to_dict()
            text = json.dumps(template, sort_keys=True)
            if text not in seen:
                seen.add(text)
                out[f"{short}-{i:03d}.yaml"] = template
    return out


def unjustified(template: dict[str, Any]) -> list[str]:
    """The template's checkov suppressions that do not say why."""
    return [
        f"{logical} {skip.get('id')}: {skip.get('comment')!r}"
        for logical, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        if len(str(skip.get("comment") or "").strip()) < MIN_REASON
    ]


def declared(template: dict[str, Any]) -> dict[str, list[str]]:
    """Each resource's logical ID -> the checkov checks its Metadata says to skip."""
    return {
        logical: [
            str(skip.get("id"))
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        ]
        for logical, resource in template["Resources"].items()
    }


def environment(home: str) -> dict[str, str]:
    """All checkov's environment: nothing of ours (no CKV_*, BC_*, PYTHON*...), and an
    empty ``home`` (no ~/.checkov.yaml)."""
    return {"PATH": os.defpath, "HOME": home, "LANG": "C.UTF-8"}


def checkov_directory(
    checkov: str, directory: Path, skips: dict[str, dict[str, list[str]]]
) -> list[str]:
    """Findings of checkov on every template in ``directory``, whose resources and declared
    skips ``skips`` gives (file name -> ``declared``): failed checks, skips no Metadata
    declares, files it could not parse, resources it did not see."""
    with tempfile.TemporaryDirectory(prefix="checkov-home-") as home:
        result = subprocess.run(
            [
                checkov,
                *("-d", str(directory), "--framework", "cloudformation"),
                # not --quiet: that leaves the skipped checks out of the report
                *("--skip-download", "--output", "json", "--compact"),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=directory,  # holds only the templates: no .checkov.yaml
            env=environment(home),
        )
    try:
        reports = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        reports = []
    reports = reports if isinstance(reports, list) else [reports]
    if result.returncode not in (0, 1) or not reports:
        return [f"{directory.name}: checkov did not run: {result.stderr.strip()[-2000:]}"]
    found: list[str] = []
    seen = 0
    for report in reports:
        summary = report.get("summary", {})
        seen += summary.get("resource_count", 0)
        if summary.get("parsing_errors"):
            found.append(f"{directory.name}: checkov could not parse {summary['parsing_errors']}")
        results = report.get("results", {})
        for check in results.get("failed_checks", []):
            name = check["file_path"].lstrip("/")
            found.append(f"{name}: {check['check_id']} {check['resource']}")
        for check in results.get("skipped_checks", []):
            name = check["file_path"].lstrip("/")
            logical = str(check["resource"]).rpartition(".")[2]
            if check["check_id"] not in skips.get(name, {}).get(logical, []):
                found.append(
                    f"{name}: {check['check_id']} {check['resource']} skipped, but its "
                    "Metadata declares no such skip"
                )
    resources = sum(len(resources) for resources in skips.values())
    if seen != resources:
        found.append(f"{directory.name}: checkov saw {seen} resources of {resources}")
    return found


def executable(name: str) -> str:
    """``name``'s absolute path: checkov runs from another directory, so a relative path
    such as ``.venv-checkov/bin/checkov`` would not be found there."""
    found = shutil.which(name)
    if found is None:
        raise argparse.ArgumentTypeError(f"{name}: no such executable")
    return os.path.abspath(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkov", default="checkov", type=executable, help="the checkov executable"
    )
    parser.add_argument("--cache", type=Path, help="directory remembering clean runs")
    parser.add_argument(
        "--key", type=Path, action="append", default=[], help="a file the result depends on"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    rendered = templates()
    texts = {name: to_yaml(template) for name, template in rendered.items()}
    clean = remembered(args.cache, [Path(__file__), *args.key], texts, args.checkov)
    if clean is not None and clean.exists():
        print(
            f"checkov: {len(rendered)} templates, 0 findings (a clean run of the same "
            f"templates, checks and checkov: {clean.name[:12]})"
        )
        return 0
    problems = [
        f"{n}: suppression without a reason: {u}"
        for n, t in rendered.items()
        for u in unjustified(t)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in texts.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        skips = {name: declared(template) for name, template in rendered.items()}
        problems += checkov_directory(args.checkov, Path(tmp), skips)
    for line in problems:
        print(line, file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(f"checkov: {len(rendered)} templates, {len(problems)} findings ({elapsed:.1f} s)")
    if clean is not None and not problems:
        clean.parent.mkdir(parents=True, exist_ok=True)
        clean.touch()
    return 1 if problems else 0


def remembered(
    cache: Path | None, keys: list[Path], texts: dict[str, str], checkov: str
) -> Path | None:
    """The file that marks a clean run of ``texts`` by ``checkov`` with ``keys`` as they
    are, or None."""
    if cache is None:
        return None
    digest = hashlib.sha256()
    for part in [
        checkov.encode(),
        *(k.read_bytes() for k in keys),
        *(f"{n}\0{t}".encode() for n, t in texts.items()),
    ]:
        digest.update(hashlib.sha256(part).digest())
    return cache / f"{digest.hexdigest()}.clean"


if __name__ == "__main__":
    sys.exit(main())
