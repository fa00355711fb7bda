"""Regions (issue 24, items 13-14): exactly the regions botocore's partition data knows are
accepted, by every command that takes one; an unknown one is a usage error naming the
option; and the region decides the partition."""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import pytest
from botocore.session import get_session
from click.testing import CliRunner

from clazar_templates.cli import cli
from clazar_templates.options import PARTITIONS
from clazar_templates.patterns import region_partition, region_problem

TEMPLATE = str(Path(__file__).resolve().parents[1] / "templates" / "clazar-cosell.yaml")


def botocore_regions() -> dict[str, str]:
    """This test's own reading of botocore's partitions.json: region -> partition."""
    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    return {
        region: p["id"]
        for p in data["partitions"]
        for region in p["regions"]
        if not region.endswith("-global")  # aws-global, aws-cn-global: not regions
    }


def test_every_region_botocore_knows_is_accepted_in_its_partition() -> None:
    known = botocore_regions()
    assert {"eusc-de-east-1", "us-gov-west-1", "cn-north-1", "us-east-1"} <= set(known)
    session = get_session()
    for region, partition in known.items():
        assert region_problem(region) is None, region
        assert region_partition(region) == partition == session.get_partition_for_region(region)
    assert set(PARTITIONS) == set(known.values())


@pytest.mark.parametrize(
    "value", ["ue-east-1", "us-east-9", "aws-global", "us-east-1\n", "US-EAST-1", "", None]
)
def test_anything_else_is_refused(value: object) -> None:
    assert region_problem(value) is not None


BAD = "ue-east-1"  # well formed, unknown
COMMANDS = {
    "deployer-policy": ["deployer-policy", "marketplace", "--region", BAD],
    "check": ["check", "--stack", "clazar", "--region", BAD],
    "upgrade": ["upgrade", "--stack", "clazar", "--to", "1.0.0", "--region", BAD],
    "diff": ["diff", TEMPLATE, TEMPLATE, "--region", BAD],
    "launch-url": ["launch-url", "marketplace", "--bucket", "clazar-templates", "--region", BAD],
    "publish": ["publish", "--bucket", "clazar-templates", "--region", BAD, "--dry-run"],
    "stackset-plan": [
        "stackset-plan",
        "cosell",
        "--org-unit",
        "ou-ab12-abcdefgh",
        "--regions",
        BAD,
    ],
}


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS)
def test_an_unknown_region_is_a_usage_error_naming_the_option(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")  # nothing may reach AWS: refused before
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "--region" in result.output
    assert f"'{BAD}' is an unknown region" in result.output
    assert "Traceback" not in result.output


GOV_TOPIC = "arn:aws-us-gov:sns:us-gov-west-1:444455556666:seller-cas"


def test_the_region_decides_the_deployer_policys_partition() -> None:
    args = ["deployer-policy", "marketplace", "--region", "us-gov-west-1"]
    args += ["--set", "enable_event_bridge=false"]  # EventBridge: us-east-1 only
    result = CliRunner().invoke(cli, [*args, "--set", f"cas_sns_topic_arn={GOV_TOPIC}"])
    assert result.exit_code == 0, result.output
    statements = json.loads(result.stdout)["Statement"]
    assert all(
        r == "*" or r.startswith("arn:aws-us-gov:")
        for st in statements
        for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    )
    same = CliRunner().invoke(cli, [*args, "--set", "partition=aws-us-gov"])
    assert same.exit_code == 0, same.output


def test_a_partition_conflicting_with_the_region_is_a_usage_error() -> None:
    args = ["deployer-policy", "marketplace", "--region", "us-east-1"]
    result = CliRunner().invoke(cli, [*args, "--set", "partition=aws-us-gov"])
    assert result.exit_code == 2
    assert "--set" in result.output
    assert (
        "partition=aws-us-gov conflicts with --region us-east-1, which is in aws" in result.output
    )


def test_a_region_of_the_eusc_partition_is_accepted() -> None:
    args = ["deployer-policy", "cosell", "--region", "eusc-de-east-1"]
    result = CliRunner().invoke(cli, [*args, "--set", "enable_event_bridge=false"])
    assert result.exit_code == 0, result.output
    assert "arn:aws-eusc:cloudformation:eusc-de-east-1:" in result.stdout
