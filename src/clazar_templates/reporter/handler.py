"""Clazar stack reporter, a CloudFormation custom resource: tells Clazar's API, once, what
the stack created (docs/reporter-protocol.md). Never logs the event, secret or body."""

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
HTTP_TIMEOUT_SECONDS = 10.0
SHORT_TIMEOUT_SECONDS = 5.0  # best-effort reports (Delete, ERROR) and CloudFormation
BEST_EFFORT_ATTEMPTS = 2
CFN_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 16.0
RETRY_AFTER_CAP_SECONDS = 30.0
SAFETY_MARGIN_SECONDS = 20.0  # kept back to answer CloudFormation
MAX_RESPONSE_BYTES = 4096
NOT_CONNECTED = "-failed"  # ends the PhysicalResourceId of a failed Create
REQUIRED = ("ApiUrl", "SecretKey", "AccountUid", "Template", "TemplateVersion")
UNCOMPARED = ("SecretKey", "ServiceToken", "ServiceTimeout")
STACK_ARN = re.compile(r"arn:([\w-]+):cloudformation:([\w-]+):(\d{12}):stack/([^/]+)/.+")
ROLE_ARN = re.compile(r"arn:[\w-]+:iam::(\d{12}):role/(?:[^/]+/)*([^/]+)")
LOG = logging.getLogger("clazar.reporter")
LOG.setLevel(logging.INFO)
VERIFY_ROLES: Any = None  # set by the co-sell part at the end of this file


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
    """Lambda entry point. Never raises; answers CloudFormation whenever it can."""
    url = event.get("ResponseURL") if isinstance(event, dict) else None
    if not isinstance(url, str) or not re.match(r"https?://", url):
        LOG.error("malformed event: no ResponseURL, cannot answer CloudFormation")
        return
    kind, logical = event.get("RequestType"), event.get("LogicalResourceId")
    status, reason = "FAILED", "internal error"
    data: dict[str, Any] = {}
    try:
        LOG.info("%s %s: started", kind, logical)
        left = context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
        reason, data = _run(event, time.monotonic() + left)
        status = "SUCCESS"
    except Failure as exc:
        reason = str(exc)
        if kind == "Update" and _rolling_back(event):  # failing now would strand the stack
            status, reason = "SUCCESS", f"stack is rolling back; not reported: {reason}"
    except Exception as exc:
        LOG.error("unexpected %s", type(exc).__name__)
        reason = f"internal error ({type(exc).__name__}); contact Clazar support"
    finally:
        status = "SUCCESS" if kind == "Delete" else status  # never block a deletion
        props = event.get("ResourceProperties")
        secret = props.get("SecretKey") if isinstance(props, dict) else None
        if isinstance(secret, str) and secret:
            reason = reason.replace(secret, "[redacted]")
        LOG.info("%s %s: %s: %s", kind, logical, status, reason)
        _answer(event, url, status, reason, data)


def _rolling_back(event: dict[str, Any]) -> bool:
    """Whether this Update is CloudFormation rolling back a failed update (needs
    cloudformation:DescribeStacks on this stack only)."""
    try:
        import boto3

        stacks = boto3.client("cloudformation").describe_stacks(StackName=event["StackId"])
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
    if not re.match(r"https://|http://127\.0\.0\.1[:/]", props["ApiUrl"]):
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
    if props.get("VerifyRoles") and VERIFY_ROLES is None:
        raise Failure("malformed event: this reporter does not verify roles")
    data, errors = VERIFY_ROLES(props, partition, account) if VERIFY_ROLES else ({}, [])
    resources = {**report, **{k: v for k, v in data.items() if v}}
    if errors:
        post("ERROR", resources, "; ".join(errors))
        raise Failure("; ".join(errors))
    code, note = post("CONNECTED", resources)
    old = event.get("OldResourceProperties") or {}
    same = all(old.get(k) == props.get(k) for k in {*old, *props} if k not in UNCOMPARED)
    if 200 <= code < 300 or (code == 409 and kind == "Update" and same):
        return ("reported to Clazar" if code != 409 else "nothing changed to report"), data
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
    """POST until accepted, refused, out of attempts or out of time: (last status or 0, note)."""
    code, note, attempts = 0, "no time left", BEST_EFFORT_ATTEMPTS if quick else 999
    for attempt in range(1, attempts + 1):
        left = min(
            deadline - time.monotonic(), SHORT_TIMEOUT_SECONDS if quick else HTTP_TIMEOUT_SECONDS
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
        code, note, after = _send("POST", url, body, headers, left)
        LOG.info("Clazar API attempt %d: %s", attempt, f"HTTP {code}" if code else note)
        pause = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        pause = min(float(after), RETRY_AFTER_CAP_SECONDS) if after.isdigit() else pause
        if (0 < code < 500 and code not in (408, 429)) or attempt == attempts:
            break
        if time.monotonic() + pause >= deadline:
            break
        time.sleep(pause)
    return code, note


def _send(method: str, url: str, body: bytes, headers: Any, timeout: float) -> tuple[int, str, str]:
    """One request: (HTTP status or 0, a note for the reason, Retry-After)."""
    try:
        request = urllib.request.Request(url, body, headers, method=method)  # noqa: S310 (URL from CloudFormation)
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, f"HTTP {response.status}", ""
    except urllib.error.HTTPError as err:
        try:  # the JSON error's "message", on one line and truncated
            message = " ".join(str(json.loads(err.read(8192))["message"] or "").split())[:200]
        except Exception:
            message = ""
        note = f"HTTP {err.code}: {message}" if message else f"HTTP {err.code}"
        return err.code, note, str(err.headers.get("Retry-After"))
    except Exception as err:
        return 0, (str(getattr(err, "reason", None) or err) or type(err).__name__)[:100], ""


def _answer(event: dict[str, Any], url: str, status: str, reason: str, data: Any) -> None:
    """PUT the response to CloudFormation's pre-signed URL; on failure log, never raise."""
    try:
        pid = event.get("PhysicalResourceId")
        if event.get("RequestType") == "Create" or not isinstance(pid, str) or not pid:
            stack = STACK_ARN.fullmatch(str(event.get("StackId")))
            name = f"{stack[4] if stack else 'stack'}-{event.get('LogicalResourceId')}"[:1000]
            pid = f"clazar-reporter-{name}{NOT_CONNECTED if status == 'FAILED' else ''}"
        doc = {"Status": status, "Reason": reason, "PhysicalResourceId": pid}
        doc.update(
            {k: str(event.get(k) or "") for k in ("StackId", "RequestId", "LogicalResourceId")}
        )
        doc.update({"Data": data} if data else {})
        body = json.dumps(doc).encode()
        if len(body) > MAX_RESPONSE_BYTES:  # keep the longest prefix of Reason that fits
            room = MAX_RESPONSE_BYTES - len(json.dumps({**doc, "Reason": "..."}))
            sizes = itertools.accumulate(len(json.dumps(c)) - 2 for c in reason)
            doc["Reason"] = reason[: sum(size <= room for size in sizes)] + "..."
            body = json.dumps(doc).encode()
    except Exception as exc:
        LOG.error("could not build the response: %s", type(exc).__name__)
        return
    for attempt in range(1, CFN_ATTEMPTS + 1):
        code, note, _ = _send("PUT", url, body, {"Content-Type": ""}, SHORT_TIMEOUT_SECONDS)
        LOG.info(
            "answering CloudFormation, attempt %d: %s", attempt, f"HTTP {code}" if code else note
        )
        if 200 <= code < 300:
            return
        time.sleep(BACKOFF_BASE_SECONDS * attempt if attempt < CFN_ATTEMPTS else 0)
    LOG.error("could not answer CloudFormation after %d attempts", CFN_ATTEMPTS)


# --- shipped in the co-sell template only (reporter.source(verify_roles=True)) ---
# The Role & Access reporter has no iam:GetRole, so it does not carry the code that calls it.


def _verify_roles(props: dict[str, Any], partition: str, account: str) -> tuple[Any, list[str]]:
    """Look up each role of VerifyRoles: ({"<Key>Arn": its real ARN or ""}, problems)."""
    roles = props.get("VerifyRoles") or {}
    vendor, external = str(props.get("VendorAccountId")), props.get("ExternalId")
    if roles and not (isinstance(roles, dict) and re.fullmatch(r"\d{12}", vendor) and external):
        raise Failure("malformed event: VerifyRoles needs VendorAccountId and ExternalId")
    root = f"arn:{partition}:iam::{vendor}:root"
    condition = f'Condition StringEquals sts:ExternalId "{external}"'
    data, errors, iam = {}, [], None
    for key, value in sorted(roles.items()):
        data[f"{key}Arn"], label, arn = "", f'{key} "{value}"', ROLE_ARN.fullmatch(str(value))
        if not value:
            continue  # no role to check for this key
        if str(value).startswith("arn:") and not (arn and arn[1] == account):
            errors.append(f"{label} is not a role ARN of this stack's account {account}")
            continue
        if iam is None:
            import boto3

            iam = boto3.client("iam")
        try:
            role = iam.get_role(RoleName=arn[2] if arn else value)["Role"]
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            missing = code == "NoSuchEntity"
            errors.append(
                f"{label} does not exist in account {account}"
                if missing
                else f"could not read {label} ({code})"
            )
            continue
        doc = role.get("AssumeRolePolicyDocument") or {}
        doc = json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc
        trusting = [s for s in _items(doc.get("Statement")) if _trusts(s, vendor, root)]
        if not trusting:
            errors.append(
                f"{label} does not trust Clazar's AWS account {vendor}; add a trust policy "
                f'statement allowing sts:AssumeRole to Principal AWS "{root}" with {condition}'
            )
        elif not all(external in _items(_external_ids(s)) for s in trusting):
            errors.append(
                f"{label} does not require the external ID in its trust policy; add "
                f"{condition} to its statement that trusts {root}"
            )
        else:
            data[f"{key}Arn"] = str(role["Arn"])
    return data, errors


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _trusts(statement: Any, vendor: str, root: str) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    actions = {str(a).lower() for a in _items(statement.get("Action"))}
    principal = statement.get("Principal")
    aws = _items(principal.get("AWS")) if isinstance(principal, dict) else []
    return bool(actions & {"sts:assumerole", "sts:*", "*"}) and bool({vendor, root} & set(aws))


def _external_ids(statement: dict[str, Any]) -> Any:
    equals = (statement.get("Condition") or {}).get("StringEquals") or {}
    return next((v for k, v in equals.items() if k.lower() == "sts:externalid"), None)


VERIFY_ROLES = _verify_roles
