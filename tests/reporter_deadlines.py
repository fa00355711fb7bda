"""How late the reporter answers CloudFormation, in real time, with its real timings.

Each scenario runs the shipped handler once, in a process of its own (the AWS endpoints are
environment variables, and the handler's timings are its real constants, on its real
clock), against servers on 127.0.0.1 that hang, trickle or refuse (``fault_servers``), with
a Lambda context of 30 s or 120 s (``FUNCTION_TIMEOUT``). It records when CloudFormation's
response URL had the answer and when the handler returned, both in seconds from the
invocation. This is the only place the reporter's deadlines are checked in real time; the
reporter tests check the same logic on a fake clock (``fake_clock``).

All scenarios of all budgets run at once, so the whole measurement takes about the longest
scenario (under 120 s). ``make test`` runs it as a job of its own
(``scripts/reporter_deadlines.py --remember``) at normal priority, beside pytest and the
linters, which run one step below it (``nice -n 1``): the scenarios mostly wait on sockets and
get the CPU the moment they wake, and the suite, on a fake clock, does not care how much
CPU it gets. Run by plain ``pytest`` (without ``-p no:reporter_deadlines``) it is a pytest
plugin (``tests/conftest.py`` loads it): it starts the processes as soon as the run is
collected, when the run includes ``test_reporter_answers_before_the_lambda_timeout``, moves
that test to the end of the run, and prints the figures in the terminal summary.

The figures depend only on what ran: the shipped handler, the fault servers and this
harness (``INPUTS``), the locked environment (``requirements/dev.txt``, and the installed
boto3, botocore and urllib3), Python and the budgets. When ``CLAZAR_DEADLINES_CACHE`` names
a directory (``make`` sets it to ``.cache/reporter-deadlines``), the figures of a run that
passed are kept there by the hash of all of those, and a later run with the same hash
reuses them, saying so, instead of measuring for 95 s again; a kept entry of the wrong
shape is discarded and measured again, and kept figures are judged again (:func:`judge`)
each time. A fresh clone (CI) has no cache and always measures; ``make clean`` forgets
what was kept.

    python tests/reporter_deadlines.py SCENARIO BUDGET   # one scenario; prints JSON
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BUDGETS = (30.0, 120.0)  # the 30 s of the issue, and the function's real Timeout
TEST_NAME = "test_reporter_answers_before_the_lambda_timeout"
HERE = Path(__file__).resolve().parent
CACHE = "CLAZAR_DEADLINES_CACHE"
ROOT = HERE.parent
REPORTER = ROOT / "src" / "clazar_templates" / "reporter"
INPUTS = (  # what the figures depend on: the shipped handler (and what ships it), the harness
    REPORTER / "handler.py",
    REPORTER / "shipping.py",
    HERE / "reporter_deadlines.py",
    HERE / "fault_servers.py",
    HERE / "fake_clock.py",
    HERE / "reporter_support.py",
    ROOT / "requirements" / "dev.txt",  # the lock: every package the measured code imports
)
DISTRIBUTIONS = ("boto3", "botocore", "urllib3")  # as installed (INSTALLER=pip, a stale venv)
# Real-time margins of the judgement, over what the handler aims for (``judge``). Measured
# overheads are under 0.1 s (the figures in the summary): a thread handing over, a new
# connection, a log line; these margins hold on a 2-core machine with two CPU-bound
# processes beside the measurement, which runs at normal priority (the rest of make test
# at nice 1).
ANSWER_MARGIN_SECONDS = 1.0  # after the rolling-back check's end: the PUT has arrived
RETURN_MARGIN_SECONDS = 0.4  # after the answer's deadline: the handler has returned

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

# name -> what misbehaves: "api", "response" (CloudFormation's URL), "iam", "cloudformation"
# (the DescribeStacks of the rolling-back check) as fault_servers behaviours, by name; the
# event's "kind"; "cosell" for the reporter that checks two roles with IAM.
SCENARIOS: dict[str, dict[str, Any]] = {
    "API hangs": {"api": "hang"},
    "API trickles headers (1 line / 2 s)": {"api": "trickle_headers"},
    "API trickles its error body": {"api": "trickle_body"},
    "API 503, Retry-After: 0": {"api": "unavailable"},
    "API 429, Retry-After: 3600": {"api": "too_many"},
    "Update, 409; DescribeStacks hangs": {"kind": "Update", "api": "conflict",
                                          "cloudformation": "hang"},
    "Update; API and DescribeStacks trickle": {"kind": "Update", "api": "trickle_headers",
                                               "cloudformation": "trickle_headers"},
    "co-sell Update; IAM, API, DescribeStacks hang": {"cosell": True, "kind": "Update",
                                                      "iam": "hang", "api": "hang",
                                                      "cloudformation": "hang"},
    "co-sell; IAM and API trickle": {"cosell": True, "iam": "trickle_headers",
                                     "api": "trickle_headers"},
    "response URL hangs": {"response": "hang"},
    "response URL trickles": {"response": "trickle_headers"},
    "co-sell Update; everything hangs": {"cosell": True, "kind": "Update", "iam": "hang",
                                         "api": "hang", "cloudformation": "hang",
                                         "response": "hang"},
}  # fmt: skip


def behaviour(name: str) -> Any:
    import fault_servers as f

    return {
        "hang": f.hang,
        "trickle_headers": f.trickle_headers(every=2.0),
        "trickle_body": f.trickle_body(every=1.0),
        "unavailable": f.reply(f.http("503 Service Unavailable", b"", "Retry-After: 0")),
        "too_many": f.reply(f.http("429 Too Many Requests", b"", "Retry-After: 3600")),
        "conflict": f.reply(f.http("409 Conflict", b'{"message": "secret already used"}')),
        "ok": f.reply(OK),
    }[name]


def run_scenario(name: str, budget: float) -> dict[str, Any]:
    """Run one scenario here and now (in a process of its own: it sets os.environ)."""
    from fault_servers import FaultServer, aws_environment, closed_port
    from reporter_support import FakeContext, make_event, shipped_handler

    spec = SCENARIOS[name]
    handler = shipped_handler().handler
    with contextlib.ExitStack() as stack:
        servers = {
            role: stack.enter_context(FaultServer(behaviour(spec.get(role, "ok")), budget + 20))
            for role in ("api", "response", "iam", "cloudformation")
        }
        os.environ.update(
            aws_environment(iam=servers["iam"].url, cloudformation=servers["cloudformation"].url)
        )
        os.environ["AWS_ENDPOINT_URL"] = closed_port()
        api, response = (_Base(servers[role].url) for role in ("api", "response"))
        event = make_event(api, response, spec.get("kind", "Create"))
        if spec.get("cosell"):
            event["ResourceProperties"].update(
                VerifyRoles={"SandboxRole": "team-sandbox", "ProductionRole": "team-prod"},
                VendorAccountId="999988887777",
                ExternalId="clazar-external-id-0001",
            )
        if spec.get("kind") == "Update":  # a change, so a 409 is a failure
            event["OldResourceProperties"]["TemplateVersion"] = "0.9.0"
        started = time.monotonic()
        handler(event, FakeContext(budget))
        returned = time.monotonic() - started
        puts = servers["response"].requests
        answer = json.loads(puts[0].body) if puts else {}
        return {
            "name": name,
            "budget": budget,
            "answered": puts[0].at - started if puts else None,
            "returned": returned,
            "status": answer.get("Status"),
            "reason": str(answer.get("Reason", ""))[:120],
        }


@dataclass
class _Base:
    base_url: str


def kept_path(budgets: tuple[float, ...]) -> Path | None:
    """Where the figures of a passing run with this code are kept (None: not kept)."""
    directory = os.environ.get(CACHE)
    if not directory:
        return None
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(json.dumps([list(budgets), sys.version]).encode())
    for dist in DISTRIBUTIONS:
        try:
            digest.update(f"{dist}=={version(dist)}\n".encode())
        except PackageNotFoundError:
            digest.update(f"{dist} missing\n".encode())
    for path in INPUTS:
        digest.update(f"{path.name} {path.stat().st_size}\n".encode())
        digest.update(path.read_bytes())
    return Path(directory) / f"{digest.hexdigest()}.json"


def well_formed(kept: Any, budgets: tuple[float, ...]) -> bool:
    """Whether ``kept`` is figures of every scenario for every budget, once each, of the
    shape ``run_scenario`` returns (an entry of another shape is measured again)."""
    if not isinstance(kept, list) or not all(isinstance(r, dict) for r in kept):
        return False
    number = (int, float)
    for r in kept:
        if not (
            isinstance(r.get("name"), str)
            and isinstance(r.get("budget"), number)
            and (r.get("answered") is None or isinstance(r.get("answered"), number))
            and isinstance(r.get("returned"), number)
            and isinstance(r.get("status"), str | None)
            and isinstance(r.get("reason"), str)
            and "error" not in r
        ):
            return False
    pairs = sorted((r["name"], float(r["budget"])) for r in kept)
    return pairs == sorted((name, float(b)) for name in SCENARIOS for b in budgets)


def judge(results: list[dict[str, Any]], budgets: tuple[float, ...] = BUDGETS) -> list[str]:
    """What is wrong with ``results`` (nothing: []): every scenario of every budget ran;
    CloudFormation had the answer before the time kept for answering ran out (the budget
    less ``ANSWER_SECONDS``, plus ``ANSWER_MARGIN_SECONDS``), and the handler returned
    before the Lambda's timeout (less ``EXIT_SECONDS``, plus ``RETURN_MARGIN_SECONDS``)."""
    from clazar_templates.reporter import handler as real

    problems = [f"{r['name']} ({r['budget']:.0f} s): {r['error']}" for r in results if "error" in r]
    ran = sorted((str(r.get("name")), float(r.get("budget", 0))) for r in results)
    if ran != sorted((name, float(b)) for name in SCENARIOS for b in budgets):
        problems.append(f"{len(results)} results, not one per scenario and budget")
    for r in results:
        if "error" in r:
            continue
        label = f"{r['name']} ({r['budget']:.0f} s)"
        if r["answered"] is None:
            problems.append(f"{label}: CloudFormation never had the answer")
        elif r["answered"] >= r["budget"] - real.ANSWER_SECONDS + ANSWER_MARGIN_SECONDS:
            problems.append(f"{label}: answered at {r['answered']:.2f} s")
        if r["returned"] >= r["budget"] - real.EXIT_SECONDS + RETURN_MARGIN_SECONDS:
            problems.append(f"{label}: returned at {r['returned']:.2f} s")
        if r["status"] not in ("SUCCESS", "FAILED"):
            problems.append(f"{label}: answered {r['status']!r}")
    return problems


@dataclass
class Measurement:
    """The scenarios' processes, started together; ``results()`` waits for them."""

    budgets: tuple[float, ...] = BUDGETS
    started: float = field(default_factory=time.monotonic)
    processes: list[tuple[str, float, subprocess.Popen[str]]] = field(default_factory=list)
    _results: list[dict[str, Any]] | None = None
    kept: Path | None = None  # where a passing run's figures are kept
    remembered: bool = False  # the figures are a kept run's, not measured now

    def start_or_remember(self) -> Measurement:
        """The kept figures of a passing run with this very code, if there are some; else
        ``start()``."""
        self.kept = kept_path(self.budgets)
        if self.kept is None or not self.kept.exists():
            return self.start()
        try:
            kept = json.loads(self.kept.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            kept = None
        if well_formed(kept, self.budgets):
            self._results = kept
            self.remembered = True
            return self
        self.kept.unlink(missing_ok=True)  # not figures of this measurement: measure again
        return self.start()

    def keep(self) -> None:
        """Keep the figures measured now (the test passed on them), atomically."""
        if self.kept is not None and not self.remembered and self._results is not None:
            from clazar_templates.template.render import write_atomic

            write_atomic(self.kept, json.dumps(self._results))

    def start(self) -> Measurement:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        for budget in self.budgets:
            for name in SCENARIOS:
                command = [sys.executable, str(Path(__file__)), name, str(budget)]
                process = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
                self.processes.append((name, budget, process))
        return self

    def results(self) -> list[dict[str, Any]]:
        """Each scenario's figures (or its error), waiting at most the longest budget plus
        30 s from the start; a process still running then is killed and reported."""
        if self._results is None:
            self._results = []
            ends = self.started + max(self.budgets) + 30
            for name, budget, process in self.processes:
                try:
                    out, err = process.communicate(timeout=max(ends - time.monotonic(), 0.1))
                    figures = json.loads(out.strip().splitlines()[-1])
                except Exception as exc:
                    process.kill()
                    out, err = process.communicate()
                    figures = {"name": name, "budget": budget, "error": f"{exc!r}: {err[-500:]}"}
                self._results.append(figures)
        return self._results

    def stop(self) -> None:
        for _, _, process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


def summary(results: list[dict[str, Any]]) -> list[str]:
    """The figures as lines: the worst case per budget, then each scenario."""
    lines = []
    for budget in sorted({r["budget"] for r in results}):
        rows = [r for r in results if r["budget"] == budget and "error" not in r]
        answered = [r for r in rows if r["answered"] is not None]
        if answered:
            late = max(answered, key=lambda r: r["answered"])
            slow = max(rows, key=lambda r: r["returned"])
            lines.append(
                f"budget {budget:.0f} s: CloudFormation had the answer by {late['answered']:.1f} s "
                f"at worst ({late['name']}); the handler returned by {slow['returned']:.1f} s "
                f"({slow['name']})"
            )
    width = max((len(r["name"]) for r in results), default=10)
    lines.append(f"  {'scenario':<{width}}  budget  answered  returned  status")
    for r in sorted(results, key=lambda r: (r["budget"], r["name"])):
        if "error" in r:
            lines.append(f"  {r['name']:<{width}}  {r['budget']:5.0f}s  ERROR {r['error'][:200]}")
            continue
        answered = "-" if r["answered"] is None else f"{r['answered']:7.1f}s"
        lines.append(
            f"  {r['name']:<{width}}  {r['budget']:5.0f}s  {answered:>8}  {r['returned']:7.1f}s  "
            f"{r['status']}"
        )
    return lines


# --- the pytest plugin ---------------------------------------------------------------------

_KEY = pytest.StashKey[Measurement]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the test that waits for the measurement last, so the rest of the suite runs
    meanwhile."""
    waiting = [item for item in items if item.name == TEST_NAME]
    for item in waiting:
        items.remove(item)
        items.append(item)


def pytest_collection_finish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller measures, once (below)
    if any(item.name == TEST_NAME for item in session.items):
        session.config.stash[_KEY] = Measurement().start_or_remember()


def measurement(config: pytest.Config) -> Measurement | Published:
    """The measurement the plugin started (or one started now, if it did not); in an xdist
    worker, the one the controller started."""
    shared = getattr(config, "workerinput", {}).get(_WORKER_KEY)
    if shared:
        return Published(Path(shared))
    if _KEY not in config.stash:
        config.stash[_KEY] = Measurement().start_or_remember()
    return config.stash[_KEY]


# Under pytest-xdist the controller, which lives for the whole run, starts the measurement
# once (as soon as a worker's collection includes the test) and writes its results to a file
# in a directory every worker is told of; the worker that runs the test waits for that file.

_WORKER_KEY = "reporter_deadlines_dir"
_RESULTS = "results.json"


@dataclass
class Published:
    """The controller's measurement, as seen from a worker."""

    directory: Path

    def results(self) -> list[dict[str, Any]]:
        path = self.directory / _RESULTS
        ends = time.monotonic() + max(BUDGETS) + 90
        while not path.exists():
            if time.monotonic() > ends:
                raise TimeoutError(f"the controller wrote no {path}")
            time.sleep(0.5)
        return list(json.loads(path.read_text(encoding="utf-8")))


def _publish(found: Measurement, directory: Path) -> None:
    from clazar_templates.template.render import write_atomic  # not in the scenarios' processes

    write_atomic(directory / _RESULTS, json.dumps(found.results()))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    config = node.config
    if _DIR not in config.stash:
        config.stash[_DIR] = Path(tempfile.mkdtemp(prefix="reporter-deadlines-"))
    node.workerinput[_WORKER_KEY] = str(config.stash[_DIR])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    config = node.config
    wanted = any(i.split("::")[-1].split("[")[0] == TEST_NAME for i in ids)
    if wanted and _KEY not in config.stash:
        found = config.stash[_KEY] = Measurement().start_or_remember()
        threading.Thread(target=_publish, args=(found, config.stash[_DIR]), daemon=True).start()


_DIR = pytest.StashKey[Path]()


_PASSED: list[str] = []  # in the process that measured: the test passed (on any worker)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and report.nodeid.endswith(f"::{TEST_NAME}"):
        _PASSED.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    found = config.stash.get(_KEY, None)
    if found is not None and found._results is not None:
        terminalreporter.section("reporter deadlines (real time, real timings)")
        if found.remembered and found.kept is not None:
            terminalreporter.write_line(
                f"remembered: the figures of a passing run with this same handler, harness, "
                f"lock file and Python ({found.kept.name[:12]}); make clean measures again"
            )
        for line in summary(found._results):
            terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    found = config.stash.get(_KEY, None)
    if found is not None:
        found.stop()
        if _PASSED:
            found.keep()
    directory = config.stash.get(_DIR, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    import logging

    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


if __name__ == "__main__":
    with _quiet_logs():
        print(json.dumps(run_scenario(sys.argv[1], float(sys.argv[2]))))
