"""The reporter's worst-case time to answer CloudFormation, measured in real time with its
real timings against servers on 127.0.0.1 that hang, trickle or refuse, with a Lambda
context of 30 s and of 120 s (the function's Timeout). ``make test`` runs the same
measurement beside the rest of the suite (``tests/reporter_deadlines.py``); this runs it
alone and prints the figures (``make reporter-deadlines``, about two minutes).

    python scripts/reporter_deadlines.py [--budget SECONDS ...]

Exits 1 if any scenario answered or returned after its budget, or failed to run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reporter_deadlines import BUDGETS, Measurement, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, action="append", help="seconds (repeatable)")
    budgets = tuple(parser.parse_args().budget or BUDGETS)
    started = time.monotonic()
    results = Measurement(budgets).start().results()
    for line in summary(results):
        print(line)
    print(f"{len(results)} scenarios in {time.monotonic() - started:.0f} s (all at once)")
    late = [
        r
        for r in results
        if "error" in r
        or r["returned"] >= r["budget"]
        or (r["answered"] is not None and r["answered"] >= r["budget"])
    ]
    return 1 if late else 0


if __name__ == "__main__":
    sys.exit(main())
