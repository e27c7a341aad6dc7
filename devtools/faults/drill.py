"""One fault drill: open-loop traffic through the gateway while a fault strikes and heals, then a drain
of every waiting record, then the call rows counted against the requests and their decision ids."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devtools.faults.gateway import Gateway
from devtools.faults.load import Outcome, open_loop
from devtools.faults.servers import PrivatePostgres, PrivateRedis
from devtools.simulator.server import run_in_thread


@dataclass(frozen=True)
class Schedule:
    rate: float = 20.0  # requests a second, half of them streamed
    before: float = 4.0  # seconds of traffic before the fault
    down: float = 10.0  # seconds from the fault to the restart
    after: float = 8.0  # seconds of traffic after the restart

    @property
    def seconds(self) -> float:
        return self.before + self.down + self.after


@dataclass(frozen=True)
class Fault:
    name: str
    strike: Callable[[], None]
    heal: Callable[[], None]


@dataclass(frozen=True)
class DrillResult:
    fault: str
    outcomes: list[Outcome]
    rows: dict[str, bool]  # the drill's new call rows: id (hex) -> streamed
    server_errors: list[tuple[int, str]]

    def part(self, stream: bool) -> DrillResult:
        """The plain or the streamed requests alone, with their rows."""
        outcomes = [o for o in self.outcomes if o.stream == stream]
        rows = {id_: streamed for id_, streamed in self.rows.items() if streamed == stream}
        return DrillResult(self.fault, outcomes, rows, self.server_errors)

    @property
    def requests(self) -> int:
        return len(self.outcomes)

    @property
    def succeeded(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def decision_ids(self) -> list[str]:
        return [o.decision_id for o in self.outcomes if o.decision_id]

    @property
    def lost(self) -> int:
        """Requests without a row: a decision id that has none, or a request that got no id (an error
        before the gateway made one) while no row is left over for it."""
        matched = len(set(self.decision_ids) & set(self.rows))
        without_id = self.requests - len(self.decision_ids)
        return self.requests - matched - min(without_id, len(self.rows) - matched)

    @property
    def duplicated(self) -> int:
        """Rows beyond one per request, and decision ids handed to two requests."""
        ids = self.decision_ids
        return max(0, len(self.rows) - self.requests) + len(ids) - len(set(ids))

    def latency_ms(self, q: float) -> float:
        """The q-quantile of latency (nearest rank), failed requests included."""
        ordered = sorted(o.latency_ms for o in self.outcomes)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def failures(self, most: int = 6) -> list[tuple[int, str]]:
        """The most frequent failures: kind, status and what came back."""
        found = Counter(
            f"{'stream' if o.stream else 'plain'} {o.status}: {o.error}" for o in self.outcomes if not o.ok
        )
        return [(count, text) for text, count in found.most_common(most)]

    def summary(self) -> str:
        lines = [
            f"{self.fault}: {self.succeeded}/{self.requests} succeeded, {len(self.rows)} rows, "
            f"{len(set(self.decision_ids))} distinct decision ids, "
            f"{self.lost} lost, {self.duplicated} duplicated"
        ]
        lines += [f"  {count} x {text}" for count, text in self.failures()]
        lines += ["  server log:"] + [f"    {count} x {text}" for count, text in self.server_errors]
        return "\n".join(lines)


class Stack:
    """A simulator, a PostgreSQL and a Redis of the drill's own, and the gateway on them with a seeded
    route and key; a context manager that stops all of them."""

    def __init__(self, directory: Path | None = None, *, time_scale: float = 0.2):
        self.directory = Path(directory or tempfile.mkdtemp(prefix="routelab-faults-"))
        self.time_scale = time_scale

    def __enter__(self) -> Stack:
        self.simulator = run_in_thread(seed=7, time_scale=self.time_scale)
        self.postgres = PrivatePostgres()
        self.redis = PrivateRedis(self.directory / "redis")
        self.redis.start()
        self.gateway = Gateway(
            database_url=self.postgres.url, redis_url=self.redis.url, var_dir=self.directory / "var"
        )
        self.key = self.gateway.manage("fault_drill_seed", "--simulator-url", self.simulator.url).strip()
        self.gateway.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.gateway.stop()
        if self.redis.running:
            self.redis.kill()
        self.postgres.close()
        self.simulator.stop()

    def faults(self) -> dict[str, Fault]:
        redis, postgres = self.redis, self.postgres
        return {
            "redis-stop": Fault("Redis stop (SIGTERM), AOF restart", redis.stop, redis.start),
            "redis-kill": Fault("Redis kill -9, AOF restart", redis.kill, redis.start),
            "postgres-stop": Fault("PostgreSQL stop, restart", postgres.stop, postgres.start),
        }

    def call_rows(self) -> dict[str, bool]:
        with psycopg.connect(host=self.postgres.socket_dir, dbname="routelab", user="postgres") as db:
            return {id_.hex: stream for id_, stream in db.execute("SELECT id, stream FROM routing_call")}

    def drill(self, fault: Fault, schedule: Schedule = Schedule()) -> DrillResult:
        """Traffic for `schedule.seconds`, `fault` striking after `before` and healed `down` later."""
        before = self.call_rows()
        log_start = self.gateway.log_size()  # this drill's server errors only
        steps = [(schedule.before, fault.strike), (schedule.before + schedule.down, fault.heal)]
        outcomes = asyncio.run(
            open_loop(self.gateway.url, self.key, rate=schedule.rate, seconds=schedule.seconds, steps=steps)
        )
        self.gateway.drain()
        rows = {id_: stream for id_, stream in self.call_rows().items() if id_ not in before}
        return DrillResult(fault.name, outcomes, rows, self.gateway.log_errors(since=log_start))
