"""The call record, written off the hot path and still durable.

A request never INSERTs: it appends its `CallRecord` to a Redis stream (or, if Redis is unreachable, to
a local spool file, which the same process moves into the stream once Redis answers again, as does any
`calls_flush` on that machine). `calls_flush` moves records into PostgreSQL in batches through a consumer
group and acknowledges them only after the transaction commits, so a stopped database or a crashed
process leaves records waiting, never lost. The call id is the primary key, so a record delivered twice
is stored once.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import redis
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Q

from routing.gateway.live import counters_put_back, counters_queue, counters_take
from routing.gateway.pgtext import storable
from routing.gateway.redis_client import get_async_redis, get_redis, outage
from routing.hooks import calls_stored
from routing.models import ApiKey, Call

logger = logging.getLogger(__name__)
STREAM = "routelab:calls"
DEAD_LETTERS = "routelab:calls:dead"
GROUP = "recorder"
CONSUMER = "flusher"
# call id -> route id for an hour: feedback on a call still in the stream is told from an unknown call
RECENT = "routelab:call:{}:route"
RECENT_SECONDS = 3600


@dataclass(frozen=True)
class CallRecord:
    id: str
    source: str
    status: str
    started_at: str
    completed_at: str
    route_id: int | None = None
    policy_version_id: int | None = None
    api_key_id: int | None = None
    user_hash: str = ""
    decision: dict = field(default_factory=dict)
    decided_model: str = ""
    model_id: int | None = None
    model_key: str = ""
    attempts: list = field(default_factory=list)
    fallbacks_used: int = 0
    escalations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: str = "0"
    latency_ms: float | None = None
    ttft_ms: float | None = None
    error_kind: str = ""
    error_message: str = ""
    stream: bool = False
    metadata: dict = field(default_factory=dict)
    experiment_id: int | None = None
    variant: str = ""
    phase: int | None = None
    prompt: str = ""
    answer: str = ""
    provider_quality: float | None = None

    def to_json(self) -> str:
        # vars(), not asdict(): asdict deep-copies every nested value, a cost on each call's hot path
        return json.dumps(vars(self), default=str)

    def to_call(self) -> Call:
        fields = {name: storable(value) for name, value in asdict(self).items()}
        fields["id"] = uuid.UUID(self.id)
        fields["cost"] = Decimal(self.cost)
        fields["started_at"] = datetime.fromisoformat(self.started_at)
        fields["completed_at"] = datetime.fromisoformat(self.completed_at)
        return Call(**fields)


def _spool_dir() -> Path:
    path = Path(settings.VAR_DIR) / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


# Set while this process may have records in the spool: at start (a previous run may have left some)
# and after each spill; cleared by a drain that empties it.
_spooled = threading.Event()
_spooled.set()


def _spool(record: CallRecord) -> None:
    """Last resort when Redis is unreachable: one JSON line in this process's spool file, on disk.

    The write holds an exclusive lock on the file, and checks that the file it opened is still the one
    at the path: a drainer renames a file before it reads it, under the same lock, so no line is ever
    written to a file that has already been read.
    """
    path = _spool_dir() / f"calls-{os.getpid()}.jsonl"
    line = record.to_json() + "\n"
    while True:
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if _is_at(handle, path):
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
                break
    _spooled.set()


def _is_at(handle, path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _claim_spool() -> list[Path]:
    """Take the spool files by renaming them (atomic, so each has one taker), leftovers of a drainer
    that died included. Two drainers may both take a leftover: the stream then holds its records
    twice, which the call id's primary key absorbs."""
    spool = _spool_dir()
    claimed = []
    for path in [*spool.glob("calls-*.jsonl"), *spool.glob("*.draining")]:
        target = spool / f"claimed-{uuid.uuid4().hex}.draining"
        try:
            path.rename(target)
        except FileNotFoundError:
            continue
        claimed.append(target)
    return claimed


def _read_claimed(path: Path) -> list[str]:
    with open(path) as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)  # waits for a write that opened the file before the rename
        return [line for line in handle.read().splitlines() if line.strip()]


def spool_drain(client: redis.Redis | None = None) -> int:
    """Move the records spooled during a Redis outage into the stream; returns how many it moved.

    A file is deleted only once its records are in the stream; if Redis fails again meanwhile, the file
    stays claimed and the next drain takes it up.
    """
    client = client or get_redis()
    _spooled.clear()
    moved = 0
    try:
        for path in _claim_spool():
            lines = _read_claimed(path)
            pipe = client.pipeline(transaction=False)
            for line in lines:
                pipe.xadd(STREAM, {"record": line})
            pipe.execute()
            path.unlink(missing_ok=True)
            moved += len(lines)
    except redis.RedisError:
        _spooled.set()
        logger.warning("Redis failed again while the spool drained; %s records moved so far", moved)
    return moved


class AlsoWritten(Protocol):
    """Other writes that go out in a call record's round trip (the answering models' successes)."""

    def queue(self, pipe) -> int: ...  # its commands on the pipeline; how many

    async def sent(self, replies: list) -> None: ...  # their replies, errors as exception objects

    async def unsent(self) -> None: ...  # Redis failed


async def call_record_aenqueue(
    record: CallRecord, counters: dict[str, float] | None = None, also: AlsoWritten | None = None
) -> None:
    """Into the stream, with the call's additions to the shared daily `counters` and `also`'s writes in
    the same round trip; to this process's spool file while Redis fails (or just failed), the counters
    kept pending."""
    pending = counters_take(counters or {})
    if not outage.skipping():
        try:
            replies, queued = await _send_record(record, pending, also)
        except redis.RedisError as exc:
            counters_put_back(pending)
            logger.warning("call %s: Redis unreachable (%s), spooling to disk", record.id, exc)
        else:
            if also is not None:
                await also.sent(replies[len(replies) - queued :])
            if _spooled.is_set():
                await asyncio.to_thread(spool_drain)
            return
    await asyncio.to_thread(_spool, record)
    if also is not None:
        await also.unsent()


async def _send_record(record: CallRecord, pending: dict[str, float], also: AlsoWritten | None):
    """One pipeline; raises the first error of the record's own commands, returns every reply."""
    pipe = get_async_redis().pipeline(transaction=bool(pending))
    counters_queue(pipe, pending)
    pipe.xadd(STREAM, {"record": record.to_json()})
    if record.route_id is not None:
        pipe.set(RECENT.format(record.id), record.route_id, ex=RECENT_SECONDS)
    queued = also.queue(pipe) if also is not None else 0
    replies = await pipe.execute(raise_on_error=False)
    if errors := [reply for reply in replies[: len(replies) - queued] if isinstance(reply, Exception)]:
        raise errors[0]
    return replies, queued


def _ensure_group(client: redis.Redis) -> None:
    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _dead_letter(entry_id, fields: dict, reason: str) -> None:
    logger.error("call record %s moved to %s: %s", entry_id, DEAD_LETTERS, reason)
    get_redis().xadd(DEAD_LETTERS, {**{k.decode(): v for k, v in fields.items()}, "reason": reason[:500]})


def _decode(entries) -> tuple[list[bytes], list[tuple[bytes, dict, Call]]]:
    ids, decoded = [], []
    for entry_id, fields in entries:
        ids.append(entry_id)
        try:
            decoded.append((entry_id, fields, CallRecord(**json.loads(fields[b"record"])).to_call()))
        except (KeyError, TypeError, ValueError) as exc:
            _dead_letter(entry_id, fields, f"unreadable: {exc}")
    return ids, decoded


def _store_or_isolate(decoded: list[tuple[bytes, dict, Call]]) -> None:
    """Store a batch; if a row breaks a constraint (a route or policy deleted meanwhile) or holds a value
    the database refuses, store the rest one by one and move only the offending records to the dead
    letters, so one bad record never blocks the queue. A database that is down still raises, leaving
    the whole batch waiting."""
    try:
        _store([call for _, _, call in decoded])
    except (IntegrityError, DataError):
        for entry_id, fields, call in decoded:
            try:
                _store([call])
            except (IntegrityError, DataError) as exc:
                _dead_letter(entry_id, fields, f"rejected by the database: {exc}")


def _store(calls: list[Call]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a rejected row fails here, not at a later commit
        Call.objects.bulk_create(calls, ignore_conflicts=True)
        _touch_keys(calls)
        _announce_on_commit(calls)


def _announce_on_commit(calls: list[Call]) -> None:
    """Once the calls are committed, tell the apps that registered for it (analytics scores them) which
    answered calls were stored; decided-only calls have no answer.

    Scoring is idempotent, so a record stored twice (redelivered) is harmlessly scored twice; a failure
    to enqueue fails the flush, which leaves the records waiting and tries again.
    """
    ids = [str(call.id) for call in calls if call.status == Call.Status.OK and call.source != "route_api"]
    if ids:
        transaction.on_commit(lambda: calls_stored(ids))


def _touch_keys(calls: list[Call]) -> None:
    """An API key's last use, kept here rather than on the hot path."""
    latest: dict[int, datetime] = {}
    for call in calls:
        if call.api_key_id is not None:
            latest[call.api_key_id] = max(call.started_at, latest.get(call.api_key_id, call.started_at))
    for key_id, when in latest.items():
        ApiKey.objects.filter(id=key_id).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=when)
        ).update(last_used_at=when)


def _flush_batch(client: redis.Redis, batch: int, pending: bool) -> int:
    response = client.xreadgroup(GROUP, CONSUMER, {STREAM: "0" if pending else ">"}, count=batch)
    entries = response[0][1] if response else []
    if not entries:
        return 0
    ids, decoded = _decode(entries)
    _store_or_isolate(decoded)
    client.xack(STREAM, GROUP, *ids)
    client.xdel(STREAM, *ids)
    return len(ids)


def calls_flush(*, batch: int = 500, max_batches: int = 100) -> int:
    """Move waiting call records into PostgreSQL; returns how many were handled. Safe to run anywhere."""
    client = get_redis()
    _ensure_group(client)
    spool_drain(client)  # into the stream, which the batches below move on
    handled = 0
    for pending in (True, False):
        for _ in range(max_batches):
            moved = _flush_batch(client, batch, pending)
            handled += moved
            if moved < batch:
                break
    return handled


def recent_call_route(call_id: str) -> int | None:
    """The route id of a call answered in the last hour, from Redis: known before its row is stored."""
    try:
        route_id = get_redis().get(RECENT.format(call_id))
    except redis.RedisError:
        return None
    return int(route_id) if route_id is not None else None


def calls_waiting() -> int:
    """Records not yet in PostgreSQL (in the stream, not yet acknowledged)."""
    return get_redis().xlen(STREAM)
