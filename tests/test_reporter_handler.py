"""The reporter Lambda, run for real against local HTTP servers (Clazar's API and
CloudFormation's response URL) and, for the co-sell role checks, moto's IAM, with the
handler's real timings on a fake clock (``fake_clock``): every budget, pause and timeout
below is in fake time, so no verdict depends on the machine's speed."""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clazar_templates import reporter
from clazar_templates.reporter import verify_signature
from fake_clock import FakeClock
from reporter_support import (
    ACCOUNT,
    API_PATH,
    EXTERNAL_ID,
    POLICIES,
    REGION,
    REPORT,
    SECRET,
    STACK_ID,
    STACK_NAME,
    UID,
    VENDOR,
    FakeContext,
    FakeServer,
    Recorded,
    Reply,
    clock,
    make_event,
    shipped_handler,
)

__all__ = ["clock"]  # the fake clock, for every test of this module

PHYSICAL_ID = f"clazar-reporter-{STACK_NAME}-ClazarReporter"
h = shipped_handler()
HANDLER_FILE = Path(reporter.__file__).with_name("handler.py")

MakeApi = Callable[..., FakeServer]


# --- fixtures and helpers ------------------------------------------------------------------


class StackStatus:
    """What CloudFormation's DescribeStacks tells the handler about its own stack."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.status = "UPDATE_IN_PROGRESS"
        self.calls: list[str] = []
        real_client = boto3.client

        def client(service: str, *args: Any, **kwargs: Any) -> Any:
            if service != "cloudformation":
                return real_client(service, *args, **kwargs)
            from botocore.stub import Stubber

            stubbed = real_client(
                "cloudformation",
                region_name=REGION,
                aws_access_key_id="x",
                aws_secret_access_key="x",
            )
            stubber = Stubber(stubbed)
            stubber.add_response(
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": STACK_NAME,
                            "StackStatus": self.status,
                            "CreationTime": "2026-01-01T00:00:00Z",
                        }
                    ]
                },
                {"StackName": STACK_ID},
            )
            stubber.activate()
            self.calls.append(service)
            return stubbed

        monkeypatch.setattr(boto3, "client", client)


@pytest.fixture(autouse=True)
def stack_status(monkeypatch: pytest.MonkeyPatch) -> StackStatus:
    return StackStatus(monkeypatch)


@pytest.fixture
def cfn() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def api_server() -> Iterator[MakeApi]:
    """Start a fake Clazar API answering the given replies in order, then ``default``."""
    servers: list[FakeServer] = []

    def make(*script: Reply, default: Reply | None = None) -> FakeServer:
        server = FakeServer(*script, default=default).__enter__()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.__exit__(None, None, None)


def run(event: Any, cfn: FakeServer, budget: float | None = None) -> dict[str, Any]:
    """Run the handler (by default with the function's Timeout); return CloudFormation's
    answer (the one PUT it got)."""
    assert h.handler(event, FakeContext(budget)) is None
    assert [r.method for r in cfn.requests] == ["PUT"]
    answer: dict[str, Any] = cfn.requests[0].json()
    return answer


def closed_port_url(path: str = "/") -> str:
    """A URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def assert_signed(request: Recorded) -> None:
    stamp = request.headers["x-clazar-timestamp"]
    signature = request.headers["x-clazar-signature"]
    assert verify_signature(SECRET, stamp, request.body, signature)


def assert_no_secret(*servers: FakeServer, caplog: pytest.LogCaptureFixture | None = None) -> None:
    for server in servers:
        for request in server.requests:
            assert SECRET not in request.path
            assert SECRET.encode() not in request.body
            assert all(SECRET not in f"{k}: {v}" for k, v in request.headers.items())
    if caplog is not None:
        assert SECRET not in caplog.text
        assert all(SECRET not in str(r.args) for r in caplog.records)


def idempotency_key() -> str:
    return hashlib.sha256((STACK_ID + "5c1a2b3c-request-0001").encode()).hexdigest()


# --- Create -------------------------------------------------------------------------------


def test_create_reports_documented_body_and_headers(
    api_server: MakeApi, cfn: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = api_server(Reply(201, {"status": "connected"}))
    before = int(time.time())  # wall-clock bounds of the stamp: no margin depends on speed

    answer = run(make_event(api, cfn), cfn)

    [request] = api.requests
    assert (request.method, request.path) == ("POST", API_PATH)
    assert request.json() == {
        "schema_version": 1,
        "event": "Create",
        "status": "CONNECTED",
        "stack_id": STACK_ID,
        "stack_name": STACK_NAME,
        "region": REGION,
        "account_id": ACCOUNT,
        "partition": "aws",
        "logical_resource_id": "ClazarReporter",
        "request_id": "5c1a2b3c-request-0001",
        "clazar_account_uid": UID,
        "template": {"name": "clazar-marketplace", "version": "1.0.0"},
        "resources": REPORT,
        "policies": POLICIES,
    }
    # serialized once, deterministically, and exactly those bytes are signed
    assert (
        request.body == json.dumps(request.json(), sort_keys=True, separators=(",", ":")).encode()
    )
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "clazar-reporter/1"
    assert request.headers["idempotency-key"] == idempotency_key()
    assert before <= int(request.headers["x-clazar-timestamp"]) <= time.time() + 1
    assert request.headers["x-clazar-signature"].startswith("v1=")
    assert_signed(request)

    put = cfn.requests[0]
    assert put.path == "/cloudformation-response?X-Amz-Signature=abc"
    assert put.headers["content-type"] == ""
    assert answer == {
        "Status": "SUCCESS",
        "Reason": "reported to Clazar",
        "PhysicalResourceId": PHYSICAL_ID,
        "StackId": STACK_ID,
        "RequestId": "5c1a2b3c-request-0001",
        "LogicalResourceId": "ClazarReporter",
    }
    assert_no_secret(api, cfn, caplog=caplog)
    assert "Clazar API attempt 1: HTTP 201" in caplog.text


def test_report_and_policies_pass_through(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    report = {"RoleArn": "arn:aws:iam::111122223333:role/R", "SddsBucketName": "b", "X": "é"}
    answer = run(make_event(api, cfn, Report=report, Policies=["A", "B", "C"]), cfn)
    assert answer["Status"] == "SUCCESS"
    body = api.requests[0].json()
    assert body["resources"] == report
    assert body["policies"] == ["A", "B", "C"]


def test_missing_report_and_policies_are_empty(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    answer = run(make_event(api, cfn, Report=None, Policies=None), cfn)
    assert answer["Status"] == "SUCCESS"
    body = api.requests[0].json()
    assert (body["resources"], body["policies"]) == ({}, [])


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            Reply(401, {"message": "secret expired"}),
            ["HTTP 401: secret expired", "ClazarSecretKey"],
        ),
        (Reply(403, {"message": "bad\nsignature"}), ["HTTP 403: bad signature", "Clazar platform"]),
        (Reply(404, {"message": "unknown account"}), ["unknown account", "ClazarAccountUid"]),
        (Reply(400, b"<html>not json</html>"), ["HTTP 400)", "contact support"]),
        (Reply(409, {"message": "secret already used"}), ["already used", "ClazarSecretKey"]),
        (Reply(302, headers={"Location": "http://127.0.0.1:1/"}), ["HTTP 302", "contact support"]),
    ],
)
def test_permanent_rejection_fails_with_actionable_reason(
    api_server: MakeApi, cfn: FakeServer, reply: Reply, expected: list[str]
) -> None:
    api = api_server(reply)
    answer = run(make_event(api, cfn), cfn)
    assert len(api.requests) == 1  # permanent: no retry
    assert answer["Status"] == "FAILED"
    for text in expected:
        assert text in answer["Reason"]
    # a Create that never connected is marked, so its rollback Delete need not call the API
    assert answer["PhysicalResourceId"] == PHYSICAL_ID + h.NOT_CONNECTED


def test_api_error_message_is_truncated(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server(Reply(400, {"message": "x" * 5000}))
    answer = run(make_event(api, cfn), cfn)
    assert answer["Status"] == "FAILED"
    assert "x" * 200 in answer["Reason"]
    assert "x" * 201 not in answer["Reason"]


def test_transient_errors_are_retried_with_same_idempotency_key(
    api_server: MakeApi, cfn: FakeServer
) -> None:
    api = api_server(Reply(503), Reply(500, {"message": "oops"}), Reply(408), Reply(200))
    answer = run(make_event(api, cfn), cfn)
    assert answer["Status"] == "SUCCESS"
    assert len(api.requests) == 4
    assert {r.headers["idempotency-key"] for r in api.requests} == {idempotency_key()}
    assert len({r.body for r in api.requests}) == 1
    for request in api.requests:
        assert_signed(request)


@pytest.mark.parametrize(
    ("retry_after", "pause"), [("5", 5.0), ("3600", h.RETRY_AFTER_CAP_SECONDS)], ids=["5", "capped"]
)
def test_429_honours_retry_after_capped(
    api_server: MakeApi, cfn: FakeServer, retry_after: str, pause: float
) -> None:
    """Retry-After over the backoff (1 s) is waited for, up to RETRY_AFTER_CAP_SECONDS."""
    api = api_server(Reply(429, headers={"Retry-After": retry_after}), Reply(200))
    answer = run(make_event(api, cfn), cfn)
    assert answer["Status"] == "SUCCESS"
    first, second = api.requests
    assert second.at - first.at == pytest.approx(pause)


def test_hanging_api_gives_up_before_the_deadline(
    api_server: MakeApi, cfn: FakeServer, clock: FakeClock
) -> None:
    """Each attempt is given up after HTTP_TIMEOUT_SECONDS and retried after the backoff,
    all of it before the report's deadline (the Lambda's, less SAFETY_MARGIN_SECONDS)."""
    api = api_server(default=Reply(200, delay=30))
    context = FakeContext()
    assert h.handler(make_event(api, cfn), context) is None
    [put] = cfn.requests
    assert put.at < context.deadline - h.ANSWER_SECONDS
    answer = put.json()
    assert answer["Status"] == "FAILED"
    assert "did not answer" in answer["Reason"]
    assert "try again later" in answer["Reason"]
    assert len(api.requests) == h.MAX_ATTEMPTS  # 6 x 10 s and 31 s of backoff fit in 100 s
    assert (
        api.requests[-1].at + h.HTTP_TIMEOUT_SECONDS <= context.deadline - h.SAFETY_MARGIN_SECONDS
    )
    assert clock.now < context.deadline


def test_unreachable_api_fails_after_retries(cfn: FakeServer) -> None:
    event = make_event(cfn, cfn, ApiUrl=closed_port_url(API_PATH))
    answer = run(event, cfn)
    assert answer["Status"] == "FAILED"
    assert "did not answer" in answer["Reason"]


def test_failing_response_url_is_retried_then_given_up(
    api_server: MakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    api = api_server()
    with FakeServer(default=Reply(500)) as cfn:
        assert h.handler(make_event(api, cfn), FakeContext()) is None
    assert len(cfn.requests) == h.CFN_ATTEMPTS
    assert "could not answer CloudFormation" in caplog.text


def test_unreachable_response_url_returns_normally(api_server: MakeApi) -> None:
    api = api_server()
    with FakeServer() as unused:
        event = make_event(api, unused)
    event["ResponseURL"] = closed_port_url("/response")
    assert h.handler(event, FakeContext()) is None
    assert len(api.requests) == 1


def test_response_body_fits_4096_bytes_with_huge_reason(
    api_server: MakeApi, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(event: Any, deadline: float) -> Any:
        raise h.Failure("é" * 3000 + "x" * 5000)

    monkeypatch.setattr(h, "_run", fail)
    answer = run(make_event(api_server(), cfn), cfn)
    assert len(cfn.requests[0].body) <= 4096
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("éé")
    assert answer["Reason"].endswith("...")
    assert answer["StackId"] == STACK_ID


def test_unexpected_error_is_answered_not_raised(
    api_server: MakeApi, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any) -> Any:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(h, "_post", boom)
    answer = run(make_event(api_server(), cfn), cfn)
    assert answer["Status"] == "FAILED"
    assert "RuntimeError" in answer["Reason"]
    assert SECRET not in json.dumps(answer)


def test_secret_echoed_by_the_api_is_redacted(
    api_server: MakeApi, cfn: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    api = api_server(Reply(401, {"message": f"wrong key {SECRET}"}))
    answer = run(make_event(api, cfn), cfn)
    assert answer["Status"] == "FAILED"
    assert "[redacted]" in answer["Reason"]
    assert_no_secret(cfn, caplog=caplog)


# --- Update -------------------------------------------------------------------------------


def test_update_reports_again_with_stable_physical_id(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    event = make_event(api, cfn, "Update", Report={**REPORT, "QueueUrl": "https://new"})
    answer = run(event, cfn)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == PHYSICAL_ID == event["PhysicalResourceId"]
    body = api.requests[0].json()
    assert (body["event"], body["status"]) == ("Update", "CONNECTED")
    assert body["resources"]["QueueUrl"] == "https://new"


def test_create_and_update_use_the_same_physical_id(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    created = run(make_event(api, cfn), cfn)
    event = make_event(api, cfn, "Update")
    event["PhysicalResourceId"] = created["PhysicalResourceId"]
    cfn.requests.clear()
    assert run(event, cfn)["PhysicalResourceId"] == created["PhysicalResourceId"] == PHYSICAL_ID


def test_update_409_without_changes_succeeds(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server(Reply(409, {"message": "secret already used"}))
    event = make_event(api, cfn, "Update")
    # a new function (ServiceToken), timeout or secret is not a change to report
    event["OldResourceProperties"].update(ServiceToken="old", ServiceTimeout="60", SecretKey="x")
    answer = run(event, cfn)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == PHYSICAL_ID
    assert len(api.requests) == 1


def test_update_409_with_changes_fails_asking_for_a_new_secret(
    api_server: MakeApi, cfn: FakeServer
) -> None:
    api = api_server(Reply(409, {"message": "secret already used"}))
    event = make_event(api, cfn, "Update", Policies=[*POLICIES, "ClazarNewPolicy"])
    event["OldResourceProperties"]["Policies"] = list(POLICIES)
    answer = run(event, cfn)
    assert answer["Status"] == "FAILED"
    assert "ClazarSecretKey" in answer["Reason"]
    assert "update the stack" in answer["Reason"]
    assert answer["PhysicalResourceId"] == PHYSICAL_ID  # unchanged, even on failure


def test_an_update_that_fails_while_rolling_back_answers_success(
    api_server: MakeApi, cfn: FakeServer, stack_status: StackStatus
) -> None:
    """CloudFormation rolls a failed update back with another Update (old properties); with
    the secret already used the API answers 409, and FAILED would strand the stack in
    UPDATE_ROLLBACK_FAILED. The handler asks CloudFormation and answers SUCCESS instead."""
    stack_status.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    api = api_server(Reply(409, {"message": "secret already used"}))
    event = make_event(api, cfn, "Update", Policies=list(POLICIES))
    event["OldResourceProperties"]["Policies"] = [*POLICIES, "ClazarNewPolicy"]
    answer = run(event, cfn)
    assert answer["Status"] == "SUCCESS"
    assert "rolling back" in answer["Reason"]
    assert stack_status.calls == ["cloudformation"]


# --- Delete -------------------------------------------------------------------------------


def test_delete_notifies_clazar(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    answer = run(make_event(api, cfn, "Delete"), cfn)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == PHYSICAL_ID
    [request] = api.requests
    body = request.json()
    assert (body["event"], body["status"]) == ("Delete", "DELETED")
    assert_signed(request)


def test_delete_succeeds_while_the_api_is_down(
    api_server: MakeApi, cfn: FakeServer, clock: FakeClock
) -> None:
    """A Delete is best effort: two attempts, one backoff between them, nothing more."""
    api = api_server(default=Reply(503))
    started = clock.now
    answer = run(make_event(api, cfn, "Delete"), cfn)
    assert answer["Status"] == "SUCCESS"
    assert "not notified" in answer["Reason"]
    assert len(api.requests) == h.BEST_EFFORT_ATTEMPTS
    assert clock.now - started == pytest.approx(h.BACKOFF_BASE_SECONDS)


def test_delete_succeeds_while_the_api_hangs(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server(default=Reply(200, delay=30))
    answer = run(make_event(api, cfn, "Delete"), cfn)
    assert answer["Status"] == "SUCCESS"


def test_delete_after_failed_create_skips_the_api(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    event = make_event(api, cfn, "Delete")
    event["PhysicalResourceId"] = PHYSICAL_ID + h.NOT_CONNECTED
    answer = run(event, cfn)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == PHYSICAL_ID + h.NOT_CONNECTED
    assert api.requests == []


def test_malformed_delete_still_succeeds(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    answer = run(make_event(api, cfn, "Delete", SecretKey=None), cfn)
    assert answer["Status"] == "SUCCESS"
    assert "malformed event" in answer["Reason"]
    assert api.requests == []


# --- malformed events ---------------------------------------------------------------------


@pytest.mark.parametrize("event", [None, [], {}, {"RequestType": "Create"}, {"ResponseURL": 5}])
def test_event_without_response_url_is_not_answered(
    event: Any, caplog: pytest.LogCaptureFixture
) -> None:
    assert h.handler(event, FakeContext()) is None
    assert "cannot answer CloudFormation" in caplog.text


def test_event_without_response_url_makes_no_request(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    event = make_event(api, cfn)
    del event["ResponseURL"]
    assert h.handler(event, FakeContext()) is None
    assert api.requests == cfn.requests == []


@pytest.mark.parametrize(
    ("field", "missing"),
    [
        ("RequestType", "missing RequestType"),
        ("StackId", "missing StackId"),
        ("RequestId", "missing RequestId"),
        ("LogicalResourceId", "missing LogicalResourceId"),
        ("ResourceProperties", "missing ResourceProperties.ApiUrl"),
    ],
)
def test_event_missing_a_field_fails(
    api_server: MakeApi, cfn: FakeServer, field: str, missing: str
) -> None:
    api = api_server()
    event = make_event(api, cfn)
    del event[field]
    answer = run(event, cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == f"malformed event: {missing}"
    assert api.requests == []


@pytest.mark.parametrize(
    "prop", ["ApiUrl", "SecretKey", "AccountUid", "Template", "TemplateVersion"]
)
def test_event_missing_a_property_fails(api_server: MakeApi, cfn: FakeServer, prop: str) -> None:
    api = api_server()
    answer = run(make_event(api, cfn, **{prop: None}), cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == f"malformed event: missing ResourceProperties.{prop}"
    assert api.requests == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"RequestType": "Replace"}, "unknown RequestType"),
        ({"StackId": "not-an-arn"}, "StackId is not a stack ARN"),
    ],
)
def test_event_with_bad_values_fails(
    api_server: MakeApi, cfn: FakeServer, change: dict[str, str], reason: str
) -> None:
    api = api_server()
    answer = run({**make_event(api, cfn), **change}, cfn)
    assert answer["Status"] == "FAILED"
    assert reason in answer["Reason"]
    assert api.requests == []


@pytest.mark.parametrize(
    "props",
    [
        {"ApiUrl": "file:///etc/passwd"},
        {"ApiUrl": "http://api.example.com/report"},
        {"Report": "not a map"},
        {"Policies": {"not": "a list"}},
    ],
)
def test_bad_properties_fail(api_server: MakeApi, cfn: FakeServer, props: dict[str, Any]) -> None:
    api = api_server()
    answer = run(make_event(api, cfn, **props), cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("malformed event")
    assert api.requests == []


# --- co-sell role checks (moto IAM) -------------------------------------------------------

MOTO_ACCOUNT = "123456789012"
COSELL_STACK_ID = f"arn:aws:cloudformation:{REGION}:{MOTO_ACCOUNT}:stack/clazar-cosell/1234-abcd"
VENDOR_ROOT = f"arn:aws:iam::{VENDOR}:root"


def trust(principal: Any = VENDOR_ROOT, external_id: Any = EXTERNAL_ID) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("iam")


def cosell_event(api: FakeServer, cfn: FakeServer, **roles: str) -> dict[str, Any]:
    event = make_event(
        api,
        cfn,
        Template="clazar-cosell",
        VerifyRoles=roles,
        VendorAccountId=VENDOR,
        ExternalId=EXTERNAL_ID,
        Report={"ExternalId": EXTERNAL_ID},
        Policies=None,
    )
    event["StackId"] = COSELL_STACK_ID
    return event


def test_cosell_roles_by_name_under_a_path_and_by_arn(
    iam: Any, api_server: MakeApi, cfn: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox = iam.create_role(
        RoleName="team-sandbox", Path="/team/x/", AssumeRolePolicyDocument=trust()
    )
    production = iam.create_role(
        RoleName="team-prod",
        AssumeRolePolicyDocument=trust(
            principal=[VENDOR, "arn:aws:iam::444455556666:root"], external_id=[EXTERNAL_ID]
        ),
    )
    sandbox_arn = f"arn:aws:iam::{MOTO_ACCOUNT}:role/team/x/team-sandbox"
    assert sandbox["Role"]["Arn"] == sandbox_arn
    api = api_server()
    event = cosell_event(
        api, cfn, SandboxRole="team-sandbox", ProductionRole=production["Role"]["Arn"]
    )

    answer = run(event, cfn)

    arns = {"SandboxRoleArn": sandbox_arn, "ProductionRoleArn": production["Role"]["Arn"]}
    arns["ProductionRoleOtherPrincipals"] = "AWS:arn:aws:iam::444455556666:root"
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"] == arns
    body = api.requests[0].json()
    assert body["status"] == "CONNECTED"
    assert body["resources"] == {"ExternalId": EXTERNAL_ID, **arns}
    assert body["template"]["name"] == "clazar-cosell"
    assert body["account_id"] == MOTO_ACCOUNT
    assert_no_secret(api, cfn, caplog=caplog)


def test_cosell_role_by_arn_with_path(iam: Any, api_server: MakeApi, cfn: FakeServer) -> None:
    role = iam.create_role(RoleName="sb", Path="/clazar/", AssumeRolePolicyDocument=trust())["Role"]
    answer = run(cosell_event(api_server(), cfn, SandboxRole=role["Arn"]), cfn)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"] == {"SandboxRoleArn": f"arn:aws:iam::{MOTO_ACCOUNT}:role/clazar/sb"}


def test_cosell_empty_role_is_skipped(iam: Any, api_server: MakeApi, cfn: FakeServer) -> None:
    iam.create_role(RoleName="prod", AssumeRolePolicyDocument=trust())
    api = api_server()
    answer = run(cosell_event(api, cfn, SandboxRole="", ProductionRole="prod"), cfn)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    prod_arn = f"arn:aws:iam::{MOTO_ACCOUNT}:role/prod"
    assert answer["Data"] == {"SandboxRoleArn": "", "ProductionRoleArn": prod_arn}
    assert api.requests[0].json()["resources"] == {
        "ExternalId": EXTERNAL_ID,
        "ProductionRoleArn": prod_arn,
    }


def assert_error_report(api: FakeServer, reason: str) -> None:
    """A failed check is reported once, as status ERROR (which must not consume the secret)."""
    [request] = api.requests
    body = request.json()
    assert (body["event"], body["status"]) == ("Create", "ERROR")
    assert body["reason"] == reason
    assert_signed(request)
    assert_no_secret(api)


def test_cosell_missing_role_fails(iam: Any, api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server()
    answer = run(cosell_event(api, cfn, SandboxRole="team-sandbox"), cfn)
    assert answer["Status"] == "FAILED"
    assert (
        answer["Reason"] == f'SandboxRole "team-sandbox" does not exist in account {MOTO_ACCOUNT}'
    )
    assert "Data" not in answer
    assert answer["PhysicalResourceId"].endswith(h.NOT_CONNECTED)
    assert_error_report(api, answer["Reason"])


def test_cosell_role_not_trusting_the_vendor_fails(
    iam: Any, api_server: MakeApi, cfn: FakeServer
) -> None:
    iam.create_role(
        RoleName="sb", AssumeRolePolicyDocument=trust(principal="arn:aws:iam::444455556666:root")
    )
    api = api_server()
    answer = run(cosell_event(api, cfn, SandboxRole="sb"), cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        f'SandboxRole "sb" does not trust Clazar\'s AWS account {VENDOR}'
    )
    assert VENDOR_ROOT in answer["Reason"]
    assert EXTERNAL_ID in answer["Reason"]
    assert_error_report(api, answer["Reason"])


def test_cosell_role_without_external_id_fails(
    iam: Any, api_server: MakeApi, cfn: FakeServer
) -> None:
    iam.create_role(RoleName="team-sandbox", AssumeRolePolicyDocument=trust(external_id=None))
    iam.create_role(
        RoleName="team-prod", AssumeRolePolicyDocument=trust(external_id="someone-else")
    )
    api = api_server()
    answer = run(
        cosell_event(api, cfn, SandboxRole="team-sandbox", ProductionRole="team-prod"), cfn
    )
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    assert (
        'SandboxRole "team-sandbox" does not require the external ID in its trust policy' in reason
    )
    assert 'ProductionRole "team-prod" does not require the external ID' in reason
    assert f'add Condition StringEquals sts:ExternalId "{EXTERNAL_ID}"' in reason
    assert_error_report(api, reason)


def test_cosell_role_of_another_account_fails(
    iam: Any, api_server: MakeApi, cfn: FakeServer
) -> None:
    api = api_server()
    other = "arn:aws:iam::444455556666:role/sb"
    answer = run(cosell_event(api, cfn, SandboxRole=other), cfn)
    assert answer["Status"] == "FAILED"
    assert (
        answer["Reason"]
        == f'SandboxRole "{other}" is not a role ARN of this stack\'s account {MOTO_ACCOUNT}'
    )
    assert_error_report(api, answer["Reason"])


def test_cosell_missing_vendor_account_is_malformed(
    iam: Any, api_server: MakeApi, cfn: FakeServer
) -> None:
    api = api_server()
    event = cosell_event(api, cfn, SandboxRole="sb")
    event["ResourceProperties"]["VendorAccountId"] = "123"
    answer = run(event, cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("malformed event")
    assert api.requests == []


def test_cosell_url_encoded_trust_policy(
    monkeypatch: pytest.MonkeyPatch, api_server: MakeApi, cfn: FakeServer
) -> None:
    """IAM's raw API returns the trust policy URL-encoded; boto3 usually decodes it."""
    arn = f"arn:aws:iam::{MOTO_ACCOUNT}:role/p/sb"

    class FakeIam:
        def get_role(self, RoleName: str) -> dict[str, Any]:
            assert RoleName == "sb"
            document = urllib.parse.quote(trust(principal=[VENDOR_ROOT]))
            return {"Role": {"Arn": arn, "AssumeRolePolicyDocument": document}}

    monkeypatch.setattr(boto3, "client", lambda service, **kwargs: FakeIam())
    answer = run(cosell_event(api_server(), cfn, SandboxRole="sb"), cfn)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"] == {"SandboxRoleArn": arn}


# --- verify_signature ---------------------------------------------------------------------

BODY = b'{"schema_version":1}'
NOW = 1_700_000_000


def test_verify_signature_accepts_a_valid_signature() -> None:
    signature = reporter.sign(SECRET, str(NOW), BODY)
    assert verify_signature(SECRET, str(NOW), BODY, signature, now=NOW)
    assert verify_signature(SECRET, str(NOW), BODY, signature, now=NOW + 299)
    assert not verify_signature(SECRET, str(NOW), BODY, "v1=" + signature[3:].upper(), now=NOW)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        (SECRET, str(NOW), BODY + b" ", NOW),  # tampered body
        ("another-secret", str(NOW), BODY, NOW),  # wrong secret
        (SECRET, str(NOW + 1), BODY, NOW),  # tampered timestamp
        (SECRET, str(NOW), BODY, NOW + 301),  # too old
        (SECRET, str(NOW), BODY, NOW - 301),  # from the future
        ("", str(NOW), BODY, NOW),  # no secret
    ],
)
def test_verify_signature_rejects(secret: str, timestamp: str, body: bytes, now: float) -> None:
    signature = reporter.sign(SECRET, str(NOW), BODY)
    assert not verify_signature(secret, timestamp, body, signature, now=now)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "v1=",
        "v1=zz" + "0" * 62,
        "v2=" + "0" * 64,
        "0" * 64,
        "v1=" + "0" * 63,
        "v1=" + "0" * 65,
        None,
        b"v1=" + b"0" * 64,
    ],
)
def test_verify_signature_rejects_malformed_headers(signature: Any) -> None:
    assert not verify_signature(SECRET, str(NOW), BODY, signature, now=NOW)


@pytest.mark.parametrize("timestamp", ["", "abc", "-1", "1.5", " 1700000000", None])
def test_verify_signature_rejects_malformed_timestamps(timestamp: Any) -> None:
    signature = reporter.sign(SECRET, str(NOW), BODY)
    assert not verify_signature(SECRET, timestamp, BODY, signature, now=NOW)


def test_verify_signature_uses_the_clock_by_default() -> None:
    # real time: 300 s (max_age) between two statements holds on any loaded machine
    stamp = str(int(time.time()))
    assert verify_signature(SECRET, stamp, BODY, reporter.sign(SECRET, stamp, BODY))
    old = str(int(time.time()) - 1000)
    assert not verify_signature(SECRET, old, BODY, reporter.sign(SECRET, old, BODY))


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hmac

    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert reporter.sign(SECRET, "1700000000", BODY) == "v1=" + expected


# --- the source the templates inline ------------------------------------------------------


def test_source_is_embeddable_and_self_contained() -> None:
    text = reporter.source()
    assert text.encode() == HANDLER_FILE.read_bytes()
    assert "\t" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
    top_level = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.Import):
            top_level |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            top_level.add((node.module or "").split(".")[0])
    assert top_level <= set(sys.stdlib_module_names)


def test_source_runs_as_index_py(api_server: MakeApi, cfn: FakeServer, clock: FakeClock) -> None:
    """Loaded on its own, as Lambda does, the handler works without the package."""
    namespace: dict[str, Any] = {"__name__": "index"}
    exec(compile(reporter.source(), "index.py", "exec"), namespace)
    namespace["CLOCK"] = clock
    api = api_server()
    assert namespace["handler"](make_event(api, cfn), FakeContext()) is None
    assert cfn.requests[0].json()["Status"] == "SUCCESS"


def test_the_real_clock_is_real_time() -> None:
    """What production uses: time.monotonic, time.sleep, and a wait that gives up."""
    import concurrent.futures

    from clazar_templates.reporter import handler

    assert handler.Clock.monotonic is time.monotonic
    assert handler.Clock.sleep is time.sleep
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert handler.CLOCK.wait(pool.submit(lambda: 7), 30) == 7
        # real time, but no margin to lose: a 0.5 s sleep cannot end within 0.01 s
        with pytest.raises(TimeoutError):
            handler.CLOCK.wait(pool.submit(time.sleep, 0.5), 0.01)
