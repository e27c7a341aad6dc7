"""Faults under traffic, in figures: `python bench/faults.py [--rate 20] [--down 10] [--faults ...]`.

Runs the drills of tests/e2e/test_redis_faults.py (devtools.faults): a simulator, a PostgreSQL and a
Redis (append-only file) of its own, routelab under uvicorn in another process with production-like
settings, and open-loop traffic to /v1/chat/completions (every other request streamed; a stream counts
only when it ends with [DONE] and carried no error). Each fault strikes after `--before` seconds and is
healed `--down` seconds later: Redis stopped (SIGTERM) and started again on its append-only file, Redis
killed -9 and started again, PostgreSQL stopped and started again. Then every waiting record is flushed
(the server's spool too) and the call rows are counted: lost = requests without a row, duplicated = rows
beyond one per request or a decision id served twice. Latency counts from each request's scheduled
send time, failed requests included. The machine's own PostgreSQL and Redis are never touched.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.faults.drill import DrillResult, Schedule, Stack  # noqa: E402

FAULTS = ("redis-stop", "redis-kill", "postgres-stop")
ROW = "{:<32} {:<9} {:>8} {:>8} {:>5} {:>4} {:>7} {:>7}"
COLUMNS = ROW.format("fault", "traffic", "requests", "success", "lost", "dup", "p50 ms", "p99 ms")


def _row(result: DrillResult, traffic: str) -> str:
    success = f"{100 * result.succeeded / result.requests:.1f}%" if result.requests else "-"
    p50, p99 = (f"{result.latency_ms(q):.0f}" for q in (0.5, 0.99))
    return ROW.format(
        result.fault, traffic, result.requests, success, result.lost, result.duplicated, p50, p99
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="requests a second")
    parser.add_argument("--before", type=float, default=4.0, help="seconds of traffic before the fault")
    parser.add_argument("--down", type=float, default=10.0, help="seconds from the fault to the restart")
    parser.add_argument("--after", type=float, default=8.0, help="seconds of traffic after the restart")
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    args = parser.parse_args()
    schedule = Schedule(rate=args.rate, before=args.before, down=args.down, after=args.after)
    print("$ " + shlex.join(["python", "bench/faults.py", *sys.argv[1:]]))
    print(f"{args.rate:g} requests/s for {schedule.seconds:g} s per fault, down {args.down:g} s of it")
    print(COLUMNS, flush=True)
    results = []
    with Stack() as stack:
        for name in args.faults:
            result = stack.drill(stack.faults()[name], schedule)
            results.append(result)
            for traffic, stream in (("plain", False), ("streamed", True)):
                print(_row(result.part(stream=stream), traffic), flush=True)
    for result in results:
        if result.failures() or result.server_errors:
            print()
            print(result.summary())


if __name__ == "__main__":
    main()
