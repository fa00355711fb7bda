"""The tools under faults (issue 15, items 9-12): bad input, and S3 failing or lying.

moto's server stands in for S3; failures are injected by patching the client call that
fails (the Nth upload, the rollback), and overwritten objects are planted with boto3.
Nothing here waits on a real network: every endpoint is 127.0.0.1 and calls fail fast.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from click.testing import CliRunner

from clazar_templates import launch_url, options, publish, to_yaml
from clazar_templates.aws import checks
from clazar_templates.aws.launch import LaunchError
from clazar_templates.aws.publishing import PublishError, check_location, stored_sha256
from clazar_templates.aws.stacksets import StackSetError, stackset_plan
from clazar_templates.cli import cli
from clazar_templates.stacks import STACKS, stack
from clazar_templates.template import render
from reporter_support import FakeServer, Reply
from support import DEPLOY_VALUES

pytest_plugins = ["moto_server"]  # the aws_endpoint fixture
pytestmark = pytest.mark.slow  # moto servers and real-time timeouts: make test, not test-fast

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


# --- items 10 and 11: publish under S3 failures, and objects overwritten behind its back -

BUCKET = "clazar-templates-faults"


@pytest.fixture
def s3(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's S3 with an empty bucket; cfn-lint stubbed (publish lints every text, 0.6 s
    each, and lint findings are tested in test_publish)."""
    monkeypatch.setattr(render, "lint", lambda text, *args: [])
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@functools.cache
def text_of(version: str, template: str) -> bytes:
    target = stack(template)
    return to_yaml(target.build(target.options(version=version))).encode()


def latest(s3: Any) -> dict[str, bytes]:
    """Template name -> bytes of every object under latest/."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="templates/latest/").get("Contents", [])
    return {
        o["Key"].rsplit("/", 1)[-1].removesuffix(".yaml"): s3.get_object(
            Bucket=BUCKET, Key=o["Key"]
        )["Body"].read()
        for o in listed
    }


def version_of_latest(s3: Any) -> set[str]:
    """The versions latest/ holds, judged by content: one element when it is whole."""
    found = latest(s3)
    return {
        next((v for v in ("1.0.0", "1.1.0") if body == text_of(v, name)), "other")
        for name, body in found.items()
    } | ({"incomplete"} if found and set(found) != NAMES else set())


NAMES = {target.name for target in STACKS.values()}
UPLOADS = 2 * len(STACKS)  # each template under its version, then under latest/


def failing(client: Any, operation: str, calls: set[int]) -> list[str]:
    """Make the ``calls``-th (1-based) ``operation`` of ``client`` fail as a dropped
    connection does, before anything is sent; returns the keys of every attempt."""
    attempts: list[str] = []

    def fail(params: dict[str, Any], **_: Any) -> None:
        attempts.append(params["Key"])
        if len(attempts) in calls:
            raise EndpointConnectionError(endpoint_url=f"https://{BUCKET}.s3.amazonaws.com")

    client.meta.events.register(f"before-parameter-build.s3.{operation}", fail)
    return attempts


@pytest.mark.parametrize("nth", range(1, UPLOADS + 1))
def test_a_failed_upload_never_leaves_latest_mixed(s3: Any, nth: int) -> None:
    publish(BUCKET, version="1.0.0", client=s3)
    client = boto3.client("s3")
    attempts = failing(client, "PutObject", {nth})
    with pytest.raises(PublishError, match="failed") as raised:
        publish(BUCKET, version="1.1.0", client=client)
    assert "run publish again" in str(raised.value)
    assert version_of_latest(s3) == {"1.0.0"}, attempts
    assert latest(s3).keys() == NAMES
    publish(BUCKET, version="1.1.0", client=s3)  # the rerun finishes the switch
    assert version_of_latest(s3) == {"1.1.0"}


@pytest.mark.parametrize("nth", range(len(STACKS) + 1, UPLOADS + 1))
def test_a_failed_first_publish_leaves_latest_empty(s3: Any, nth: int) -> None:
    failing(client := boto3.client("s3"), "PutObject", {nth})
    with pytest.raises(PublishError, match="put back"):
        publish(BUCKET, version="1.0.0", client=client)
    assert latest(s3) == {}
    versioned = s3.list_objects_v2(Bucket=BUCKET, Prefix="templates/1.0.0/")["Contents"]
    assert len(versioned) == len(STACKS)  # kept: a published version never changes


def test_a_failed_rollback_says_latest_is_mixed_and_the_rerun_mends_it(s3: Any) -> None:
    publish(BUCKET, version="1.0.0", client=s3)
    client = boto3.client("s3")
    failing(client, "PutObject", {UPLOADS, UPLOADS + 1})  # the last upload, then its undo
    with pytest.raises(PublishError) as raised:
        publish(BUCKET, version="1.1.0", client=client)
    message = str(raised.value)
    assert "latest/ is now mixed" in message
    first = sorted(STACKS.values(), key=lambda t: t.name != "clazar-marketplace")[0].name
    assert f"templates/latest/{first}.yaml" in message
    assert version_of_latest(s3) == {"1.0.0", "1.1.0"}  # what the message says
    publish(BUCKET, version="1.1.0", client=s3)
    assert version_of_latest(s3) == {"1.1.0"}


def test_latest_changed_by_someone_else_during_the_switch_is_reported(s3: Any) -> None:
    publish(BUCKET, version="1.0.0", client=s3)
    client = boto3.client("s3")
    keys = failing(client, "PutObject", set())  # records, fails nothing

    def overwrite_after_the_last(**_: Any) -> None:
        if len(keys) == UPLOADS:  # another publisher writes between our writes and checks
            s3.put_object(Bucket=BUCKET, Key=keys[len(STACKS)], Body=b"another publish")

    client.meta.events.register("after-call.s3.PutObject", overwrite_after_the_last)
    with pytest.raises(PublishError, match="changed while this publish switched it") as raised:
        publish(BUCKET, version="1.1.0", client=client)
    assert keys[len(STACKS)] in str(raised.value)


def test_a_failed_read_back_says_the_switch_is_unverified(s3: Any) -> None:
    publish(BUCKET, version="1.0.0", client=s3)
    client = boto3.client("s3")
    puts = failing(client, "PutObject", set())  # records, fails nothing

    def unreachable_once_latest_moved(**_: Any) -> None:
        if any(key.startswith("templates/latest/") for key in puts):
            raise EndpointConnectionError(endpoint_url=f"https://{BUCKET}.s3.amazonaws.com")

    client.meta.events.register(
        "before-parameter-build.s3.HeadObject", unreachable_once_latest_moved
    )
    with pytest.raises(PublishError, match="reading them back failed"):
        publish(BUCKET, version="1.1.0", client=client)
    assert version_of_latest(s3) == {"1.1.0"}  # switched, only not verified


def test_the_command_reports_a_failed_switch_in_one_line(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(BUCKET, version="1.0.0", client=s3)
    real = boto3.client

    def client(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        failing(made, "PutObject", {UPLOADS})
        return made

    monkeypatch.setattr(boto3, "client", client)
    result = CliRunner().invoke(cli, ["publish", "--bucket", BUCKET, "--version", "1.1.0"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1
    assert "latest/ was put back" in errors[0]
    assert version_of_latest(s3) == {"1.0.0"}


def overwrite_keeping_metadata(s3: Any, key: str, body: bytes) -> None:
    """What anyone with write access can do: other bytes, the old object's metadata."""
    old = s3.head_object(Bucket=BUCKET, Key=key)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=old["Metadata"])
    assert s3.head_object(Bucket=BUCKET, Key=key)["Metadata"] == old["Metadata"]


def test_a_version_overwritten_with_copied_metadata_is_a_conflict(s3: Any) -> None:
    publish(BUCKET, version="1.0.0", client=s3)
    key = "templates/1.0.0/clazar-cosell.yaml"
    overwrite_keeping_metadata(s3, key, b"Resources: {}\n")
    with pytest.raises(PublishError, match="already published with different content") as raised:
        publish(BUCKET, version="1.0.0", client=s3)
    assert key in str(raised.value)


def test_latest_overwritten_with_copied_metadata_is_uploaded_again(s3: Any) -> None:
    publish(BUCKET, version="1.0.0", client=s3)
    key = "templates/latest/clazar-marketplace.yaml"
    overwrite_keeping_metadata(s3, key, b"Resources: {}\n")
    actions = {o.key: o.action for o in publish(BUCKET, version="1.0.0", client=s3)}
    assert actions[key] == "upload"
    assert version_of_latest(s3) == {"1.0.0"}


def test_same_bytes_with_any_metadata_are_unchanged(s3: Any) -> None:
    """Content decides, both ways: the same bytes under foreign metadata are left alone."""
    key = "templates/1.0.0/clazar-cosell.yaml"
    s3.put_object(
        Bucket=BUCKET, Key=key, Body=text_of("1.0.0", "cosell"), Metadata={"sha256": "0" * 64}
    )
    assert {o.key: o.action for o in publish(BUCKET, version="1.0.0", client=s3)}[
        key
    ] == "unchanged"


class HeadOnly:
    """An S3 client that answers HeadObject with ``head`` and GetObject with ``body``,
    counting the GetObjects (moto keeps no SHA-256 checksum, so real S3's answer is
    played here)."""

    def __init__(self, head: dict[str, Any], body: bytes) -> None:
        self.head, self.body, self.gets = head, body, 0

    def head_object(self, **_: Any) -> dict[str, Any]:
        return self.head

    def get_object(self, **_: Any) -> dict[str, Any]:
        self.gets += 1
        return {"Body": io.BytesIO(self.body)}


def sha256_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_s3s_full_object_checksum_is_trusted_over_metadata() -> None:
    body = b"Resources: {}\n"
    client = HeadOnly(
        {"ChecksumSHA256": sha256_b64(body), "Metadata": {"sha256": "0" * 64}}, b"unread"
    )
    assert stored_sha256(client, BUCKET, "k") == hashlib.sha256(body).hexdigest()
    assert client.gets == 0


@pytest.mark.parametrize(
    "head",
    [
        {"ChecksumSHA256": sha256_b64(b"part") + "-3", "ChecksumType": "COMPOSITE"},
        {"ChecksumCRC32": "NSRBwg=="},  # S3's default checksum for uploads without one
        {"Metadata": {"sha256": hashlib.sha256(b"copied").hexdigest()}},
    ],
    ids=["multipart", "crc32-only", "metadata-only"],
)
def test_without_a_full_object_sha256_the_bytes_decide(head: dict[str, Any]) -> None:
    client = HeadOnly(head, b"the bytes")
    assert stored_sha256(client, BUCKET, "k") == hashlib.sha256(b"the bytes").hexdigest()
    assert client.gets == 1


# --- item 9: check on bad input and failing endpoints: one line, never a traceback -------


def one_error(result: Any, code: int) -> str:
    """The single ``Error`` line of a command that exited with ``code``."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--stack", "clazar", "--region", "us east 1"], "--region: 'us east 1' is not"),
        (["--stack", "clazar", "--region", "us-east-1\n"], "--region: 'us-east-1\\n' is not"),
        (["--stack", ""], "--stack: '' is not a stack name"),
        (["--stack", "clazar\n"], "--stack: 'clazar\\n' is not a stack name"),
        (["--stack", "no spaces"], "--stack: 'no spaces' is not a stack name"),
        (["--stack", "clazar", "--vendor-profile", "nobody"], "--vendor-profile: "),
        (["--stack", "clazar", "--bucket", "Bad_Bucket"], "--bucket: "),
        (["--stack", "clazar", "--bucket", "b-1", "--prefix", ".."], "--prefix: "),
    ],
)
def test_check_refuses_bad_input_in_one_line(aws_endpoint: str, args: list[str], says: str) -> None:
    result = CliRunner().invoke(cli, ["check", *args])
    assert one_error(result, 2).startswith(f"Error: {says}")
    assert result.output.count("\n") == 1  # nothing but that line


def test_check_names_a_bad_configured_region_and_profile(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us east 1")
    result = CliRunner().invoke(cli, ["check", "--stack", "clazar"])
    assert "your AWS configuration" in one_error(result, 2)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    result = CliRunner().invoke(cli, ["check", "--stack", "clazar"])
    assert "nobody" in one_error(result, 2)


def test_a_stack_that_does_not_exist_is_one_line(aws_endpoint: str) -> None:
    result = CliRunner().invoke(cli, ["check", "--stack", "no-such-stack"])
    lines = result.output.splitlines()
    assert lines == [
        "FAIL stack: no stack named no-such-stack exists in us-east-1",
        "Error: stack: no stack named no-such-stack exists in us-east-1",
    ]
    assert result.exit_code == 1


class Hangup:
    """A TCP server on 127.0.0.1 that accepts each connection and closes it unanswered."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            connection.close()

    def __enter__(self) -> Hangup:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.socket.close()


# The fake servers below answer from a thread of this process in milliseconds (measured alone:
# the whole failing `check` takes 0.06-0.4 s); 1 s holds with two CPU-bound processes and the
# other xdist worker on two cores, where a thread blocked on a socket still runs within tens
# of milliseconds. Each case asserts its own error, so an answer slower than this would fail
# as a "Read timeout", never pass for the wrong reason.
READ_TIMEOUT = 1.0
# A hanging server answers after HANG s: a check that waited for the answer would take that
# long; one that gives up takes READ_TIMEOUT plus under a second (0.6 s alone). The bound,
# half of HANG, leaves a factor of ~20 for a loaded machine.
HANG = 120.0


@pytest.fixture
def fast_failing_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """check's clients with one attempt and a read timeout of READ_TIMEOUT (the defaults retry
    and wait, as they should against AWS)."""
    monkeypatch.setattr(
        checks,
        "CLIENT_CONFIG",
        {"connect_timeout": 5, "read_timeout": READ_TIMEOUT, "retries": {"max_attempts": 1}},
    )


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("closes", "Connection was closed before we received a valid response"),
        ("hangs", "Read timeout on endpoint URL"),
        ("answers-garbage", "invalid XML received"),
        ("answers-500", "An error occurred (500) when calling the DescribeStacks operation"),
    ],
)
def test_check_reports_a_failing_endpoint_in_one_line(
    aws_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    fast_failing_clients: None,
    fault: str,
    says: str,
) -> None:
    replies = {
        "hangs": Reply(200, b"", delay=HANG),  # the server's exit ends the wait
        "answers-garbage": Reply(200, b"\x00not xml at all"),
        "answers-500": Reply(500, b"<html>oops</html>"),
    }
    with contextlib.ExitStack() as stack_:
        if fault == "closes":
            url = stack_.enter_context(Hangup()).url
        else:
            url = stack_.enter_context(FakeServer(default=replies[fault])).base_url
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["check", "--stack", "clazar"])
    assert time.monotonic() - started < HANG / 2  # gave up, did not wait for the answer
    error = one_error(result, 1)
    assert error.startswith("Error: stack: cannot read stack clazar in us-east-1: ")
    assert says in error
    assert result.output.splitlines()[0].startswith("FAIL stack: ")
