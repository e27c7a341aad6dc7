"""The call table partitioned by month: partitions made ahead, the default one emptied, old ones dropped
after the roll-ups hold them. Real PostgreSQL DDL, inside each test's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from analytics.models import Score
from analytics.rollups import rollups_refresh
from routing.models import AuditEntry, Call
from routing.partitions import (
    AHEAD_MONTHS,
    DEFAULT,
    call_partitions,
    call_partitions_ensure,
    call_partitions_expire,
    month_add,
    month_floor,
)
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2030, 6, 15, 12, 0, tzinfo=UTC)  # a fixed clock, given to the services


def _partition_of(call: Call) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM routing_call WHERE id = %s", [call.id])
        return cursor.fetchone()[0]


def _names() -> set[str]:
    return {partition.name for partition in call_partitions()}


def _months(first: datetime, count: int) -> set[str]:
    return {f"routing_call_p{month_add(month_floor(first), n):%Y%m}" for n in range(count)}


def test_migrate_leaves_this_month_and_the_next_ones_partitioned_with_a_default():
    now = datetime.now(UTC)
    assert _months(now, AHEAD_MONTHS + 1) <= _names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [DEFAULT])
        assert cursor.fetchone()[0]


def test_a_call_in_a_future_month_lands_in_that_months_partition():
    call_partitions_ensure(now=NOW)
    call = CallFactory(started_at=datetime(2030, 8, 3, tzinfo=UTC))
    assert _partition_of(call) == "routing_call_p203008"


def test_ensure_creates_the_next_months_once():
    created = call_partitions_ensure(now=NOW)
    assert set(created) == _months(NOW, AHEAD_MONTHS + 1)
    assert call_partitions_ensure(now=NOW) == []
    assert call_partitions_ensure(now=NOW + timedelta(days=31)) == ["routing_call_p203010"]


def test_calls_the_default_partition_caught_move_into_their_month_when_it_is_created():
    stray = CallFactory(started_at=datetime(2031, 2, 10, tzinfo=UTC), user_hash="u1")
    assert _partition_of(stray) == DEFAULT
    call_partitions_ensure(now=datetime(2031, 1, 20, tzinfo=UTC))
    assert _partition_of(stray) == "routing_call_p203102"
    assert Call.objects.get(id=stray.id).user_hash == "u1"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {DEFAULT} WHERE started_at >= '2031-02-01'")
        assert cursor.fetchone()[0] == 0


def test_a_call_recorded_twice_is_stored_once_in_a_partitioned_table():
    call_partitions_ensure(now=NOW)
    call = CallFactory.build(started_at=NOW)
    Call.objects.bulk_create([call], ignore_conflicts=True)
    Call.objects.bulk_create([CallFactory.build(id=call.id, started_at=NOW)], ignore_conflicts=True)
    assert Call.objects.filter(id=call.id).count() == 1


def test_retention_is_off_unless_set(settings):
    settings.CALL_RETENTION_DAYS = None
    call_partitions_ensure(since=NOW - timedelta(days=400), now=NOW)
    assert call_partitions_expire(now=NOW) == []


def test_retention_drops_only_months_wholly_older_than_the_window_and_audits_it(settings):
    settings.CALL_RETENTION_DAYS = 60
    call_partitions_ensure(since=datetime(2030, 1, 1, tzinfo=UTC), now=NOW)
    old = CallFactory(started_at=datetime(2030, 3, 31, tzinfo=UTC))
    kept = CallFactory(started_at=datetime(2030, 4, 20, tzinfo=UTC))  # April ends after the cutoff
    dropped = call_partitions_expire(now=NOW)
    assert {"routing_call_p203001", "routing_call_p203002", "routing_call_p203003"} <= set(dropped)
    assert all(name < "routing_call_p203004" for name in dropped)
    assert not Call.objects.filter(id=old.id).exists()
    assert Call.objects.filter(id=kept.id).exists()
    audited = AuditEntry.objects.filter(action="call_partition_drop").values_list("target_id", flat=True)
    assert sorted(audited) == sorted(dropped)
    assert call_partitions_expire(now=NOW) == []


def test_retention_waits_until_the_rollups_have_folded_the_months_calls():
    call_partitions_ensure(since=datetime(2030, 1, 1, tzinfo=UTC), now=NOW)
    call = CallFactory(
        started_at=datetime(2030, 1, 5, tzinfo=UTC), experiment_id=1, variant="a", phase=1, user_hash="u1"
    )
    assert "routing_call_p203001" not in call_partitions_expire(retention_days=60, now=NOW)
    assert Call.objects.filter(id=call.id).exists()
    assert rollups_refresh()["calls"] == 1
    assert "routing_call_p203001" in call_partitions_expire(retention_days=60, now=NOW)
    assert not Call.objects.filter(id=call.id).exists()


def test_retention_waits_for_the_scores_to_be_folded_then_deletes_them_with_the_calls():
    call_partitions_ensure(since=datetime(2030, 1, 1, tzinfo=UTC), now=NOW)
    call = CallFactory(started_at=datetime(2030, 1, 5, tzinfo=UTC), rolled_up=True)
    score = Score.objects.create(call=call, scorer="quality", version="1", value=0.5, status="scored")
    assert "routing_call_p203001" not in call_partitions_expire(retention_days=60, now=NOW)
    assert rollups_refresh()["scores"] == 1
    assert "routing_call_p203001" in call_partitions_expire(retention_days=60, now=NOW)
    assert not Score.objects.filter(id=score.id).exists()


def test_a_score_is_attached_to_a_call_in_any_partition():
    call_partitions_ensure(now=NOW)
    call = CallFactory(started_at=NOW + timedelta(days=40))
    Score.objects.create(call=call, scorer="feedback", version="1", value=1.0, status="scored")
    assert Call.objects.get(id=call.id).scores.count() == 1
