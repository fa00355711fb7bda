"""Run checkov on every template this project emits for a spread of build-time options.

checkov lives in its own virtual environment (it pins old boto3), so it runs as a separate
process on a directory of rendered templates. A failed check fails the run; a suppression
is accepted only if it is written on the resource with a comment saying why.

    python scripts/checkov_templates.py --checkov .venv-checkov/bin/checkov
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from clazar_templates import CosellOptions, MarketplaceOptions, build_cosell, build_marketplace
from clazar_templates.render import to_yaml

MARKETPLACE = {
    "allow_marketplace_access": [None, True, False],
    "enable_cas": [None, True, False],
    "cas_bucket_name": ["", "old-cas-bucket"],
    "sdds_sns_topic_arn": ["", "arn:aws:sns:us-east-1:111122223333:old-sdds"],
    "sdds_bucket_name": ["", "old-sdds-bucket"],
}
COSELL = {
    "existing_sandbox_role": [None, "", "SellerSandbox"],
    "existing_production_role": [None, "", "arn:aws:iam::111122223333:role/p/Prod"],
}


def variants() -> dict[str, str]:
    """File name -> template text, for every combination above."""
    out = {}
    for stack, options, build, choices in (
        ("marketplace", MarketplaceOptions, build_marketplace, MARKETPLACE),
        ("cosell", CosellOptions, build_cosell, COSELL),
    ):
        for i, values in enumerate(itertools.product(*choices.values())):
            chosen = dict(zip(choices, values, strict=True))
            out[f"{stack}-{i:03d}.yaml"] = to_yaml(build(options(**chosen)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", default="checkov", help="the checkov executable")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in variants().items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        result = subprocess.run(
            [
                args.checkov,
                "-d",
                tmp,
                "--framework",
                "cloudformation",
                "--skip-download",
                "--output",
                "json",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        count = len(list(Path(tmp).iterdir()))
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed: list[str] = []
    unjustified: list[str] = []
    for report in reports:
        results: dict[str, Any] = report.get("results", {})
        for check in results.get("failed_checks", []):
            failed.append(f"{check['file_path']}: {check['check_id']} {check['resource']}")
        for check in results.get("skipped_checks", []):
            comment = (check.get("check_result") or {}).get("suppress_comment") or ""
            if len(comment.strip()) < 20:
                unjustified.append(f"{check['check_id']} {check['resource']}: {comment!r}")
    if result.returncode not in (0, 1) or not reports:
        print(result.stderr, file=sys.stderr)
        return 2
    for line in failed + [f"suppression without a reason: {u}" for u in unjustified]:
        print(line, file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(
        f"checkov: {count} templates, {len(failed)} failed checks, "
        f"{len(unjustified)} unjustified suppressions ({elapsed:.1f} s)"
    )
    return 1 if failed or unjustified else 0


if __name__ == "__main__":
    sys.exit(main())
