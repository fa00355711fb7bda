"""The reporter Lambda, run for real against local HTTP servers (Clazar's API and
CloudFormation's response URL) and, for the co-sell role checks, moto's IAM."""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import logging
import re
import socket
import sys
import time
import tokenize
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clazar_templates import reporter
from clazar_templates.reporter import verify_signature
from reporter_support import (
    ACCOUNT,
    API_PATH,
    EXTERNAL_ID,
    FAST_TIMINGS,
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
    make_event,
    shipped_handler,
)

PHYSICAL_ID = f"clazar-reporter-{STACK_NAME}-ClazarReporter"
h = shipped_handler()
HANDLER_FILE = Path(reporter.__file__).with_name("handler.py")

MakeApi = Callable[..., FakeServer]


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_timings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds instead of minutes: the handler reads these module constants at call time."""
    for name, value in FAST_TIMINGS.items():
        monkeypatch.setattr(h, name, value)


class StackStatus:
    """What CloudFormation's DescribeStacks tells the handler about its own stack."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.status = "UPDATE_IN_PROGRESS"
        self.calls: list[str] = []
        real_client = boto3.client
        _warm_cloudformation_model()  # the handler gives the call a fraction of a second

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


@functools.cache
def _warm_cloudformation_model() -> None:
    """Make one CloudFormation client, so botocore has read its service model before a test
    times the handler's own client (the first one reads and parses it: a few hundred ms)."""
    boto3.client(
        "cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


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


def run(event: Any, cfn: FakeServer, budget: float = 10.0) -> dict[str, Any]:
    """Run the handler; return CloudFormation's answer (the one PUT it got)."""
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
    before = int(time.time())

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
    ("retry_after", "cap", "low", "high"), [("1", 5.0, 0.95, 2.0), ("60", 0.2, 0.18, 0.9)]
)
def test_429_honours_retry_after_capped(
    api_server: MakeApi,
    cfn: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    retry_after: str,
    cap: float,
    low: float,
    high: float,
) -> None:
    monkeypatch.setattr(h, "RETRY_AFTER_CAP_SECONDS", cap)
    api = api_server(Reply(429, headers={"Retry-After": retry_after}), Reply(200))
    answer = run(make_event(api, cfn), cfn)
    assert answer["Status"] == "SUCCESS"
    first, second = api.requests
    assert low <= second.at - first.at <= high


def test_hanging_api_gives_up_before_the_deadline(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server(default=Reply(200, delay=30))
    context = FakeContext(2.0)
    started = time.monotonic()
    assert h.handler(make_event(api, cfn), context) is None
    assert time.monotonic() - started < 2.0
    [put] = cfn.requests
    assert put.at < context.deadline
    answer = put.json()
    assert answer["Status"] == "FAILED"
    assert "did not answer" in answer["Reason"]
    assert "try again later" in answer["Reason"]
    assert len(api.requests) >= 2  # retried after a timeout


def test_unreachable_api_fails_after_retries(cfn: FakeServer) -> None:
    event = make_event(cfn, cfn, ApiUrl=closed_port_url(API_PATH))
    answer = run(event, cfn, budget=1.0)
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


def test_delete_succeeds_while_the_api_is_down(api_server: MakeApi, cfn: FakeServer) -> None:
    api = api_server(default=Reply(503))
    started = time.monotonic()
    answer = run(make_event(api, cfn, "Delete"), cfn)
    assert answer["Status"] == "SUCCESS"
    assert "not notified" in answer["Reason"]
    assert 1 <= len(api.requests) <= h.BEST_EFFORT_ATTEMPTS
    assert time.monotonic() - started < 2


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
    stamp = str(int(time.time()))
    assert verify_signature(SECRET, stamp, BODY, reporter.sign(SECRET, stamp, BODY))
    old = str(int(time.time()) - 1000)
    assert not verify_signature(SECRET, old, BODY, reporter.sign(SECRET, old, BODY))


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hmac

    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert reporter.sign(SECRET, "1700000000", BODY) == "v1=" + expected


# --- the source the templates inline ------------------------------------------------------


def _meaning(text: str) -> str:
    """The AST of ``text`` without docstrings (a body left empty gets ``pass``), type
    annotations and ``typing`` imports: what the code does when it runs."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.annotation = None
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0]
            docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            if docstring and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
            node.body = [
                ast.Assign(targets=[s.target], value=s.value, lineno=0)
                if isinstance(s, ast.AnnAssign) and s.value is not None
                else s
                for s in node.body
                if not (isinstance(s, ast.ImportFrom) and s.module == "typing")
            ]
    return ast.dump(tree)


def _words(line: str) -> list[str]:
    return re.findall(r"\w+|\S", line)


def _is_part_of(line: str, written: str) -> bool:
    """Whether ``line``'s words are ``written``'s, in order, with some left out."""
    rest = iter(_words(written))
    return all(word in rest for word in _words(line))


@pytest.mark.parametrize("verify_roles", [True, False], ids=["cosell", "marketplace"])
def test_source_is_the_handler_file_without_comments_docstrings_and_hints(
    verify_roles: bool,
) -> None:
    """What ships does exactly what handler.py says: the same syntax tree once docstrings and
    type hints are set aside (up to the co-sell part, for the Role & Access stack), each line
    a line of the file with words only taken out, and no comment or docstring left."""
    shipped = reporter.source(verify_roles)
    written = HANDLER_FILE.read_text(encoding="utf-8")
    if not verify_roles:
        written = written[: written.index(reporter.ROLE_CHECKS_MARKER)]
    assert _meaning(shipped) == _meaning(written)
    assert ast.get_docstring(ast.parse(shipped)) is None
    assert not any(isinstance(n, ast.arg) and n.annotation for n in ast.walk(ast.parse(shipped)))
    header, *code_lines = shipped.splitlines()
    assert header.startswith("# clazar_templates/reporter/handler.py without comments")
    remaining = iter(written.splitlines())  # each line, in order, is part of a line of the file
    for line in code_lines:
        if line and line.strip() != "pass":
            assert any(_is_part_of(line, w) for w in remaining), line
    comments = [
        t
        for t in tokenize.generate_tokens(io.StringIO(shipped).readline)
        if t.type == tokenize.COMMENT
    ]
    assert len(comments) == 1
    assert len(shipped) < 0.8 * len(written)


def test_the_role_and_access_code_is_the_file_cut_at_the_marker_then_stripped() -> None:
    """source() strips handler.py once and keeps the rows above the marker: the same text as
    stripping the file cut at the marker."""
    written = HANDLER_FILE.read_text(encoding="utf-8")
    cut = written[: written.index(reporter.ROLE_CHECKS_MARKER)]
    shipped = reporter.source(verify_roles=False).split("\n", 1)[1]
    assert shipped == reporter.shipped_code(cut)
    assert reporter.source(verify_roles=True).split("\n", 1)[1] == reporter.shipped_code(written)


def test_a_marker_inside_a_statement_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from clazar_templates.reporter import shipping

    text = f"def f():\n    x = 1\n{shipping.ROLE_CHECKS_MARKER}\n    return x\n"
    monkeypatch.setattr(shipping, "handler_text", lambda: text)
    shipping._shipped_handler.cache_clear()
    try:
        with pytest.raises(ValueError, match="line 3: the marker must be a line of its own"):
            shipping._shipped_handler()
    finally:
        monkeypatch.undo()
        shipping._shipped_handler.cache_clear()


def test_role_checks_ship_only_where_the_role_may_read_roles() -> None:
    assert "get_role" in reporter.source(verify_roles=True)
    assert "get_role" not in reporter.source(verify_roles=False)
    assert h.VERIFY_ROLES is not None
    assert shipped_handler(verify_roles=False).VERIFY_ROLES is None


def test_a_reporter_without_role_checks_refuses_roles_to_check(
    api_server: MakeApi, cfn: FakeServer
) -> None:
    """Asked to verify roles it cannot read, the Role & Access reporter fails, reporting
    nothing, instead of reporting roles as checked."""
    marketplace = shipped_handler(verify_roles=False)
    api = api_server()
    event = make_event(api, cfn)
    event["ResourceProperties"].update(
        VerifyRoles={"SandboxRole": "SandboxRole"}, VendorAccountId=VENDOR, ExternalId="x-1"
    )
    marketplace.handler(event, FakeContext())
    answer = cfn.requests[0].json()
    assert answer["Status"] == "FAILED"
    assert "does not verify roles" in answer["Reason"]
    assert api.requests == []


def test_stripping_keeps_strings_and_values_and_fills_empty_bodies() -> None:
    text = (
        "from typing import Any\n"
        'class A:\n    """Doc."""\n\n\n'
        'X = """\n\n# not a comment\n"""  # a comment\n'
        "y: dict[str, Any] = {}\n"
        "def f(a: int, *b: Any, c: str = 'x:y', **d: Any) -> tuple[int, str]:\n"
        "    return a, c\n"
    )
    assert reporter.shipped_code(text) == (
        'class A:\n  pass\n\nX = """\n\n# not a comment\n"""\n'
        "y = {}\n"
        "def f(a, *b, c = 'x:y', **d):\n"
        "  return a, c\n"
    )


def test_stripping_moves_blocks_and_their_continuations_left_but_not_strings() -> None:
    text = (
        "def f(\n"
        "    a,\n"
        "):\n"
        "    if a:\n"
        "        return g(\n"
        "            a,\n"
        "        )\n"
        '    return """\n'
        "        kept\n"
        '    """\n'
    )
    assert reporter.shipped_code(text) == (
        "def f(\n"
        "    a,\n"
        "):\n"
        "  if a:\n"
        "    return g(\n"
        "        a,\n"
        "    )\n"
        '  return """\n'
        "        kept\n"
        '    """\n'
    )


def test_stripping_refuses_what_it_cannot_cut_safely() -> None:
    with pytest.raises(ValueError, match="typing name outside an annotation"):
        reporter.shipped_code("from typing import cast\nx = cast(int, 1)\n")
    with pytest.raises(ValueError, match="several lines"):
        reporter.shipped_code("def f(a: dict[\n    str, int]) -> None:\n    pass\n")


@pytest.mark.parametrize("verify_roles", [True, False], ids=["cosell", "marketplace"])
def test_source_is_embeddable_and_self_contained(verify_roles: bool) -> None:
    text = reporter.source(verify_roles)
    assert "\t" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
    # a guard against runaway growth; the real limit is the template's (test_render.py)
    assert len(text.encode()) < (17_000 if verify_roles else 14_000)
    top_level = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.Import):
            top_level |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            top_level.add((node.module or "").split(".")[0])
    assert top_level <= set(sys.stdlib_module_names)


def test_source_runs_as_index_py(api_server: MakeApi, cfn: FakeServer) -> None:
    """Loaded on its own, as Lambda does, the handler works without the package."""
    namespace: dict[str, Any] = {"__name__": "index"}
    exec(compile(reporter.source(verify_roles=False), "index.py", "exec"), namespace)
    namespace.update(BACKOFF_BASE_SECONDS=0.01, SAFETY_MARGIN_SECONDS=0.5)
    api = api_server()
    assert namespace["handler"](make_event(api, cfn), FakeContext()) is None
    assert cfn.requests[0].json()["Status"] == "SUCCESS"
