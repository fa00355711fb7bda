"""The tools under faults (issue 15, items 9-12): bad input, and S3 failing or lying.

moto's server stands in for S3; failures are injected by patching the client call that
fails (the Nth upload, the rollback), and overwritten objects are planted with boto3.
Nothing here waits on a real network: every endpoint is 127.0.0.1 and calls fail fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clazar_templates import launch_url, options
from clazar_templates.cli import cli
from clazar_templates.launch import LaunchError
from clazar_templates.publishing import PublishError, check_location
from clazar_templates.stacks import STACKS
from clazar_templates.stacksets import StackSetError, stackset_plan
from support import DEPLOY_VALUES

# --- item 12: a trailing newline or a dot segment is never accepted -------------------

NEWLINE = "\n"


@pytest.mark.parametrize(
    ("bucket", "prefix", "version", "field"),
    [
        ("my-bucket" + NEWLINE, "templates", "1.0.0", "bucket"),
        ("my-bucket", "templates" + NEWLINE, "1.0.0", "prefix"),
        ("my-bucket", "templates", "1.0.0" + NEWLINE, "version"),
        ("my-bucket", "..", "1.0.0", "prefix"),
        ("my-bucket", "templates/../other", "1.0.0", "prefix"),
        ("my-bucket", "./templates", "1.0.0", "prefix"),
        ("my-bucket", "templates", "..", "version"),
        ("my-bucket", "templates", ".", "version"),
    ],
)
def test_publish_locations_refuse_newlines_and_dot_segments(
    bucket: str, prefix: str, version: str, field: str
) -> None:
    with pytest.raises(PublishError) as raised:
        check_location(bucket, prefix, version)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


def test_dotted_names_that_are_not_segments_stay_valid() -> None:
    check_location("my.bucket", "cfn/v1.2", "1.2.0-rc.1")
    check_location("my-bucket", "a..b/c.d", "1..2")  # dots inside a segment are plain text


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"bucket_region": "us-east-1" + NEWLINE}, "bucket_region"),
        ({"region": "eu-west-1" + NEWLINE}, "region"),
        ({"stack_name": "Clazar" + NEWLINE}, "stack_name"),
        ({"bucket": "clazar-templates" + NEWLINE}, "bucket"),
        ({"prefix": "cfn" + NEWLINE}, "prefix"),
        ({"version": "1.0.0" + NEWLINE}, "version"),
        ({"prefix": "..", "version": ".."}, "prefix"),
    ],
)
def test_launch_links_refuse_newlines_and_dot_segments(
    arguments: dict[str, str], field: str
) -> None:
    call = {"bucket": "clazar-templates", **arguments}
    with pytest.raises(LaunchError) as raised:
        launch_url("marketplace", **call)  # type: ignore[arg-type]
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clazar_account_id", "999988887777" + NEWLINE),
        ("external_id", "clazar-external-id" + NEWLINE),
        ("role_name", "ClazarRole" + NEWLINE),
        ("cas_bucket_name", "seller-bucket" + NEWLINE),
        ("sdds_sns_topic_arn", "arn:aws:sns:us-east-1:111122223333:feed" + NEWLINE),
        ("clazar_account_uid", "acct_1" + NEWLINE),
        ("version", "1.0.0" + NEWLINE),
        ("api_url", "https://api.clazar.io/report" + NEWLINE),
    ],
)
def test_options_refuse_a_trailing_newline(field: str, value: str) -> None:
    with pytest.raises(options.OptionError) as raised:
        options.MarketplaceOptions(**{field: value})
    assert raised.value.field == field


@pytest.mark.parametrize(
    "value", ["SandboxRole" + NEWLINE, "arn:aws:iam::111122223333:role/Sandbox" + NEWLINE]
)
def test_existing_roles_refuse_a_trailing_newline(value: str) -> None:
    with pytest.raises(options.OptionError):
        options.CosellOptions(existing_sandbox_role=value)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"stack_set_name": "clazar" + NEWLINE}, "--name"),
        ({"max_concurrent": "²"}, "--max-concurrent"),  # str.isdigit() says yes, int() no
        ({"failure_tolerance": "\u0661"}, "--failure-tolerance"),  # Arabic-Indic one
    ],
)
def test_stackset_plans_refuse_newlines_and_non_ascii_digits(
    arguments: dict[str, Any], field: str
) -> None:
    call: dict[str, Any] = {
        "org_units": ["ou-ab12-abcdefgh"],
        "regions": ["us-east-1"],
        "params": {k: v for k, v in DEPLOY_VALUES.items() if k != "ClazarSecretKey"},
        **arguments,
    }
    with pytest.raises(StackSetError) as raised:
        stackset_plan(STACKS["cosell"], **call)
    assert raised.value.field == field


def test_the_publish_command_refuses_dot_segments_in_one_line() -> None:
    result = CliRunner().invoke(
        cli, ["publish", "--bucket", "my-bucket", "--prefix", "..", "--version", ".."]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.startswith("Error")] == [
        "Error: Invalid value for --prefix: '..' is not valid; expected path "
        "segments of letters, digits and !_.*'()- separated by /, none of them . or .."
    ]


def test_diff_of_published_versions_refuses_dot_segments_before_reading_s3() -> None:
    result = CliRunner().invoke(cli, ["diff", "1.0.0", "..", "--bucket", "my-bucket"])
    assert result.exit_code == 2, result.output
    assert result.output == "Error: version: '..' is a path segment, not a version\n"


def test_no_partial_match_is_left_in_the_source() -> None:
    """Every check of a value against a pattern goes through patterns.fullmatch: no
    ``re.match`` (anchored at the start only) is left. The reporter's handler, which ships
    standard-library only and matches URL prefixes on purpose, is its owners' to change."""
    source = Path(__file__).resolve().parents[1] / "src" / "clazar_templates"
    partial = re.compile(r"\bre\.match\(|\b[A-Za-z_]+\.match\(")
    found = [
        f"{path.relative_to(source)}:{number}"
        for path in sorted(source.rglob("*.py"))
        if path.name != "handler.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if partial.search(line)
    ]
    assert found == []
