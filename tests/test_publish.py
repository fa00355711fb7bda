"""Publishing against moto's server: objects, keys, metadata, immutability, idempotence."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import boto3
import pytest
from cfnlint.decode.decode import decode_str
from click.testing import CliRunner

from clazar_templates import launch_url, publish, to_yaml
from clazar_templates.aws.publishing import CONTENT_TYPE, PublishError
from clazar_templates.cli import cli
from clazar_templates.stacks import STACKS
from clazar_templates.template import render
from clazar_templates.template.render import Finding

pytest_plugins = ["moto_server"]  # the aws_endpoint fixture

BUCKET = "clazar-templates-test"
VERSION = "2.3.4"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def linted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text publish lints. cfn-lint itself (0.6 s a template) is tested elsewhere;
    here a finding is planted where a test needs one."""
    texts: list[str] = []

    def lint(text: str, *args: Any) -> list[Finding]:
        texts.append(text)
        return []

    monkeypatch.setattr(render, "lint", lint)
    return texts


@pytest.fixture
def s3(aws_endpoint: str) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def keys(s3: Any, bucket: str = BUCKET) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def expected_text(version: str, short: str) -> str:
    target = STACKS[short]
    return to_yaml(target.build(target.options(version=version)))


def expected_keys(version: str, prefix: str = "templates") -> list[str]:
    return sorted(
        f"{prefix}/{alias}/{target.name}.yaml"
        for target in STACKS.values()
        for alias in (version, "latest")
    )


def put_requests(client: Any) -> list[dict[str, Any]]:
    """Record the headers of every PutObject ``client`` sends."""
    sent: list[dict[str, Any]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append({k.lower(): v for k, v in request.headers.items()})

    client.meta.events.register("before-send.s3.PutObject", record)
    return sent


def test_publishes_every_template_as_version_and_latest(s3: Any, linted: list[str]) -> None:
    lines: list[str] = []
    published = publish(BUCKET, version=VERSION, progress=lines.append)
    assert sorted(linted) == sorted(expected_text(VERSION, short) for short in STACKS)
    assert keys(s3) == expected_keys(VERSION)
    assert sorted(o.key for o in published) == expected_keys(VERSION)
    assert {o.action for o in published} == {"upload"}
    for target in STACKS.values():
        text = expected_text(VERSION, target.short)
        for alias in (VERSION, "latest"):
            key = f"templates/{alias}/{target.name}.yaml"
            got = s3.get_object(Bucket=BUCKET, Key=key)
            body = got["Body"].read().decode()
            assert body == text
            assert got["ContentType"] == CONTENT_TYPE
            assert got["Metadata"] == {"template-version": VERSION}  # content is not trusted
            assert f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{key}" in [
                o.url for o in published
            ]
            assert f"uploaded s3://{BUCKET}/{key}" in lines
        template, errors = decode_str(text)
        assert not errors
        assert template["Metadata"]["Clazar"]["Version"] == VERSION
        assert template["Description"].endswith(f"({target.name} {VERSION})")


def test_uploads_carry_a_checksum_s3_verifies(s3: Any) -> None:
    client = boto3.client("s3")
    sent = put_requests(client)
    publish(BUCKET, version=VERSION, client=client)
    assert len(sent) == len(expected_keys(VERSION))
    bodies = {expected_text(VERSION, short).encode() for short in STACKS}
    checksums = {base64.b64encode(hashlib.sha256(body).digest()).decode() for body in bodies}
    assert {h["x-amz-checksum-sha256"].decode() for h in sent} == checksums


def test_versioned_keys_are_written_before_latest(s3: Any) -> None:
    client = boto3.client("s3")
    order: list[str] = []
    client.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: order.append(params["Key"])
    )
    publish(BUCKET, version=VERSION, client=client)
    aliases = [key.split("/")[1] for key in order]
    assert aliases == sorted(aliases, key=lambda alias: alias == "latest")
    assert aliases.count("latest") == len(STACKS)


def test_second_publish_changes_nothing(s3: Any) -> None:
    publish(BUCKET, version=VERSION)
    before = {k: s3.head_object(Bucket=BUCKET, Key=k)["LastModified"] for k in keys(s3)}
    client = boto3.client("s3")
    sent = put_requests(client)
    again = publish(BUCKET, version=VERSION, client=client)
    assert {o.action for o in again} == {"unchanged"}
    assert sent == []
    after = {k: s3.head_object(Bucket=BUCKET, Key=k)["LastModified"] for k in keys(s3)}
    assert after == before


def test_a_published_version_never_changes(s3: Any) -> None:
    """Different content under an existing version: refused, and nothing at all uploaded."""
    planted = f"templates/{VERSION}/{STACKS['cosell'].name}.yaml"
    s3.put_object(Bucket=BUCKET, Key=planted, Body=b"something else")
    with pytest.raises(PublishError, match="already published with different content") as raised:
        publish(BUCKET, version=VERSION)
    assert planted in str(raised.value)
    assert "nothing was uploaded" in str(raised.value)
    assert keys(s3) == [planted]
    assert s3.get_object(Bucket=BUCKET, Key=planted)["Body"].read() == b"something else"


def test_the_same_content_from_another_tool_is_recognised(s3: Any) -> None:
    """An object without this tool's metadata is compared by content, not refused."""
    key = f"templates/{VERSION}/{STACKS['cosell'].name}.yaml"
    s3.put_object(Bucket=BUCKET, Key=key, Body=expected_text(VERSION, "cosell").encode())
    published = {o.key: o.action for o in publish(BUCKET, version=VERSION)}
    assert published[key] == "unchanged"
    assert keys(s3) == expected_keys(VERSION)


def test_a_new_version_moves_latest_and_keeps_the_old(s3: Any) -> None:
    publish(BUCKET, version="1.0.0")
    published = publish(BUCKET, version="1.1.0")
    assert keys(s3) == sorted({*expected_keys("1.0.0"), *expected_keys("1.1.0")})
    assert {o.version: o.action for o in published} == {"1.1.0": "upload", "latest": "upload"}
    for target in STACKS.values():
        latest = s3.get_object(Bucket=BUCKET, Key=f"templates/latest/{target.name}.yaml")
        assert latest["Body"].read().decode() == expected_text("1.1.0", target.short)
        old = s3.get_object(Bucket=BUCKET, Key=f"templates/1.0.0/{target.name}.yaml")
        assert old["Body"].read().decode() == expected_text("1.0.0", target.short)


def test_dry_run_reads_but_writes_nothing(s3: Any) -> None:
    lines: list[str] = []
    plan = publish(BUCKET, version=VERSION, dry_run=True, progress=lines.append)
    assert keys(s3) == []
    assert sorted(o.key for o in plan) == expected_keys(VERSION)
    assert {o.action for o in plan} == {"upload"}
    assert sum(line.startswith("would upload s3://") for line in lines) == len(plan)


def test_region_and_prefix_shape_the_urls(aws_endpoint: str) -> None:
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(
        Bucket="eu-templates", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    published = publish("eu-templates", prefix="/cfn/prod/", version=VERSION)
    assert keys(s3, "eu-templates") == expected_keys(VERSION, prefix="cfn/prod")
    for obj in published:
        assert obj.url == f"https://eu-templates.s3.eu-west-1.amazonaws.com/{obj.key}"
        link = launch_url(
            obj.template,
            bucket="eu-templates",
            prefix="cfn/prod",
            version=obj.version,
            bucket_region="eu-west-1",
        )
        assert obj.url.replace(":", "%3A").replace("/", "%2F") in link


def test_lint_findings_stop_the_publish(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "lint", lambda text, *a: [Finding("W1234", "planted", 3)])
    with pytest.raises(PublishError, match="W1234 line 3: planted") as raised:
        publish(BUCKET, version=VERSION)
    assert "nothing was uploaded" in str(raised.value)
    assert keys(s3) == []


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"bucket": "Not_A_Bucket"}, "bucket"),
        ({"prefix": "a//b"}, "prefix"),
        ({"version": "latest"}, "version"),
        ({"version": "1.0 beta"}, "version"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(arguments: dict[str, str], field: str) -> None:
    call = {"bucket": BUCKET, "version": VERSION, **arguments}
    with pytest.raises(PublishError) as raised:
        publish(call.pop("bucket"), client=object(), **call)  # a client that cannot be called
    assert raised.value.field == field


# --- the command ------------------------------------------------------------------------


def test_command_prints_each_url(s3: Any) -> None:
    result = CliRunner().invoke(cli, ["publish", "--bucket", BUCKET, "--version", VERSION])
    assert result.exit_code == 0, result.output
    urls = [line.split()[-1] for line in result.stdout.splitlines()]
    assert sorted(urls) == [
        f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{key}" for key in expected_keys(VERSION)
    ]
    assert all(line.startswith("upload ") for line in result.stdout.splitlines())
    assert "linted" in result.stderr
    again = CliRunner().invoke(cli, ["publish", "--bucket", BUCKET, "--version", VERSION])
    assert all(line.startswith("unchanged ") for line in again.stdout.splitlines())


def test_command_dry_run_prints_the_plan(s3: Any) -> None:
    result = CliRunner().invoke(
        cli, ["publish", "--bucket", BUCKET, "--version", VERSION, "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(expected_keys(VERSION))
    assert all(line.startswith("would upload ") for line in result.stdout.splitlines())
    assert keys(s3) == []


def test_command_conflict_exits_1(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"templates/{VERSION}/clazar-marketplace.yaml", Body=b"x")
    result = CliRunner().invoke(cli, ["publish", "--bucket", BUCKET, "--version", VERSION])
    assert result.exit_code == 1
    assert "already published with different content" in result.output
    assert len(keys(s3)) == 1


def test_command_bad_input_exits_2_naming_the_option() -> None:
    result = CliRunner().invoke(cli, ["publish", "--bucket", "Bad_Bucket"])
    assert result.exit_code == 2
    assert "--bucket" in result.output
    assert "not an S3 bucket name" in result.output
    missing = CliRunner().invoke(cli, ["publish"])
    assert missing.exit_code == 2
    assert "--bucket" in missing.output


def test_command_reports_a_missing_bucket(aws_endpoint: str) -> None:
    result = CliRunner().invoke(cli, ["publish", "--bucket", "no-such-bucket", "--region",
                                      "us-east-1"])  # fmt: skip
    assert result.exit_code == 1
    assert "S3:" in result.output
