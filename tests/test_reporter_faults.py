"""The reporter under faults: servers on 127.0.0.1 that hang, trickle, close, reset, redirect
or answer strangely, as Clazar's API, as CloudFormation's response URL, and as the IAM and
CloudFormation endpoints boto3 calls (``AWS_ENDPOINT_URL_IAM``/``_CLOUDFORMATION``).

Each test names the item of issue 15 it guards. These run the shipped handler in-process
with its real timings on a fake clock (``fake_clock``): a server that hangs or trickles says
so once it has read the request, and the call to it times out at once in fake time, so
every budget and deadline below is checked in fake time and no verdict depends on the
machine's speed. The faults are real sockets. The real-time measurement, with 30 s and
120 s budgets, is ``reporter_deadlines.py`` (``make test`` runs it beside the suite).
"""

from __future__ import annotations

import json
import logging
import math
import pathlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reporter_deadlines
from clazar_templates import reporter
from clazar_templates.reporter import verify_signature
from fake_clock import FakeClock, now
from fault_servers import (
    FaultServer,
    aws_environment,
    closed_port,
    describe_stacks_xml,
    hang,
    http,
    redirect,
    reply,
    reset,
    trickle_body,
    trickle_headers,
    xml_reply,
)
from reporter_support import (
    API_PATH,
    EXTERNAL_ID,
    SECRET,
    VENDOR,
    FakeContext,
    FakeServer,
    Reply,
    clock,
    make_event,
    shipped_handler,
)

__all__ = ["clock"]  # the fake clock, for every test of this module

# Servers that hang and trickle; a few boto3 clients: make test, not make test-fast.
pytestmark = pytest.mark.slow

h = shipped_handler()
COSELL_STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/clazar-cosell/1234-abcd"
ROLLING_BACK = describe_stacks_xml(COSELL_STACK_ID, "UPDATE_ROLLBACK_IN_PROGRESS")


@pytest.fixture
def cfn() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def api() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AWS endpoint a closed local port unless a test says otherwise: no call leaves
    the machine, whatever the handler does."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port())
    aws(monkeypatch)


def aws(monkeypatch: pytest.MonkeyPatch, **endpoints: str) -> None:
    """Point boto3 (IAM, CloudFormation) at local endpoints for this test."""
    for name, value in aws_environment(**endpoints).items():
        monkeypatch.setenv(name, value)


def answer_of(cfn: FakeServer) -> dict[str, Any]:
    """CloudFormation's answer: exactly one PUT, at most 4,096 bytes."""
    assert [r.method for r in cfn.requests] == ["PUT"]
    assert len(cfn.requests[0].body) <= 4096
    answer: dict[str, Any] = cfn.requests[0].json()
    return answer


def run(event: Any, cfn: FakeServer, budget: float | None = None) -> dict[str, Any]:
    """Run the handler with ``budget`` seconds (fake; by default the function's Timeout);
    it must return, and answer, within them."""
    context = FakeContext(budget)
    assert h.handler(event, context) is None
    assert now() < context.deadline, "returned after the Lambda's timeout"
    answer = answer_of(cfn)
    assert cfn.requests[0].at < context.deadline
    return answer


def cosell_event(
    api: FakeServer | str, cfn: FakeServer, kind: str = "Create", **roles: Any
) -> dict[str, Any]:
    base = api if isinstance(api, str) else api.base_url
    with FakeServer() as unused:
        event = make_event(
            unused,
            cfn,
            kind,
            ApiUrl=base + API_PATH,
            Template="clazar-cosell",
            VerifyRoles=roles or {"SandboxRole": "team-sandbox"},
            VendorAccountId=VENDOR,
            ExternalId=EXTERNAL_ID,
            Report={"ExternalId": EXTERNAL_ID},
            Policies=None,
        )
    event["StackId"] = COSELL_STACK_ID
    if kind == "Update":  # something changed, so a 409 is not "nothing changed"
        event["OldResourceProperties"]["TemplateVersion"] = "0.9.0"
    return event


def changed(event: dict[str, Any]) -> dict[str, Any]:
    """An Update that changes what is reported (so a 409 is not "nothing changed")."""
    event["OldResourceProperties"]["TemplateVersion"] = "0.9.0"
    return event


def grams(secret: str, size: int = 8) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def assert_no_part_of(secret: str, *texts: str) -> None:
    """No 8-character run of ``secret`` in any of ``texts``."""
    for text in texts:
        leaked = {g for g in grams(secret) if g in text}
        assert not leaked, f"{len(leaked)} pieces of the secret leaked, e.g. {sorted(leaked)[0]!r}"


# --- 1. connection-level errors from IAM (no .response) -------------------------------------

IAM_FAULTS = {
    "refused": None,  # EndpointConnectionError
    "reset": reset,  # ConnectionClosedError
    "closed mid-headers": reply(b"HTTP/1.1 200 OK\r\nContent-Le"),
    "garbage status line": reply(b"SPAM SPAM SPAM\r\n\r\n"),
    "hangs": hang,  # ReadTimeoutError, or the call's own deadline
}


@pytest.mark.parametrize("fault", list(IAM_FAULTS))
def test_1_iam_connection_error_is_a_failed_check_not_an_internal_error(
    fault: str, api: FakeServer, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    behaviour = IAM_FAULTS[fault]
    with FaultServer(behaviour or hang) as iam:
        aws(monkeypatch, iam=closed_port() if behaviour is None else iam.url)
        answer = run(cosell_event(api, cfn), cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith('could not read SandboxRole "team-sandbox" ('), answer
    assert "internal error" not in answer["Reason"]
    [report] = api.requests  # the failed check is still reported, as ERROR
    assert report.json()["status"] == "ERROR"


def test_1_iam_connection_error_during_an_update_rollback_answers_success(
    api: FakeServer, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: a connection reset (ConnectionClosedError, whose .response is None)
    must not stop the rolling-back check, or the stack ends UPDATE_ROLLBACK_FAILED."""
    with FaultServer(reset) as iam, FaultServer(xml_reply(ROLLING_BACK)) as cloudformation:
        aws(monkeypatch, iam=iam.url, cloudformation=cloudformation.url)
        answer = run(cosell_event(api, cfn, "Update"), cfn)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Reason"].startswith("stack is rolling back; not reported: could not read")
    [describe] = cloudformation.requests
    assert b"Action=DescribeStacks" in describe.body


def test_1_cloudformation_connection_error_in_the_rollback_check_is_logged(
    api: FakeServer, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    api.script.append(Reply(409, {"message": "secret already used"}))
    with FaultServer(reset) as cloudformation:
        aws(monkeypatch, cloudformation=cloudformation.url)
        event = changed(make_event(api, cfn, "Update"))
        answer = run(event, cfn)
    assert answer["Status"] == "FAILED"
    assert "already used" in answer["Reason"]
    assert "could not read the stack status" in caplog.text


# --- 2. every call bounded by the time left; the answer keeps its own time --------------------


@pytest.mark.parametrize(
    "behaviour",
    [hang, trickle_headers(every=0.1), trickle_body(every=0.1)],
    ids=["hangs", "trickles headers", "trickles its error body"],
)
def test_2_slow_api_is_given_up_and_cloudformation_answered_in_time(
    behaviour: Any, cfn: FakeServer
) -> None:
    """urllib's timeout bounds each read: a header line every 0.1 s never trips a 10 s
    timeout, so only a deadline for the whole exchange ends it: every attempt is given up
    after HTTP_TIMEOUT_SECONDS, and all of them end before the report's deadline."""
    context = FakeContext()
    with FaultServer(behaviour) as api:
        h.handler(make_event(api_as(api), cfn, ApiUrl=api.url + API_PATH), context)
    answer = answer_of(cfn)
    assert answer["Status"] == "FAILED"
    assert "did not answer" in answer["Reason"]
    assert len(api.requests) == h.MAX_ATTEMPTS
    report_deadline = context.deadline - h.SAFETY_MARGIN_SECONDS
    assert api.requests[-1].at + h.HTTP_TIMEOUT_SECONDS <= report_deadline
    assert cfn.requests[0].at < context.deadline - h.ANSWER_SECONDS


def api_as(server: FaultServer) -> Any:
    """A stand-in with the ``base_url`` make_event reads."""
    return type("Api", (), {"base_url": server.url})()


@pytest.mark.parametrize(
    "behaviour", [hang, trickle_headers(every=0.1)], ids=["hangs", "trickles headers"]
)
def test_2_slow_iam_is_given_up_before_the_deadline(
    behaviour: Any, api: FakeServer, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultServer(behaviour) as iam:
        aws(monkeypatch, iam=iam.url)
        answer = run(cosell_event(api, cfn), cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith('could not read SandboxRole "team-sandbox"')


@pytest.mark.parametrize(
    "behaviour", [hang, trickle_headers(every=0.1)], ids=["hangs", "trickles headers"]
)
def test_2_slow_rollback_check_leaves_time_to_answer(
    behaviour: Any, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        FakeServer(Reply(409, {"message": "secret already used"})) as api,
        FaultServer(behaviour) as cloudformation,
    ):
        aws(monkeypatch, cloudformation=cloudformation.url)
        # the report's deadline 1 s away: the rolling-back check, then the answer, keep theirs
        context = FakeContext(h.SAFETY_MARGIN_SECONDS + 1)
        h.handler(changed(make_event(api, cfn, "Update")), context)
    answer = answer_of(cfn)
    assert answer["Status"] == "FAILED"
    assert "already used" in answer["Reason"]
    [describe] = cloudformation.requests
    assert describe.at + h.SHORT_TIMEOUT_SECONDS <= context.deadline - h.ANSWER_SECONDS
    assert cfn.requests[0].at < context.deadline - h.EXIT_SECONDS


def test_2_botocore_retries_are_fitted_into_the_time_left(
    api: FakeServer, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IAM endpoint resetting every connection: botocore's default retries (5 attempts,
    legacy mode) would not fit the call's time; the reporter allows at most 2."""
    with FaultServer(reset) as iam:
        aws(monkeypatch, iam=iam.url)
        run(cosell_event(api, cfn), cfn)
    assert 1 <= len(iam.requests) <= 2


@pytest.mark.parametrize(
    "behaviour",
    [hang, trickle_headers(every=0.05), reply(http("500 Internal Server Error"))],
    ids=["hangs", "trickles", "fails"],
)
def test_2_the_answer_returns_before_the_lambda_timeout(
    behaviour: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    """With Clazar's API hanging until the report's deadline (a 60 s budget: 40 s for the
    report, its fourth attempt cut to the 3 s left) and the response URL failing, every
    attempt to answer fits in the time kept for it, and the handler returns in time."""
    context = FakeContext(60)
    with FaultServer(hang) as api, FaultServer(behaviour) as response_url:
        event = make_event(api_as(api), api_as(response_url), ApiUrl=api.url + API_PATH)
        assert h.handler(event, context) is None
        returned = clock.now
    assert returned < context.deadline - h.EXIT_SECONDS
    assert len(api.requests) == 4
    assert response_url.requests, "never tried to answer"
    assert len(response_url.requests) == h.CFN_ATTEMPTS
    assert response_url.requests[0].at == pytest.approx(context.deadline - h.SAFETY_MARGIN_SECONDS)


def test_2_no_time_to_report_still_answers(api: FakeServer, cfn: FakeServer) -> None:
    """A budget smaller than the time kept back: nothing is sent, CloudFormation is told."""
    answer = run(make_event(api, cfn), cfn, budget=h.SAFETY_MARGIN_SECONDS - 1)
    assert answer["Status"] == "FAILED"
    assert "did not answer (no time left)" in answer["Reason"]
    assert api.requests == []


# --- 3. the secret is redacted, whole or in part, before anything is cut ----------------------

LONG_SECRET = "".join(chr(33 + (i * 7919) % 94) for i in range(256)).replace(" ", "~")


def test_3_long_secret_echoed_by_the_api_is_redacted_before_truncation(
    cfn: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with FakeServer(Reply(401, {"message": f"wrong key {LONG_SECRET}"})) as api:
        answer = run(make_event(api, cfn, SecretKey=LONG_SECRET), cfn)
    assert answer["Status"] == "FAILED"
    assert "wrong key [redacted]" in answer["Reason"]
    assert_no_part_of(LONG_SECRET, answer["Reason"], caplog.text)


def test_3_secret_at_the_truncation_boundary_is_redacted(
    api: FakeServer, cfn: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = SECRET  # 27 characters, echoed at offset 190 of a long message
    api.script.append(Reply(403, {"message": "x" * 190 + secret + " y"}))
    answer = run(make_event(api, cfn), cfn)
    assert_no_part_of(secret, answer["Reason"], caplog.text)
    assert "x" * 190 in answer["Reason"]


@pytest.mark.parametrize(
    "echo",
    [
        SECRET[3:20],  # a piece
        SECRET[:12] + " and " + SECRET[12:],  # split in two
        SECRET[:8],  # the shortest run that is redacted
    ],
    ids=["piece", "split", "8 characters"],
)
def test_3_any_run_of_8_characters_of_the_secret_is_redacted(
    echo: str, api: FakeServer, cfn: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api.script.append(Reply(401, {"message": f"got {echo}"}))
    answer = run(make_event(api, cfn), cfn)
    assert answer["Reason"].count("[redacted]") >= 1
    assert_no_part_of(SECRET, answer["Reason"], caplog.text)


def test_3_secret_in_a_garbage_status_line_is_redacted_in_reason_and_logs(
    cfn: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A server answering the secret as its status line: http.client's error quotes it, and
    the reporter logs each attempt's error before the final reason is redacted."""
    caplog.set_level(logging.INFO)
    with FaultServer(reply(LONG_SECRET.encode() + b"\r\n\r\n")) as api:
        event = make_event(api_as(api), cfn, ApiUrl=api.url + API_PATH, SecretKey=LONG_SECRET)
        answer = run(event, cfn)
    assert answer["Status"] == "FAILED"
    assert_no_part_of(LONG_SECRET, answer["Reason"], caplog.text)


def test_3_redaction_keeps_short_secrets_and_innocent_text() -> None:
    assert h._clean("abc key=abc", "abc", 1000) == "[redacted] key=[redacted]"
    assert h._clean("nothing to see", SECRET, 1000) == "nothing to see"
    assert h._clean("the reason", "", 1000) == "the reason"
    assert h._clean(f"a{SECRET[:7]}b", SECRET, 1000) == f"a{SECRET[:7]}b"  # 7 characters: kept


# --- 4. Retry-After: 0 keeps the backoff; attempts and total time are capped -------------------


@pytest.mark.parametrize("status", [429, 503])
def test_4_retry_after_zero_keeps_the_backoff_and_the_attempt_cap(
    status: int, cfn: FakeServer, clock: FakeClock
) -> None:
    started = clock.now
    with FakeServer(default=Reply(status, headers={"Retry-After": "0"})) as api:
        answer = run(make_event(api, cfn), cfn)
    assert answer["Status"] == "FAILED"
    assert len(api.requests) == h.MAX_ATTEMPTS
    gaps = [b.at - a.at for a, b in zip(api.requests, api.requests[1:], strict=False)]
    backoff = [min(h.BACKOFF_CAP_SECONDS, h.BACKOFF_BASE_SECONDS * 2**i) for i in range(len(gaps))]
    assert gaps == pytest.approx(backoff)  # 1, 2, 4, 8, 16 s: never the "0" asked for
    assert clock.now - started == pytest.approx(sum(backoff))


def test_4_total_time_is_capped_by_the_deadline(cfn: FakeServer) -> None:
    """Backoff 1, 2, 4 s with 6 s until the report's deadline: the third pause would end
    past it, so there are three attempts, whatever Retry-After says."""
    with FakeServer(default=Reply(503, headers={"Retry-After": "0"})) as api:
        context = FakeContext(h.SAFETY_MARGIN_SECONDS + 6)
        assert h.handler(make_event(api, cfn), context) is None
    assert len(api.requests) == 3
    assert api.requests[-1].at < context.deadline - h.SAFETY_MARGIN_SECONDS
    assert answer_of(cfn)["Status"] == "FAILED"


# --- 5. Retry-After parsed as ASCII digits only; anything else is ignored ---------------------


@pytest.mark.parametrize(
    "value", ["²", "1e3", "-1", "0x10", "9" * 5000, "Wed, 21 Oct 2015 07:28:00 GMT"]
)
def test_5_unparsable_retry_after_is_ignored(value: str, cfn: FakeServer) -> None:
    with FakeServer(Reply(429, headers={"Retry-After": value}), Reply(200)) as api:
        answer = run(make_event(api, cfn), cfn)
    assert answer["Status"] == "SUCCESS", answer
    first, second = api.requests
    assert second.at - first.at == pytest.approx(h.BACKOFF_BASE_SECONDS)  # not the "number"


def test_5_unparsable_retry_after_during_a_rollback_answers_success(
    cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        FakeServer(default=Reply(503, headers={"Retry-After": "²"})) as api,
        FaultServer(xml_reply(ROLLING_BACK)) as cloudformation,
    ):
        aws(monkeypatch, cloudformation=cloudformation.url)
        answer = run(changed(make_event(api, cfn, "Update")), cfn)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Reason"].startswith("stack is rolling back; not reported: Clazar's API did")


# --- 6. the whole answer fits 4,096 bytes; bad field types never fail an accepted report ------

HUGE = "L" * 1_000_000


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("Create", "LogicalResourceId", HUGE),
        ("Create", "LogicalResourceId", "é" * 100_000),
        ("Update", "PhysicalResourceId", "p" * 5000),
        ("Delete", "PhysicalResourceId", "\u2603" * 5000),
        ("Create", "StackId", COSELL_STACK_ID + HUGE),
        ("Create", "RequestId", HUGE),
        ("Update", "LogicalResourceId", {"not": "a string"}),
    ],
    ids=[
        "1 MB logical id",
        "non-ASCII id",
        "5,000-character physical id",
        "snowmen",
        "stack id",
        "request id",
        "a map",
    ],
)
def test_6_answer_fits_4096_bytes_whatever_the_event(
    kind: str, field: str, value: Any, api: FakeServer, cfn: FakeServer
) -> None:
    event = make_event(api, cfn, kind)
    event[field] = value
    answer = run(event, cfn)
    assert answer["Status"] in ("SUCCESS", "FAILED")
    assert set(answer) >= {"Status", "Reason", "PhysicalResourceId", "StackId", "RequestId"}


def test_6_a_long_reason_and_long_fields_together_fit(api: FakeServer, cfn: FakeServer) -> None:
    event = cosell_event(api, cfn, "Update", SandboxRole="é" * 5000)
    event["PhysicalResourceId"] = "p" * 5000
    event["LogicalResourceId"] = "l" * 5000
    answer = run(event, cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith('SandboxRole "éé')
    assert answer["Reason"].endswith("...")
    assert answer["PhysicalResourceId"].startswith("ppp")


@pytest.mark.parametrize("old", ["not a map", ["a", "list"], 5, True])
def test_6_bad_old_properties_do_not_fail_an_accepted_report(
    old: Any, api: FakeServer, cfn: FakeServer
) -> None:
    event = make_event(api, cfn, "Update")
    event["OldResourceProperties"] = old
    answer = run(event, cfn)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Reason"] == "reported to Clazar"
    assert len(api.requests) == 1


@pytest.mark.parametrize("pid", [5, None, ["x"], ""])
def test_6_bad_physical_id_types_still_answer(pid: Any, api: FakeServer, cfn: FakeServer) -> None:
    event = make_event(api, cfn, "Update")
    event["PhysicalResourceId"] = pid
    answer = run(event, cfn)
    assert answer["Status"] == "SUCCESS", answer
    assert isinstance(answer["PhysicalResourceId"], str)
    assert answer["PhysicalResourceId"]


def test_6_huge_role_data_from_iam_never_oversizes_the_answer(
    api: FakeServer, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IAM endpoint answering a 20,000-character role ARN (Data is echoed back)."""
    arn = "arn:aws:iam::123456789012:role/" + "p/" * 10_000 + "team-sandbox"
    trust = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{VENDOR}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
                }
            ]
        }
    )
    body = (
        '<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult>'
        f"<Role><Path>/</Path><RoleName>team-sandbox</RoleName><RoleId>AROA1</RoleId><Arn>{arn}"
        f"</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate><AssumeRolePolicyDocument>"
        f"{urllib.parse.quote(trust)}"
        "</AssumeRolePolicyDocument></Role></GetRoleResult></GetRoleResponse>"
    )
    with FaultServer(xml_reply(body)) as iam:
        aws(monkeypatch, iam=iam.url)
        answer = run(cosell_event(api, cfn), cfn)
    assert answer["Status"] == "FAILED"
    assert "Data" not in answer


# --- 7. verify_signature: exactly the documented form, finite numbers, never raises -----------

BODY = b'{"schema_version":1}'
NOW = 1_700_000_000
GOOD = reporter.sign(SECRET, str(NOW), BODY)


def test_7_the_documented_form_verifies() -> None:
    assert GOOD.startswith("v1=")
    assert len(GOOD) == 67
    assert verify_signature(SECRET, str(NOW), BODY, GOOD, now=NOW)


@pytest.mark.parametrize(
    "signature",
    [
        GOOD.replace("v1=", "V1="),
        "v1=" + GOOD[3:].upper(),
        " " + GOOD,
        GOOD + " ",
        GOOD + "\n",
        "\t" + GOOD,
        "v1=",
        "v1= " + GOOD[3:],
    ],
    ids=["V1=", "uppercase", "leading space", "trailing space", "newline", "tab", "empty", "gap"],
)
def test_7_only_the_exact_header_form_is_accepted(signature: str) -> None:
    assert verify_signature(SECRET, str(NOW), BODY, signature, now=NOW) is False


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_7_non_finite_max_age_or_now_is_rejected(number: float) -> None:
    old = str(NOW - 1_000_000)
    signature = reporter.sign(SECRET, old, BODY)
    assert verify_signature(SECRET, old, BODY, signature, max_age=number, now=NOW) is False
    assert verify_signature(SECRET, old, BODY, signature, now=number) is False


@pytest.mark.parametrize("secret", ["\ud800", "a\udfffb", "\x00"])
def test_7_secrets_that_cannot_be_encoded_do_not_raise(secret: str) -> None:
    assert verify_signature(secret, str(NOW), BODY, GOOD, now=NOW) is False


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=80),
    st.binary(max_size=80),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    secret=st.one_of(ANYTHING, st.sampled_from(["\ud800", SECRET])),
    timestamp=st.one_of(ANYTHING, st.just(str(NOW))),
    body=st.one_of(ANYTHING, st.just(BODY)),
    signature=st.one_of(ANYTHING, st.just(GOOD)),
    max_age=ANYTHING,
    now=ANYTHING,
)
def test_7_never_raises(
    secret: Any, timestamp: Any, body: Any, signature: Any, max_age: Any, now: Any
) -> None:
    result = verify_signature(secret, timestamp, body, signature, max_age=max_age, now=now)
    assert isinstance(result, bool)


# --- siblings: full-match patterns, ASCII digits, strange servers ---------------------------


@pytest.mark.parametrize("url", ["https://", "https:///stack-reports", "https://a b/"])
def test_api_url_without_a_host_is_malformed(url: str, api: FakeServer, cfn: FakeServer) -> None:
    """Before: accepted as https, then retried until the deadline ("did not answer")."""
    answer = run(make_event(api, cfn, ApiUrl=url), cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("malformed event: ApiUrl"), answer


@pytest.mark.parametrize(
    ("field", "value"),
    [("VendorAccountId", "١٢٣٤٥٦٧٨٩٠١٢"), ("ExternalId", {"a": "map"})],
    ids=["Arabic-Indic digits", "external id map"],
)
def test_cosell_fields_are_checked_in_ascii_before_any_call(
    field: str, value: Any, api: FakeServer, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultServer(hang) as iam:
        aws(monkeypatch, iam=iam.url)
        event = cosell_event(api, cfn)
        event["ResourceProperties"][field] = value
        answer = run(event, cfn)
    assert answer["Reason"].startswith("malformed event: VerifyRoles needs"), answer
    assert iam.requests == []
    assert api.requests == []


@pytest.mark.parametrize("role", ["team sandbox", "r" * 65, "a/b", "role\n"])
def test_cosell_role_that_is_no_role_name_is_refused_without_a_call(
    role: str, api: FakeServer, cfn: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultServer(hang) as iam:
        aws(monkeypatch, iam=iam.url)
        answer = run(cosell_event(api, cfn, SandboxRole=role), cfn)
    assert answer["Status"] == "FAILED"
    assert "is not a role name or ARN" in answer["Reason"], answer
    assert iam.requests == []


STRANGE_APIS = {
    "reset": (reset, "did not answer"),
    "closed mid-status-line": (reply(b"HTTP/1.1 50"), "did not answer"),
    "closed mid-headers": (reply(b"HTTP/1.1 503 Unavailable\r\nRetry-Af"), "did not answer"),
    "garbage": (reply(b"\x00\xff garbage\r\n\r\n"), "did not answer"),
    "bad status code": (reply(b"HTTP/1.1 2OO OK\r\n\r\n"), "did not answer"),
    "HTTP/0.9 answer": (reply(b"hello"), "did not answer"),
    "oversized header line": (
        reply(b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * 100_000 + b"\r\n\r\n"),
        "did not answer",
    ),
    "oversized error body": (
        reply(http("400 Bad Request", b'{"message": "' + b"m" * 2_000_000 + b'"}')),
        "refused the report (HTTP 400)",
    ),
    "strange status 999": (reply(http("999 Whatever")), "did not answer"),
}


@pytest.mark.parametrize("name", list(STRANGE_APIS))
def test_strange_api_answers_are_failures_in_time(name: str, cfn: FakeServer) -> None:
    behaviour, expected = STRANGE_APIS[name]
    with FaultServer(behaviour) as api:
        answer = run(make_event(api_as(api), cfn, ApiUrl=api.url + API_PATH), cfn)
    assert answer["Status"] == "FAILED"
    assert expected in answer["Reason"], answer


def test_redirect_is_not_followed(cfn: FakeServer) -> None:
    with (
        FakeServer() as elsewhere,
        FaultServer(redirect(elsewhere.base_url + API_PATH)) as api,
    ):
        answer = run(make_event(api_as(api), cfn, ApiUrl=api.url + API_PATH), cfn)
    assert answer["Status"] == "FAILED"
    assert "HTTP 307" in answer["Reason"]
    assert elsewhere.requests == []


# --- 2, measured: real time, real timings, 30 s and 120 s budgets -----------------------------


@pytest.mark.slow  # about 95 s of real time
def test_reporter_answers_before_the_lambda_timeout(request: pytest.FixtureRequest) -> None:
    """Each scenario of reporter_deadlines.py (hanging, trickling and refusing servers as
    Clazar's API, the response URL, IAM and CloudFormation), run with the handler's real
    constants and a context of 30 s and of 120 s: CloudFormation has the answer before the
    time kept for answering begins to run out, and the handler returns before the Lambda's
    timeout (``reporter_deadlines.judge``). The plugin runs this last, and prints the
    figures in the summary; ``make test`` runs the same measurement as a job of its own
    (``scripts/reporter_deadlines.py``), with the plugin off, and this test skips."""
    if not request.config.pluginmanager.has_plugin("reporter_deadlines"):
        pytest.skip("measured apart: make test runs scripts/reporter_deadlines.py beside pytest")
    results = reporter_deadlines.measurement(request.config).results()
    assert reporter_deadlines.judge(results) == []


def test_the_deadline_judgement_fails_a_late_answer_and_a_missing_scenario() -> None:
    rd = reporter_deadlines
    good = [
        {"name": n, "budget": b, "answered": b - 12, "returned": b - 1, "status": "FAILED",
         "reason": ""}
        for n in rd.SCENARIOS
        for b in rd.BUDGETS
    ]  # fmt: skip
    assert rd.judge(good) == []
    late = [dict(good[0], answered=good[0]["budget"] - 8), *good[1:]]
    assert rd.judge(late)[0].endswith(f"answered at {good[0]['budget'] - 8:.2f} s")
    assert rd.judge(good[1:]) == ["23 results, not one per scenario and budget"]


@pytest.fixture
def kept_inputs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> list[pathlib.Path]:
    """Copies of what the deadline cache key reads, and a cache directory, for this test."""
    rd = reporter_deadlines
    copies = []
    for path in rd.INPUTS:
        copy = tmp_path / "inputs" / path.name
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(path.read_bytes())
        copies.append(copy)
    monkeypatch.setattr(rd, "INPUTS", tuple(copies))
    monkeypatch.setenv(rd.CACHE, str(tmp_path / "kept"))
    return copies


def figures() -> list[dict[str, Any]]:
    return [
        {"name": n, "budget": b, "answered": 10.0, "returned": 10.1, "status": "FAILED",
         "reason": "x"}
        for n in reporter_deadlines.SCENARIOS
        for b in reporter_deadlines.BUDGETS
    ]  # fmt: skip


def test_kept_figures_are_those_of_the_same_code(
    kept_inputs: list[pathlib.Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make`` keeps a passing measurement's figures by the hash of what it measured: a
    later run with the same inputs reuses them (and starts no process), a change to any of
    those files, the lock file (a new urllib3) included, or to an installed distribution
    measures again, and without the variable nothing is kept."""
    rd = reporter_deadlines
    measured_code = {"handler.py", "shipping.py", "fault_servers.py", "fake_clock.py"}
    harness = {"reporter_deadlines.py", "reporter_support.py", "dev.txt"}  # and the lock
    assert {copy.name for copy in kept_inputs} >= measured_code | harness
    measured = rd.Measurement(_results=figures(), kept=rd.kept_path(rd.BUDGETS))
    measured.keep()

    again = rd.Measurement().start_or_remember()
    assert again.remembered
    assert again.results() == figures()
    assert again.processes == []  # nothing started

    for copy in kept_inputs:
        before = copy.read_bytes()
        if copy.name == "dev.txt":
            copy.write_bytes(before.replace(b"urllib3==", b"urllib3==9", 1))
            assert copy.read_bytes() != before, "the lock names urllib3"
        else:
            copy.write_bytes(before + b"\n# changed\n")
        assert rd.kept_path(rd.BUDGETS) != measured.kept, copy.name
        copy.write_bytes(before)
    assert rd.kept_path(rd.BUDGETS) == measured.kept

    from importlib import metadata

    real_version = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda d: "9.9.9" if d == "urllib3" else real_version(d)
    )
    assert rd.kept_path(rd.BUDGETS) != measured.kept
    monkeypatch.setattr(metadata, "version", real_version)
    monkeypatch.delenv(rd.CACHE)
    assert rd.kept_path(rd.BUDGETS) is None


@pytest.mark.parametrize(
    "entry",
    ["{}", '""', "[[]]", "[]", "not json", "FIGURES[1:]", "FIGURES+error", "FIGURES+budget"],
)
def test_a_kept_entry_of_the_wrong_shape_is_measured_again(
    entry: str, kept_inputs: list[pathlib.Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    rd = reporter_deadlines
    kept = rd.kept_path(rd.BUDGETS)
    assert kept is not None
    wrong = figures()
    if entry == "FIGURES[1:]":
        text = json.dumps(wrong[1:])
    elif entry == "FIGURES+error":
        text = json.dumps([dict(wrong[0], error="boom"), *wrong[1:]])
    elif entry == "FIGURES+budget":
        text = json.dumps([dict(wrong[0], budget="30"), *wrong[1:]])
    else:
        text = entry
    kept.parent.mkdir(parents=True)
    kept.write_text(text, encoding="utf-8")
    started: list[bool] = []
    monkeypatch.setattr(rd.Measurement, "start", lambda self: started.append(True) or self)
    again = rd.Measurement().start_or_remember()
    assert started == [True]
    assert not again.remembered
    assert not kept.exists()
