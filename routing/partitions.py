"""The call table, range-partitioned by month on `started_at`, so its cost follows the rows that are new.

A month suits 10^7 calls a month: each partition's indexes stay a few levels deep, a year is a dozen
partitions (a read by call id alone, such as feedback, probes each one), and retention is usually stated in
months. Partitions are created `AHEAD_MONTHS` ahead by a daily beat task; a default partition catches any
call outside them (a clock far off, beat stopped for months), so an insert never fails, and the rows it
caught move into their month's partition when that is created. Old partitions are dropped whole, after the
roll-ups have folded every row, when `CALL_RETENTION_DAYS` is set.

The primary key is `(id, started_at)`, since a unique constraint on a partitioned table must hold the
partition key; Django still sees `id` as the key. Ids are random UUIDs made by the gateway, and a record
delivered twice carries the same `started_at`, so it lands in the same partition and the key still
stores it once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from routing import hooks
from routing.models import AuditEntry

logger = logging.getLogger(__name__)
TABLE = "routing_call"
DEFAULT = f"{TABLE}_default"
AHEAD_MONTHS = 3
MONTHLY = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")
# The rows the roll-up still has to claim (routing.services.calls_claim_sql), as its partial index has it.
AWAITING_ROLLUP = "NOT rolled_up AND experiment_id IS NOT NULL"
LOCK = "hashtext('routing_call_partitions')"
MOVE = f"""
WITH moved AS (DELETE FROM {DEFAULT} WHERE started_at >= %(start)s AND started_at < %(end)s RETURNING *)
INSERT INTO {{name}} SELECT * FROM moved
"""


@dataclass(frozen=True)
class CallPartition:
    name: str
    start: datetime
    end: datetime

    def bounds_sql(self) -> str:
        return f"FOR VALUES FROM ('{self.start.isoformat()}') TO ('{self.end.isoformat()}')"


def month_floor(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def month_add(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def month_partition(start: datetime) -> CallPartition:
    start = month_floor(start)
    return CallPartition(f"{TABLE}_p{start:%Y%m}", start, month_add(start, 1))


def call_partitions() -> list[CallPartition]:
    """The monthly partitions attached to the call table, oldest first (the default one aside)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    months = [MONTHLY.match(name) for name in names]
    starts = [datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC) for m in months if m]
    return [month_partition(start) for start in sorted(starts)]


def call_partitions_ensure(
    *, ahead: int = AHEAD_MONTHS, since: datetime | None = None, now: datetime | None = None
) -> list[str]:
    """Create the monthly partitions from `since` (default: this month) to `ahead` months after this one;
    returns the names created. Running it again creates nothing."""
    now = now or timezone.now()
    month, last = month_floor(since or now), month_add(month_floor(now), ahead)
    created = []
    while month <= last:
        if _partition_create(month_partition(month)):
            created.append(month_partition(month).name)
        month = month_add(month, 1)
    return created


def _partition_create(partition: CallPartition) -> bool:
    """Create one partition, first moving into it the rows the default partition caught for its month
    (PostgreSQL refuses to attach a range that rows of the default partition fall in). The default is
    locked meanwhile, so no insert slips a row into that range before the attach."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_advisory_xact_lock({LOCK}), to_regclass(%s)", [partition.name])
        if cursor.fetchone()[1] is not None:
            return False
        cursor.execute(f"LOCK TABLE {DEFAULT} IN EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TABLE {partition.name} "
            f"(LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)"
        )
        cursor.execute(MOVE.format(name=partition.name), {"start": partition.start, "end": partition.end})
        moved = cursor.rowcount
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {partition.name} {partition.bounds_sql()}")
    if moved:
        logger.warning("moved %s calls from %s into %s", moved, DEFAULT, partition.name)
    return True


def call_partitions_expire(*, retention_days: int | None = None, now: datetime | None = None) -> list[str]:
    """Drop the monthly partitions wholly older than the retention window (`CALL_RETENTION_DAYS`; unset
    keeps every call) whose calls the roll-ups have all folded; returns the names dropped. A partition
    with calls still to fold waits for a later run."""
    days = settings.CALL_RETENTION_DAYS if retention_days is None else retention_days
    if not days:
        return []
    cutoff = (now or timezone.now()) - timedelta(days=days)
    expired = [partition for partition in call_partitions() if partition.end <= cutoff]
    return [partition.name for partition in expired if _partition_drop(partition, days)]


def _partition_drop(partition: CallPartition, days: int) -> bool:
    with transaction.atomic(), connection.cursor() as cursor:
        if not _lock_if_present(cursor, partition) or not _folded(cursor, partition):
            return False
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {partition.name}")
        cursor.execute(f"DROP TABLE {partition.name}")
        _audit_drop(partition, days)
    logger.info("dropped %s: calls started before %s are past retention", partition.name, partition.end)
    return True


def _lock_if_present(cursor, partition: CallPartition) -> bool:
    """Hold the partition against a roll-up or a late write until the drop commits; False if another run
    dropped it meanwhile."""
    cursor.execute(f"SELECT pg_advisory_xact_lock({LOCK}), to_regclass(%s)", [partition.name])
    if cursor.fetchone()[1] is None:
        return False
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a table with deferred checks pending cannot go
    cursor.execute(f"LOCK TABLE {partition.name} IN SHARE MODE")
    return True


def _folded(cursor, partition: CallPartition) -> bool:
    """Whether the roll-ups hold every call of the partition, and the apps that refer to its calls (the
    scores, through routing.hooks) have let them go."""
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {partition.name} WHERE {AWAITING_ROLLUP})")
    if cursor.fetchone()[0] or not hooks.calls_expiring(partition.start, partition.end):
        logger.info("%s is past retention but not folded into the roll-ups yet", partition.name)
        return False
    return True


def _audit_drop(partition: CallPartition, days: int) -> None:
    AuditEntry.objects.create(
        action="call_partition_drop",
        target_type="routing.call_partition",
        target_id=partition.name,
        target_label=partition.name,
        changes={"started_from": partition.start.isoformat(), "started_before": partition.end.isoformat()},
        note=f"calls past CALL_RETENTION_DAYS={days}, already folded into the roll-ups",
    )
