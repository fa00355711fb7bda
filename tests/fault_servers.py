"""Servers that misbehave, on 127.0.0.1, for the reporter's fault-injection tests.

A :class:`FaultServer` accepts TCP connections on a free port of 127.0.0.1 and hands each one
to a behaviour: a function of (connection, stop event) that reads the request and then
answers strangely, slowly or not at all (:func:`hang`, :func:`trickle_headers`,
:func:`trickle_body`, :func:`reply` with raw bytes, :func:`reset`, :func:`redirect`). It
records each request it read, with the time it arrived (``fake_clock.now()``). A behaviour
that will not answer in time (:func:`hang`, the trickles) says so first (``stalling``): under
the reporter tests' fake clock the call then times out at once, in fake time. Every server
lives at most ``life`` seconds of real time: then it stops accepting and closes every
connection, so a client that never gives up (the reporter before its fixes) makes a test
fail late instead of hanging it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fake_clock import REAL_CEILING_SECONDS, now, stalling

Behaviour = Callable[[socket.socket, threading.Event], None]


@dataclass
class Request:
    head: bytes  # request line and headers
    body: bytes
    at: float  # fake_clock.now() when the whole request had arrived

    @property
    def line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")


class FaultServer:
    """A TCP server on 127.0.0.1 giving each connection to ``behaviour``, for ``life`` s
    (real time; by default longer than the fake clock waits for any call)."""

    def __init__(self, behaviour: Behaviour, life: float = REAL_CEILING_SECONDS + 10) -> None:
        self.behaviour = behaviour
        self.requests: list[Request] = []
        self.connections = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._ends = time.monotonic() + life
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        with self._lock:
            for conn in self._open:
                _close(conn)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._ends:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        self._stop.set()  # end of life: every behaviour stops waiting, new connections fail
        self._listener.close()
        with self._lock:
            for conn in self._open:
                _close(conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = read_request(conn, self._stop)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            self.behaviour(conn, self._stop)
        except OSError:
            pass  # the client gave up, or the server reached the end of its life
        finally:
            _close(conn)


def read_request(conn: socket.socket, stop: threading.Event) -> Request | None:
    """The request's head and its Content-Length body (None if the client went away)."""
    conn.settimeout(0.1)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = _recv(conn, stop)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")[1:]
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = _recv(conn, stop)
        if not chunk:
            return None
        body += chunk
    return Request(head, body, now())


def _recv(conn: socket.socket, stop: threading.Event) -> bytes:
    while not stop.is_set():
        try:
            return conn.recv(65536)
        except TimeoutError:
            continue
    return b""


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


# --- behaviours (what happens after the request was read) ------------------------------


def hang(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, read the request, never answer."""
    stalling(conn)
    stop.wait()


def trickle_headers(every: float = 2.0, status: int = 200) -> Behaviour:
    """A status line, then one more header line every ``every`` seconds, for ever: each
    read gets a byte well within any socket timeout, and the response never ends."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        stalling(conn)
        conn.sendall(f"HTTP/1.1 {status} OK\r\n".encode())
        count = 0
        while not stop.wait(every):
            count += 1
            conn.sendall(f"X-Trickle-{count}: {count}\r\n".encode())

    return behave


def trickle_body(every: float = 0.5, status: int = 503, length: int = 100_000) -> Behaviour:
    """Headers promising ``length`` bytes of JSON, then one byte every ``every`` seconds."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        stalling(conn)
        conn.sendall(
            f"HTTP/1.1 {status} Slow\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        body = b'{"message": "' + b"x" * length
        for byte in body[:length]:
            if stop.wait(every):
                return
            conn.sendall(bytes([byte]))

    return behave


def reply(raw: bytes, then: Callable[[threading.Event], None] | None = None) -> Behaviour:
    """Send ``raw`` (a response, or not one), then close (or run ``then`` first)."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(raw)
        if then is not None:
            then(stop)

    return behave


def http(status: str, body: bytes = b"", *headers: str) -> bytes:
    """A well-formed HTTP/1.1 response (``status`` is e.g. "200 OK")."""
    lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def reset(conn: socket.socket, stop: threading.Event) -> None:
    """Read the request, then reset the connection (RST, not FIN)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def redirect(location: str, status: str = "307 Temporary Redirect") -> Behaviour:
    return reply(http(status, b"", f"Location: {location}"))


def xml_reply(body: str) -> Behaviour:
    """An AWS query-protocol answer (IAM, CloudFormation) of ``body``."""
    return reply(http("200 OK", body.encode(), "Content-Type: text/xml"))


def describe_stacks_xml(stack_id: str, status: str) -> str:
    """CloudFormation's DescribeStacks answer for one stack in ``status``."""
    name = stack_id.split("/")[1]
    return (
        '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
        "<DescribeStacksResult><Stacks><member>"
        f"<StackName>{name}</StackName><StackId>{stack_id}</StackId>"
        f"<StackStatus>{status}</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime>"
        "</member></Stacks></DescribeStacksResult>"
        "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>"
    )


def closed_port() -> str:
    """A URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def aws_environment(**endpoints: str) -> dict[str, Any]:
    """Environment variables pointing boto3 at local endpoints (``iam=URL``,
    ``cloudformation=URL``) with dummy credentials and no configuration files."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update({f"AWS_ENDPOINT_URL_{name.upper()}": url for name, url in endpoints.items()})
    return env
