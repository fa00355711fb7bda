"""The reporter's worst-case time to answer CloudFormation, measured in real time with its
real timings against servers on 127.0.0.1 that hang, trickle or refuse, with a Lambda
context of 30 s and of 120 s (the function's Timeout) (``tests/reporter_deadlines.py``).
``make test`` runs this as a job of its own, at normal priority beside the rest of the
checks (at nice 1), with ``--remember``; ``make reporter-deadlines`` measures, alone.

    python scripts/reporter_deadlines.py [--budget SECONDS ...] [--remember]

``--remember`` reuses the figures kept for exactly this code, lock file and Python
(``CLAZAR_DEADLINES_CACHE``), and keeps those of a run that passed. Exits 1 if any scenario
answered or returned after its budget, or failed to run (judged again when remembered).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reporter_deadlines import BUDGETS, Measurement, judge, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, action="append", help="seconds (repeatable)")
    parser.add_argument("--remember", action="store_true", help="reuse and keep figures")
    arguments = parser.parse_args()
    budgets = tuple(arguments.budget or BUDGETS)
    started = time.monotonic()
    measurement = Measurement(budgets)
    measurement = measurement.start_or_remember() if arguments.remember else measurement.start()
    try:
        results = measurement.results()
    finally:
        measurement.stop()
    if measurement.remembered and measurement.kept is not None:
        kept = measurement.kept.name[:12]
        print(f"remembered: the figures of a passing run of this same code ({kept})")
    for line in summary(results):
        print(line)
    problems = judge(results, budgets)
    for problem in problems:
        print(f"late or failed: {problem}", file=sys.stderr)
    if not problems and arguments.remember:
        measurement.keep()
    how = "remembered" if measurement.remembered else "measured, all at once"
    print(f"{len(results)} scenarios in {time.monotonic() - started:.0f} s ({how})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
