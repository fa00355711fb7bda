"""Launch links: parsed back and compared field by field; refused values never make a link."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from clazar_templates import launch_url
from clazar_templates.aws.launch import LaunchError
from clazar_templates.cli import cli
from clazar_templates.stacks import STACKS, Stack


def parse(url: str) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """(origin, path, query, fragment query) of a quick-create URL, every key once."""
    parts = urlsplit(url)
    route, _, fragment_query = parts.fragment.partition("?")
    assert route == "/stacks/quickcreate"
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    fields = parse_qs(fragment_query, keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in [*query.values(), *fields.values()]), "a repeated key"
    single = {k: v[0] for k, v in fields.items()}
    return (
        f"{parts.scheme}://{parts.netloc}",
        parts.path,
        {k: v[0] for k, v in query.items()},
        single,
    )


def declared(stack: Stack) -> dict[str, Any]:
    return dict(stack.build().to_dict()["Parameters"])


def test_fields_round_trip() -> None:
    external_id = "a+b=c,d.e@f:g/h-i_j"  # every character the pattern allows beyond alnum
    url = launch_url(
        "marketplace",
        bucket="clazar-templates",
        prefix="cfn/prod",
        version="1.4.0",
        bucket_region="eu-west-1",
        params={"ExternalId": external_id, "AllowMarketplaceAccess": "true", "CasBucketName": ""},
        stack_name="Clazar-Seller-1",
        region="us-west-2",
    )
    origin, path, query, fields = parse(url)
    assert (origin, path, query) == (
        "https://console.aws.amazon.com",
        "/cloudformation/home",
        {"region": "us-west-2"},
    )
    assert fields == {
        "templateURL": "https://clazar-templates.s3.eu-west-1.amazonaws.com/"
        "cfn/prod/1.4.0/clazar-marketplace.yaml",
        "stackName": "Clazar-Seller-1",
        "param_ExternalId": external_id,
        "param_AllowMarketplaceAccess": "true",
        "param_CasBucketName": "",
    }


def test_defaults_are_latest_template_name_and_bucket_region() -> None:
    _, _, query, fields = parse(launch_url("cosell", bucket="b-1", bucket_region="eu-central-1"))
    assert query == {"region": "eu-central-1"}
    assert fields == {
        "templateURL": "https://b-1.s3.eu-central-1.amazonaws.com/templates/latest/clazar-cosell.yaml",
        "stackName": "clazar-cosell",
    }


def test_params_follow_the_templates_order() -> None:
    names = [p for p, spec in declared(STACKS["marketplace"]).items() if not spec.get("NoEcho")]
    specs = declared(STACKS["marketplace"])
    given = {name: str(specs[name].get("Default", "")) for name in reversed(names)}
    given.update(ClazarAccountId="999988887777", ExternalId="ext-id", ClazarAccountUid="u1")
    _, _, _, fields = parse(launch_url("marketplace", bucket="b-1", params=given))
    assert [k.removeprefix("param_") for k in fields if k.startswith("param_")] == names


@pytest.mark.parametrize("short", list(STACKS))
def test_no_echo_parameters_are_refused_with_the_reason(short: str) -> None:
    secrets = [p for p, spec in declared(STACKS[short]).items() if spec.get("NoEcho")]
    assert secrets
    for name in secrets:
        with pytest.raises(LaunchError, match="NoEcho") as raised:
            launch_url(short, bucket="b-1", params={name: "a-very-secret-value-123"})
        assert raised.value.field == "param"
        assert "browser history" in str(raised.value)
        assert "a-very-secret-value-123" not in str(raised.value)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"Colour": "blue"}, "has no parameter 'Colour'; it has ClazarAccountId, ExternalId"),
        ({"AllowMarketplaceAccess": "yes"}, "expected one of true, false"),
        ({"ClazarAccountId": "12345"}, "must be a 12-digit AWS account ID"),
        ({"ExternalId": "x"}, "at least 2 characters"),
        ({"ExternalId": "x" * 1225}, "at most 1224 characters"),
        ({"ExternalId": "has space"}, "must be 2-1224 characters"),
        ({"CasBucketName": "Not_A_Bucket"}, "must be empty, or an S3 bucket name"),
    ],
)
def test_values_the_template_rejects_are_refused(params: dict[str, str], expected: str) -> None:
    with pytest.raises(LaunchError, match=expected) as raised:
        launch_url("marketplace", bucket="b-1", params=params)
    assert raised.value.field == "param"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"stack": "nope"}, "stack"),
        ({"stack_name": "1-starts-with-a-digit"}, "stack_name"),
        ({"stack_name": "has_underscore"}, "stack_name"),
        ({"region": "mars-1"}, "region"),
        ({"bucket_region": "EU"}, "bucket_region"),
        ({"bucket": "Bad_Bucket"}, "bucket"),
        ({"prefix": "a//b"}, "prefix"),
        ({"version": "1.0 beta"}, "version"),
    ],
)
def test_bad_arguments_name_the_field(arguments: dict[str, str], field: str) -> None:
    call: dict[str, Any] = {"stack": "cosell", "bucket": "b-1", **arguments}
    with pytest.raises(LaunchError) as raised:
        launch_url(call.pop("stack"), **call)
    assert raised.value.field == field


def test_china_regions_open_the_china_console() -> None:
    origin, _, query, fields = parse(launch_url("cosell", bucket="b-1", bucket_region="cn-north-1"))
    assert (origin, query) == ("https://console.amazonaws.cn", {"region": "cn-north-1"})
    assert fields["templateURL"].startswith("https://b-1.s3.cn-north-1.amazonaws.com.cn/")


def test_command_prints_the_link() -> None:
    result = CliRunner().invoke(
        cli,
        ["launch-url", "cosell", "--bucket", "b-1", "--version", "2.0.0",
         "--param", "ExternalId=ext=with=equals", "--stack-name", "co-sell"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    _, _, _, fields = parse(result.output.strip())
    assert fields["param_ExternalId"] == "ext=with=equals"
    assert fields["stackName"] == "co-sell"
    assert fields["templateURL"].endswith("/templates/2.0.0/clazar-cosell.yaml")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--param", "ClazarSecretKey=abcdefghijklmnop"], ["--param", "NoEcho", "cannot be"]),
        (["--param", "NoEqualsSign"], ["--param", "NAME=VALUE"]),
        (["--param", "Colour=blue"], ["--param", "no parameter 'Colour'"]),
        (["--stack-name", "9"], ["--stack-name", "starting with a letter"]),
        (["--bucket-region", "nowhere"], ["--bucket-region", "not an AWS region"]),
    ],
)
def test_command_refuses_with_exit_2(arguments: list[str], expected: list[str]) -> None:
    result = CliRunner().invoke(cli, ["launch-url", "marketplace", "--bucket", "b-1", *arguments])
    assert result.exit_code == 2
    assert [text for text in expected if text not in result.output] == []
    assert "https://" not in result.output


def test_command_refuses_an_unknown_stack() -> None:
    result = CliRunner().invoke(cli, ["launch-url", "nope", "--bucket", "b-1"])
    assert result.exit_code == 2
    assert "STACK" in result.output
    assert "expected one of marketplace, cosell" in result.output
