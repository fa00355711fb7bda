"""Helpers for the reporter tests: scriptable local HTTP servers, a fake Lambda context and
the fake clock they run on.

One server plays Clazar's API, another CloudFormation's pre-signed response URL. Both bind
127.0.0.1 on a free port, answer from a script (then a default reply), and record every
request they get, with its time on the tests' clock. A test module that imports
:func:`clock` runs each of its tests on a ``fake_clock.FakeClock``, the shipped handler's
``CLOCK`` included, with the handler's real timings.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import fake_clock
from clazar_templates import reporter

ACCOUNT = "111122223333"
REGION = "us-east-1"
STACK_NAME = "clazar-marketplace"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/0f1e2d3c-aaaa-bbbb"
SECRET = "s3cr3t-0ne-t1me-ZZQX-9f8e7d"  # distinctive, so a leak is easy to find
UID = "acct_12345"
VENDOR = "999988887777"
EXTERNAL_ID = "clazar-external-id-0001"
API_PATH = "/aws/cloudformation/v1/stack-reports"
REPORT = {
    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/ClazarRole",
    "ExternalId": EXTERNAL_ID,
    "QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/clazar-queue",
    "QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:clazar-queue",
    "MarketplaceAccess": "true",
}
POLICIES = ["ClazarMarketplaceRead", "ClazarSqsConsume"]


@dataclass
class Reply:
    """What a server answers: status, JSON (dict) or raw (bytes) body, a delay, headers.
    A reply with a delay is one the server stalls on: under the fake clock, the call to it
    times out (``fake_clock.stalling``)."""

    status: int = 200
    body: dict[str, Any] | bytes | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # fake_clock.now() when the request arrived

    def json(self) -> Any:
        return json.loads(self.body)


class FakeServer:
    """A local HTTP server answering ``script`` in order, then ``default``."""

    def __init__(self, *script: Reply, default: Reply | None = None) -> None:
        self.script = list(script)
        self.default = default or Reply(200, {"ok": True})
        self.requests: list[Recorded] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self) -> Reply:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append(
                        Recorded(self.command, self.path, headers, body, fake_clock.now())
                    )
                reply = server._next()
                if reply.delay:
                    fake_clock.stalling(self.connection)
                if reply.delay and server._stop.wait(reply.delay):
                    return
                payload = reply.body
                data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
                data = data or b""
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(payload, dict):
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = do_GET = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout tests) is expected


class FakeContext:
    """The part of the Lambda context the reporter uses: a clock that runs down, in the
    tests' clock (``fake_clock.now()``: fake time under a fake clock, else real time)."""

    function_name = "clazar-reporter"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_stream_name = "2025/01/01/[$LATEST]0123456789abcdef"

    def __init__(self, budget_seconds: float | None = None) -> None:
        """``budget_seconds``: by default the function's Timeout in the templates."""
        if budget_seconds is None:
            from clazar_templates.stacks.reporting import FUNCTION_TIMEOUT

            budget_seconds = float(FUNCTION_TIMEOUT)
        self.deadline = fake_clock.now() + budget_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - fake_clock.now()) * 1000))


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_clock.FakeClock]:
    """The fake clock, in the shipped handler's ``CLOCK`` and where the servers and
    ``FakeContext`` read it; every ``connect`` is recorded, so that a server's stall is
    the call's that opened the connection. Imported by a test module, it runs for each of
    its tests. Fails a test in which a call to an answering server took over
    ``REAL_CEILING_SECONDS`` of real time."""
    fake = fake_clock.FakeClock()
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        real_connect(sock, address)
        fake.connected(sock)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(fake_clock, "CURRENT", fake)
    monkeypatch.setattr(shipped_handler(), "CLOCK", fake)
    yield fake
    assert fake.overruns == []


def make_event(
    api: FakeServer, cfn: FakeServer, request_type: str = "Create", **props: Any
) -> dict[str, Any]:
    """A CloudFormation custom-resource event for the reporter; ``props`` override
    ResourceProperties (a value of None removes the property)."""
    properties: dict[str, Any] = {
        "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:clazar-reporter",
        "ServiceTimeout": "120",
        "ApiUrl": api.base_url + API_PATH,
        "SecretKey": SECRET,
        "AccountUid": UID,
        "Template": "clazar-marketplace",
        "TemplateVersion": "1.0.0",
        "Report": dict(REPORT),
        "Policies": list(POLICIES),
    }
    properties.update(props)
    properties = {k: v for k, v in properties.items() if v is not None}
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": cfn.base_url + "/cloudformation-response?X-Amz-Signature=abc",
        "StackId": STACK_ID,
        "RequestId": "5c1a2b3c-request-0001",
        "LogicalResourceId": "ClazarReporter",
        "ResourceType": "Custom::ClazarReporter",
        "ResourceProperties": properties,
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = f"clazar-reporter-{STACK_NAME}-ClazarReporter"
    if request_type == "Update":
        event["OldResourceProperties"] = dict(properties)
    return event


@functools.cache
def shipped_handler() -> types.ModuleType:
    """The reporter exactly as both templates ship it (``handler.py``, byte for byte),
    loaded on its own as module ``index``, the way Lambda loads it. The handler, fault and
    deadline tests run this."""
    return load_index(reporter.source())


def load_index(code: str) -> types.ModuleType:
    """``code`` run as a fresh module named ``index`` (Lambda's ``index.handler``)."""
    module = types.ModuleType("index")
    module.__file__ = "index.py"
    exec(compile(code, "index.py", "exec"), module.__dict__)
    return module
