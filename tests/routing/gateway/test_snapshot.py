"""The routing snapshot: built from the database once, refreshed in every process within a second."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from routing import services
from routing.gateway.snapshot import SnapshotCache, snapshot_cache
from tests.conftest import COMPLEXITY_SPEC

ROOT = Path(__file__).resolve().parents[3]
RULES_SPEC = {"kind": "rules", "rules": [], "default": "simulator/gpt-4o"}

WATCHER = """
import sys, time
from routing.gateway.snapshot import snapshot_cache
deadline = time.monotonic() + 20
last = None
while time.monotonic() < deadline:
    label = snapshot_cache.get().routes["support-bot"].live.label
    if label != last:
        print(f"{time.time():.3f} {label}", flush=True)
        last = label
    time.sleep(0.02)
"""


@pytest.mark.django_db
def test_a_steady_state_lookup_makes_no_database_query(live_route, django_assert_num_queries):
    snapshot_cache.get()
    with django_assert_num_queries(0):
        for _ in range(100):
            snapshot = snapshot_cache.get()
    assert snapshot.routes["support-bot"].live.label == "by-complexity@v1"


@pytest.mark.django_db
def test_the_snapshot_holds_routes_keys_models_and_compiled_policies(live_route):
    snapshot = SnapshotCache().get()
    assert set(snapshot.models) == {"simulator/gpt-4o-mini", "simulator/gpt-4o", "simulator/claude-opus-4-1"}
    assert snapshot.routes["support-bot"].live.kind == "complexity"
    assert snapshot.routes["support-bot"].daily_budget_usd == 25.0
    assert [key.route_names for key in snapshot.keys.values()] == [frozenset({"support-bot"})]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_published_change_reaches_another_process_within_a_second(live_route):
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "REDIS_URL": settings.REDIS_URL}
    watcher = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", WATCHER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert watcher.stdout.readline().split()[1] == "by-complexity@v1"
        version = services.policy_publish(policy=live_route.version.policy, spec=RULES_SPEC)
        services.route_set_live_policy(route=live_route.route, version=version)
        changed_at = time.time()
        seen_at, label = watcher.stdout.readline().split()
    finally:
        watcher.kill()
    assert label == "by-complexity@v2"
    assert float(seen_at) - changed_at < 1.0


def _test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def test_the_complexity_fixture_is_a_valid_policy():
    from routing.policies import compile_policy

    assert compile_policy(COMPLEXITY_SPEC).kind == "complexity"
