"""Clazar stack reporter, a CloudFormation custom resource: tells Clazar's API, once, what
the stack created (docs/reporter-protocol.md). Never logs the event, secret or body."""

import concurrent.futures
import hashlib
import hmac
import itertools
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

SCHEMA_VERSION = 1
TIMESTAMP_HEADER = "X-Clazar-Timestamp"
SIGNATURE_HEADER = "X-Clazar-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
HTTP_TIMEOUT_SECONDS = 10.0  # one whole exchange (or AWS call), not one socket read
SHORT_TIMEOUT_SECONDS = 5.0  # best-effort reports (Delete, ERROR) and CloudFormation
MAX_ATTEMPTS = 6
BEST_EFFORT_ATTEMPTS = 2
CFN_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 16.0
RETRY_AFTER_CAP_SECONDS = 30.0
SAFETY_MARGIN_SECONDS = 20.0  # kept back from the report: the rolling-back check, the answer
ANSWER_SECONDS = 10.0  # of which the answer to CloudFormation alone may use
EXIT_SECONDS = 0.5  # the handler returns this long before the Lambda's timeout
MAX_RESPONSE_BYTES = 4096
NOT_CONNECTED = "-failed"  # ends the PhysicalResourceId of a failed Create
REQUIRED = ("ApiUrl", "SecretKey", "AccountUid", "Template", "TemplateVersion")
UNCOMPARED = ("SecretKey", "ServiceToken", "ServiceTimeout")
STACK_ARN = re.compile(r"arn:([\w-]+):cloudformation:([\w-]+):(\d{12}):stack/([^/]+)/.+", re.A)
ROLE_ARN = re.compile(r"arn:[\w-]+:iam::(\d{12}):role/(?:[^/]+/)*([^/]+)", re.A)
API_URL = re.compile(r"(https://[A-Za-z0-9.-]+|http://127\.0\.0\.1)(:[0-9]{1,5})?(/[!-~]*)?")
LOG = logging.getLogger("clazar.reporter")
LOG.setLevel(logging.INFO)


class Clock:
    """Where the handler reads the time, pauses and waits for a call: real time here. The
    tests put a fake one in ``CLOCK``, so their verdicts are in its time, not the machine's
    speed."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    @staticmethod
    def wait(future: concurrent.futures.Future[Any], seconds: float) -> Any:
        """The result of ``future``, or TimeoutError once ``seconds`` have passed."""
        return future.result(seconds)


CLOCK = Clock()


class Failure(Exception):
    """Answer FAILED with this reason."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer: never resend the report elsewhere or as a GET


_OPENER = urllib.request.build_opener(_NoRedirect)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """X-Clazar-Signature: "v1=" + hex HMAC-SHA256(secret, b"<timestamp>." + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def handler(event: Any, context: Any) -> None:
    """Lambda entry point. Never raises; answers CloudFormation whenever it can, before the
    Lambda's timeout: the report stops SAFETY_MARGIN_SECONDS before it, the rolling-back
    check ANSWER_SECONDS before it, and only the answer uses the rest."""
    now = CLOCK.monotonic()
    url = event.get("ResponseURL") if isinstance(event, dict) else None
    if not isinstance(url, str) or not re.match(r"https?://", url):
        LOG.error("malformed event: no ResponseURL, cannot answer CloudFormation")
        return
    kind, logical = event.get("RequestType"), event.get("LogicalResourceId")
    label, status, reason = f"{kind} {logical}"[:300], "FAILED", "internal error"
    data: dict[str, Any] = {}
    end = now + ANSWER_SECONDS  # until the context says how long it has
    try:
        LOG.info("%s: started", label)
        end = now + context.get_remaining_time_in_millis() / 1000
        reason, data = _run(event, end - SAFETY_MARGIN_SECONDS)
        status = "SUCCESS"
    except Failure as exc:
        reason = str(exc)
    except Exception as exc:
        reason = f"internal error ({type(exc).__name__}); contact Clazar support"
    finally:
        left = min(SHORT_TIMEOUT_SECONDS, end - ANSWER_SECONDS - CLOCK.monotonic())
        if status == "FAILED" and kind == "Update" and _rolling_back(event, left):  # or stuck
            status, reason = "SUCCESS", f"stack is rolling back; not reported: {reason}"
        status = "SUCCESS" if kind == "Delete" else status  # never block a deletion
        props = event.get("ResourceProperties")
        secret = props.get("SecretKey") if isinstance(props, dict) else ""
        reason = _clean(reason[:8192], secret, 8192)  # redacted before any cut
        LOG.info("%s: %s: %s", label, status, reason)
        _answer(url, _response(event, status, reason, data), end - EXIT_SECONDS)


def _rolling_back(event: dict[str, Any], seconds: float) -> bool:
    """Whether this Update is CloudFormation rolling back a failed update (needs
    cloudformation:DescribeStacks on this stack only)."""
    try:
        stacks = _aws("cloudformation", seconds, "describe_stacks", StackName=event["StackId"])
        return str(stacks["Stacks"][0]["StackStatus"]).startswith("UPDATE_ROLLBACK")
    except Exception as exc:
        LOG.error("could not read the stack status: %s", type(exc).__name__)
        return False


def _run(event: dict[str, Any], deadline: float) -> tuple[str, dict[str, Any]]:
    """Check the event and report it: (reason, Data) on success, else raise Failure."""
    props = event.get("ResourceProperties")
    props = props if isinstance(props, dict) else {}
    for key in ("RequestType", "StackId", "RequestId", "LogicalResourceId"):
        if not isinstance(event.get(key), str) or not event[key]:
            raise Failure(f"malformed event: missing {key}")
    for key in REQUIRED:
        if not isinstance(props.get(key), str) or not props[key]:
            raise Failure(f"malformed event: missing ResourceProperties.{key}")
    kind, stack = event["RequestType"], STACK_ARN.fullmatch(event["StackId"])
    report, policies = props.get("Report") or {}, props.get("Policies") or []
    if kind not in ("Create", "Update", "Delete"):
        raise Failure("malformed event: unknown RequestType")
    if not stack:
        raise Failure("malformed event: StackId is not a stack ARN")
    if not API_URL.fullmatch(props["ApiUrl"]):
        raise Failure("malformed event: ApiUrl must be an https:// URL")
    if not isinstance(report, dict) or not isinstance(policies, list):
        raise Failure("malformed event: Report must be a map and Policies a list")
    partition, region, account, name = stack.groups()
    base = {
        "schema_version": SCHEMA_VERSION,
        "event": kind,
        "stack_id": event["StackId"],
        "stack_name": name,
        "region": region,
        "account_id": account,
        "partition": partition,
        "logical_resource_id": event["LogicalResourceId"],
        "request_id": event["RequestId"],
        "clazar_account_uid": props["AccountUid"],
        "template": {"name": props["Template"], "version": props["TemplateVersion"]},
        "policies": policies,
    }
    key = hashlib.sha256((event["StackId"] + event["RequestId"]).encode()).hexdigest()

    def post(status: str, resources: dict[str, Any], reason: str = "") -> tuple[int, str]:
        doc = {**base, "status": status, "resources": resources}
        doc.update({"reason": reason} if reason else {})
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        quick = bool(reason) or kind == "Delete"  # best effort: few, short attempts
        return _post(props["ApiUrl"], props["SecretKey"], body, key, deadline, quick)

    if kind == "Delete":
        if str(event.get("PhysicalResourceId")).endswith(NOT_CONNECTED):
            return "the stack never connected; nothing to tell Clazar", {}
        code, note = post("DELETED", report)
        return f"Clazar {'was' if 200 <= code < 300 else 'was not'} notified ({note})", {}
    data, errors = _verify_roles(props, partition, account, deadline)  # none to check: ({}, [])
    resources = {**report, **{k: v for k, v in data.items() if v}}
    if errors:
        post("ERROR", resources, "; ".join(errors))
        raise Failure("; ".join(errors))
    code, note = post("CONNECTED", resources)
    if 200 <= code < 300:  # accepted: nothing after this may fail the report
        return "reported to Clazar", data
    old = event.get("OldResourceProperties")  # not a map: a change, as far as we know
    same = isinstance(old, dict) and all(
        old.get(k) == props.get(k) for k in {*old, *props} if k not in UNCOMPARED
    )
    if code == 409 and kind == "Update" and same:
        return "nothing changed to report", data
    if code in (0, 408, 429) or code >= 500:
        raise Failure(f"Clazar's API did not answer ({note}); try again later, or contact support")
    again = "update the stack" if kind == "Update" else "deploy the stack again"
    new_key = f"get a new ClazarSecretKey from the Clazar platform and {again} with it"
    if code == 409:
        raise Failure(f"ClazarSecretKey was already used ({note}); {new_key}")
    hint = {401: new_key, 403: new_key, 410: new_key, 404: "check ClazarAccountUid"}
    raise Failure(f"Clazar's API refused the report ({note}); {hint.get(code, 'contact support')}")


def _post(
    url: str, secret: str, body: bytes, key: str, deadline: float, quick: bool
) -> tuple[int, str]:
    """POST until accepted, refused, out of attempts or out of time: (last status or 0, note).
    Between attempts it waits the exponential backoff, or longer if a Retry-After of ASCII
    digits asks (never shorter: "0" would make it hammer the API), and never past the
    deadline."""
    code, note, attempts = 0, "no time left", BEST_EFFORT_ATTEMPTS if quick else MAX_ATTEMPTS
    for attempt in range(1, attempts + 1):
        left = min(
            deadline - CLOCK.monotonic(), SHORT_TIMEOUT_SECONDS if quick else HTTP_TIMEOUT_SECONDS
        )
        if left < 0.05:
            break
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"clazar-reporter/{SCHEMA_VERSION}",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(secret, stamp, body),
            IDEMPOTENCY_HEADER: key,
        }
        code, note, after = _send(left, secret, url=url, data=body, headers=headers, method="POST")
        LOG.info("Clazar API attempt %d: %s", attempt, f"HTTP {code}" if code else note)
        pause = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        if re.fullmatch("[0-9]{1,9}", after):
            pause = max(pause, min(int(after), RETRY_AFTER_CAP_SECONDS))
        if (0 < code < 500 and code not in (408, 429)) or attempt == attempts:
            break
        if CLOCK.monotonic() + pause >= deadline:
            break
        CLOCK.sleep(pause)
    return code, note


def _send(seconds: float, secret: str, **request: Any) -> tuple[int, str, str]:
    """One request (urllib's Request arguments), given up after ``seconds`` in all: (HTTP
    status or 0, a note for the reason, Retry-After). The note is on one line, the secret
    redacted before it is cut."""
    try:
        return _within(seconds, _exchange, seconds, secret, request)  # type: ignore[no-any-return]
    except Exception as err:
        return (
            0,
            _clean(str(getattr(err, "reason", None) or err) or type(err).__name__, secret, 100),
            "",
        )


def _exchange(seconds: float, secret: str, request: dict[str, Any]) -> tuple[int, str, str]:
    try:  # the timeout bounds each socket operation, so a thread given up on ends too
        with _OPENER.open(urllib.request.Request(**request), timeout=seconds) as response:  # noqa: S310
            return response.status, f"HTTP {response.status}", ""
    except urllib.error.HTTPError as err:
        try:  # the JSON error's "message"
            message = _clean(json.loads(err.read(8192))["message"] or "", secret, 200)
        except Exception:
            message = ""
        note = f"HTTP {err.code}: {message}" if message else f"HTTP {err.code}"
        return err.code, note, str(err.headers.get("Retry-After"))


def _within(seconds: float, call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, given up after ``seconds`` (TimeoutError): a socket timeout
    bounds each read, not an exchange (a server sending a header line every 2 s holds a call
    for ever), so the call runs in a thread of its own that is abandoned at its deadline
    (``CLOCK.wait``)."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return CLOCK.wait(pool.submit(call, *args, **kwargs), seconds)
    finally:
        pool.shutdown(wait=False)


def _aws(service: str, seconds: float, action: str, **params: Any) -> Any:
    """One AWS API call in ``seconds`` at most, boto3's import and client included:
    botocore's timeouts (60 s each by default) and retries (4) fitted into them, and
    _within for an endpoint that trickles (botocore's read timeout, like urllib's, bounds
    each read, not the call)."""

    def call() -> Any:
        import boto3
        from botocore.config import Config

        wait = seconds / 4  # two attempts, each a connect and a read
        config = Config(connect_timeout=wait, read_timeout=wait, retries={"total_max_attempts": 2})
        return getattr(boto3.client(service, config=config), action)(**params)

    return _within(seconds, call)


def _clean(text: object, secret: Any, size: int) -> str:
    """``text`` on one line, the secret and every run of 8 or more of its characters replaced
    by [redacted], then cut to ``size`` characters: redacting after the cut would miss a copy
    the cut had shortened, and a piece of the secret leaks as surely as the whole."""
    text = " ".join(str(text).replace("\0", "").split())
    if isinstance(secret, str) and secret:
        text = text.replace(secret, "[redacted]")  # also a secret shorter than 8
        hidden = {
            j for i in range(len(text) - 7) if text[i : i + 8] in secret for j in range(i, i + 8)
        }
        text = "".join("\0" if i in hidden else c for i, c in enumerate(text))
        text = re.sub("\0+", "[redacted]", text)
    return text[:size]


def _cut(text: Any, room: int) -> str:
    """The longest start of ``str(text)`` whose JSON form takes at most ``room`` bytes."""
    whole = str(text)
    sizes = itertools.accumulate(len(json.dumps(c)) - 2 for c in whole[: max(room, 0)])
    return whole[: sum(size <= room for size in sizes)]


def _response(event: dict[str, Any], status: str, reason: str, data: Any) -> bytes:
    """The answer to CloudFormation, at most MAX_RESPONSE_BYTES whatever the event holds:
    each field taken from the event is cut to 512 bytes of JSON (a PhysicalResourceId to
    CloudFormation's own 1 KB), then Reason to the room left, ending in "..."; Data that
    cannot fit makes it a FAILED answer saying so."""
    pid = event.get("PhysicalResourceId")
    if event.get("RequestType") == "Create" or not isinstance(pid, str) or not pid:
        stack = STACK_ARN.fullmatch(str(event.get("StackId")))
        name = f"{stack[4] if stack else 'stack'}-{event.get('LogicalResourceId')}"[:1000]
        pid = f"clazar-reporter-{name}{NOT_CONNECTED if status == 'FAILED' else ''}"
    doc = {k: _cut(event.get(k) or "", 512) for k in ("StackId", "RequestId", "LogicalResourceId")}
    doc.update(Status=status, PhysicalResourceId=_cut(pid, 1024))
    doc.update({"Data": data} if data else {})
    room = MAX_RESPONSE_BYTES - len(json.dumps({**doc, "Reason": ""}))
    if room < 3:
        return _response(event, "FAILED", "the answer would exceed 4096 bytes", {})
    doc["Reason"] = reason if _cut(reason, room) == reason else _cut(reason, room - 3) + "..."
    return json.dumps(doc).encode()


def _answer(url: str, body: bytes, deadline: float) -> None:
    """PUT the response to CloudFormation's pre-signed URL, each attempt within the time
    left until ``deadline``; on failure log, never raise."""
    for attempt in range(1, CFN_ATTEMPTS + 1):
        left = min(SHORT_TIMEOUT_SECONDS, deadline - CLOCK.monotonic())
        code, note, _ = _send(
            left, "", url=url, data=body, headers={"Content-Type": ""}, method="PUT"
        )
        LOG.info("answering CloudFormation, attempt %d: %s", attempt, note)
        if 200 <= code < 300:
            return
        if attempt < CFN_ATTEMPTS:
            CLOCK.sleep(max(0.0, min(BACKOFF_BASE_SECONDS * attempt, deadline - CLOCK.monotonic())))
    LOG.error("could not answer CloudFormation after %d attempts", CFN_ATTEMPTS)


def _verify_roles(
    props: dict[str, Any], partition: str, account: str, deadline: float
) -> tuple[Any, list[str]]:
    """Look up each role of VerifyRoles: ({"<Key>Arn": its real ARN or "", and
    "<Key>OtherPrincipals": who else its trust policy lets assume it, if anyone}, problems)."""
    roles = props.get("VerifyRoles") or {}
    vendor, external = str(props.get("VendorAccountId")), props.get("ExternalId")
    if roles and not (
        isinstance(roles, dict)
        and re.fullmatch("[0-9]{12}", vendor)
        and isinstance(external, str)
        and external
    ):
        raise Failure("malformed event: VerifyRoles needs VendorAccountId and ExternalId")
    root = f"arn:{partition}:iam::{vendor}:root"
    condition = f'Condition StringEquals sts:ExternalId "{external}"'
    data, errors = {}, []
    for key, value in sorted(roles.items()):
        data[f"{key}Arn"], label, arn = "", f'{key} "{value}"', ROLE_ARN.fullmatch(str(value))
        name = arn[2] if arn else str(value)
        if not value:
            continue  # no role to check for this key
        if str(value).startswith("arn:") and not (arn and arn[1] == account):
            errors.append(f"{label} is not a role ARN of this stack's account {account}")
            continue
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", name, re.A):
            errors.append(f"{label} is not a role name or ARN")
            continue
        try:
            left = min(HTTP_TIMEOUT_SECONDS, deadline - CLOCK.monotonic())
            role = _aws("iam", left, "get_role", RoleName=name)["Role"]
        except Exception as exc:  # a connection error has no .response, or None
            error = (getattr(exc, "response", None) or {}).get("Error") or {}
            code = error.get("Code") or type(exc).__name__
            missing = code == "NoSuchEntity"
            errors.append(
                f"{label} does not exist in account {account}"
                if missing
                else f"could not read {label} ({code})"
            )
            continue
        doc = role.get("AssumeRolePolicyDocument") or {}
        doc = json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc
        anyone, ids, others = read_trust(doc, vendor, partition)
        if anyone:
            errors.append(
                f"{label} can be assumed by any principal: its trust policy allows "
                f'Principal "*" or has an Allow statement with NotPrincipal; remove it'
            )
        elif not ids:
            errors.append(
                f"{label} does not trust Clazar's AWS account {vendor}; add a trust policy "
                f'statement allowing sts:AssumeRole to Principal AWS "{root}" with {condition}'
            )
        elif not all(external in i for i in ids):
            errors.append(
                f"{label} does not require the external ID in its trust policy; add "
                f"{condition} to its statement that trusts {root}"
            )
        elif any(set(i) != {external} for i in ids):
            errors.append(
                f'{label} accepts external IDs other than "{external}" in its trust policy; '
                f"make {condition} the only one of its statement that trusts {root}"
            )
        else:
            data[f"{key}Arn"] = str(role["Arn"])
            data.update({f"{key}OtherPrincipals": ", ".join(others)} if others else {})
    return data, errors


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def read_trust(doc: Any, vendor: str, partition: str) -> tuple[bool, list[list[Any]], list[str]]:
    """Read a whole trust policy: (whether any principal can assume the role, the external
    IDs each statement letting Clazar's account ``vendor`` assume it accepts, every other
    principal it lets assume it as "<kind>:<value>"). A principal of Clazar's account is its
    root, its bare ID or any of its roles and sessions."""
    mine = re.compile(rf"{vendor}|arn:{partition}:(iam|sts)::{vendor}:.+", re.A)
    anyone, ids, others = False, [], []
    for statement in _items(doc.get("Statement") if isinstance(doc, dict) else None):
        if not _assumes(statement):
            continue
        named = _principals(statement.get("Principal"))
        anyone = anyone or "NotPrincipal" in statement or any(v == "*" for _, v in named)
        theirs = [f"{k}:{v}" for k, v in named if not (k == "AWS" and mine.fullmatch(str(v)))]
        if len(theirs) < len(named):
            ids.append(_items(_external_ids(statement)))
        others.extend(theirs)
    return anyone, ids, sorted(set(others))


def _assumes(statement: Any) -> bool:
    """Whether ``statement`` allows an sts:AssumeRole* action (a NotAction may)."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    actions = [str(a).lower() for a in _items(statement.get("Action"))]
    patterns = [re.escape(a).replace(r"\*", ".*").replace(r"\?", ".") for a in actions]
    names = ("sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity")
    return "NotAction" in statement or any(re.fullmatch(p, n) for p in patterns for n in names)


def _principals(principal: Any) -> list[tuple[str, Any]]:
    """(kind, value) for each principal a statement names; ("*", "*") for ``"*"``."""
    if not isinstance(principal, dict):
        return [] if principal is None else [("*", principal)]
    return [(str(k), v) for k, vs in principal.items() for v in _items(vs)]


def _external_ids(statement: dict[str, Any]) -> Any:
    equals = (statement.get("Condition") or {}).get("StringEquals") or {}
    return next((v for k, v in equals.items() if k.lower() == "sts:externalid"), None)
