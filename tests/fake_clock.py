"""A fake clock for the reporter tests, so that no verdict depends on the machine's speed.

The handler reads the time, pauses and waits for each call through ``handler.CLOCK``; the
reporter tests put a :class:`FakeClock` there (and in :data:`CURRENT`, where the fake
servers and ``FakeContext`` read it). In fake time:

- a pause (``sleep``) takes no real time: it moves the fake time on;
- a call to a server that answers takes no fake time: the clock waits for it in real time,
  up to :data:`REAL_CEILING_SECONDS`;
- a call to a server that stalls (hangs, trickles, delays its reply: it tells the clock with
  :func:`stalling` once it has read the request) takes exactly the call's timeout: the clock
  moves the fake time on by it and raises TimeoutError, as the real wait would have.

A server tells which connection it stalls on; the clock knows which thread opened it (the
tests record each ``connect``, :meth:`FakeClock.connected`), so a stall is the call's own,
not that of a call given up on earlier (botocore retries in its abandoned thread).

Without a fake clock (``CURRENT`` is None: the deadline measurement, the moto deployments)
:func:`now` is ``time.monotonic`` and :func:`stalling` does nothing: the servers run in
real time.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import Future
from typing import Any

REAL_CEILING_SECONDS = 60.0
"""How long, in real time, a call to a server that answers may take before the clock gives
up on it and the test fails (``FakeClock.overruns``). Generous on purpose: such a call takes
milliseconds, and a few seconds on a 2-core machine busy with two CPU-bound processes and
a first import of boto3; 60 s only bounds a bug (a call that neither ends nor stalls), so a
broken test fails instead of hanging."""

START = 1_000.0  # fake seconds at the start: any value; tests only compare differences


class FakeClock:
    """``monotonic``, ``sleep`` and ``wait`` of ``handler.Clock``, in fake time."""

    def __init__(self) -> None:
        self.now = START
        self.overruns: list[str] = []  # calls that neither ended nor stalled in real time
        self._changed = threading.Condition()
        self._owners: dict[tuple[int, int], threading.Thread] = {}  # (client, server) port
        self._stalled: set[threading.Thread] = set()  # threads a server stalls on
        self._given_up: set[threading.Thread] = set()  # their calls timed out already

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def connected(self, sock: socket.socket) -> None:
        """``sock`` was connected by the current thread."""
        try:
            ports = sock.getsockname()[1], sock.getpeername()[1]
        except (OSError, IndexError, TypeError):
            return
        with self._changed:
            self._owners[ports] = threading.current_thread()

    def stalled(self, conn: socket.socket) -> None:
        """A server will not answer the request it read on ``conn`` (its side)."""
        try:
            ports = conn.getpeername()[1], conn.getsockname()[1]
        except (OSError, IndexError, TypeError):
            return
        with self._changed:
            owner = self._owners.get(ports)
            if owner is not None and owner not in self._given_up:
                self._stalled.add(owner)
                self._changed.notify_all()

    def wait(self, future: Future[Any], seconds: float) -> Any:
        """The call's result when its server answers (no fake time passes); TimeoutError
        when its server stalls (``seconds`` of fake time pass) or when ``seconds`` was
        already none (the real wait gives up at once)."""
        future.add_done_callback(lambda _: self._notify())
        ends = time.monotonic() + REAL_CEILING_SECONDS
        with self._changed:
            while not future.done() and not self._stalled - self._given_up:
                left = ends - time.monotonic()
                if left <= 0:
                    self.overruns.append(
                        f"a call neither ended nor stalled in {REAL_CEILING_SECONDS} s"
                    )
                    raise TimeoutError
                self._changed.wait(left)
            stalled = self._stalled - self._given_up
            if stalled:  # only the current call's thread can be among them
                self._given_up |= stalled
                self.now += max(0.0, seconds)
                raise TimeoutError
        if seconds <= 0:
            raise TimeoutError
        return future.result()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


CURRENT: FakeClock | None = None
"""The reporter tests' clock while one runs (set by ``reporter_support.fake_clock``)."""


def now() -> float:
    """The fake time when a fake clock runs, else ``time.monotonic()``."""
    clock = CURRENT
    return time.monotonic() if clock is None else clock.now


def stalling(conn: socket.socket) -> None:
    """Called by a server that has read a request on ``conn`` and will not answer it (in
    time): a fake clock times the call out. Without one, nothing."""
    clock = CURRENT
    if clock is not None:
        clock.stalled(conn)
