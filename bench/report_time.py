"""Report time from roll-ups at 10^4, 10^5 and 10^6 calls: `python bench/report_time.py`.

Fills one experiment with synthetic calls and quality scores (10 calls per user, two variants), folds
them into the roll-ups, and times building the significance report, which reads the per-user roll-ups
only, never the call table. The roll-up time is the one-off cost of folding the newly added calls.
Uses the environment's database (the embedded one when DATABASE_URL is unset) and removes its rows after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

INSERT = """
WITH calls AS (
    INSERT INTO routing_call (id, route_id, source, user_hash, decision, decided_model, model_key, attempts,
        fallbacks_used, escalations, input_tokens, output_tokens, cost, latency_ms, status, error_kind,
        error_message, stream, metadata, prompt, answer, experiment_id, variant, phase, started_at,
        completed_at, recorded_at, rolled_up)
    SELECT gen_random_uuid(), %(route)s, 'bench', 'u' || (g %% %(users)s), '{}', '', '', '[]', 0, 0, 20, 200,
        CASE WHEN (g %% %(users)s) %% 2 = 0 THEN 0.02 ELSE 0.006 END * (0.5 + random()),
        400 + random() * 800, CASE WHEN random() < 0.01 THEN 'error' ELSE 'ok' END, '', '', false, '{}',
        '', '',
        %(experiment)s, CASE WHEN (g %% %(users)s) %% 2 = 0 THEN 'control' ELSE 'treatment' END, 1,
        now(), now(), now(), false
    FROM generate_series(%(start)s, %(stop)s - 1) AS g
    RETURNING id, status
)
INSERT INTO analytics_score (call_id, scorer, version, value, status, detail, source, created_at, updated_at,
    rolled_up)
SELECT id, 'recorded_quality', '1', LEAST(1, GREATEST(0, 0.8 + (random() - 0.5) * 0.4)), 'scored', '',
    'online', now(), now(), false
FROM calls WHERE status = 'ok'
"""


def _setup():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return _experiment()


def _experiment():
    from devtools.seed import registry_seed_simulator
    from experiments import services as experiments
    from experiments.models import Experiment
    from routing import services
    from routing.models import Route

    _cleanup()
    registry_seed_simulator(base_url="http://127.0.0.1:9/v1", name="bench-sim")
    route = Route.objects.create(name="bench-report")
    cheap = services.policy_create(
        route=route, name="cheap", spec={"kind": "rules", "rules": [], "default": "bench-sim/gpt-4o-mini"}
    )
    premium = services.policy_create(
        route=route,
        name="premium",
        spec={"kind": "rules", "rules": [], "default": "bench-sim/claude-opus-4-1"},
    )
    experiment = experiments.experiment_create(
        route=route,
        name="bench",
        hypothesis="",
        min_sample_per_variant=100,
        variants=[
            {"key": "control", "policy_version": premium, "weight": 0.5},
            {"key": "treatment", "policy_version": cheap, "weight": 0.5},
        ],
    )
    experiments.experiment_start(experiment=experiment)
    return Experiment.objects.select_related("route").get(id=experiment.id)


def _cleanup() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM routing_route WHERE name = 'bench-report'")
        row = cursor.fetchone()
        if row is None:
            return
        cursor.execute("SELECT id FROM experiments_experiment WHERE route_id = %s", [row[0]])
        ids = [r[0] for r in cursor.fetchall()]
        for table in (
            "analytics_useraggregate",
            "analytics_userscoreaggregate",
            "analytics_latencyhistogram",
            "analytics_dailyresult",
            "analytics_weeklyreport",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE experiment_id = ANY(%s)", [ids])
        cursor.execute(
            "DELETE FROM analytics_score WHERE call_id IN (SELECT id FROM routing_call WHERE route_id = %s)",
            [row[0]],
        )
        cursor.execute("DELETE FROM routing_call WHERE route_id = %s", [row[0]])
    from experiments.models import Experiment
    from routing.models import AuditEntry, Route

    for experiment in Experiment.objects.filter(route_id=row[0]):
        experiment.phases.all().delete()
        experiment.variants.all().delete()
        experiment.delete()
    AuditEntry.objects.filter(target_label__startswith="bench-report").delete()
    route = Route.objects.get(id=row[0])
    route.live_policy = None
    route.save()
    for policy in route.policies.all():
        policy.versions.all().delete()
        policy.delete()
    route.delete()


def _fill(experiment, start: int, stop: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            {
                "route": experiment.route_id,
                "experiment": experiment.id,
                "start": start,
                "stop": stop,
                "users": max(stop // 10, 1),
            },
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    experiment = _setup()
    from analytics.reports import experiment_report
    from analytics.rollups import rollups_refresh

    print("significance report from roll-ups (seconds; report = median of repeated builds)")
    print(f"{'calls':>10} {'users':>9} {'fill':>8} {'roll-up':>8} {'report':>8}  verdict")
    done = 0
    try:
        for size in args.sizes:
            started = time.perf_counter()
            _fill(experiment, done, size)
            filled = time.perf_counter() - started
            started = time.perf_counter()
            rollups_refresh()
            rolled = time.perf_counter() - started
            timings, report = [], None
            for _ in range(args.repeat):
                started = time.perf_counter()
                report = experiment_report(experiment=experiment)
                timings.append(time.perf_counter() - started)
            users = sum(v.users for v in report.variants)
            print(
                f"{size:>10} {users:>9} {filled:>8.2f} {rolled:>8.2f} {statistics.median(timings):>8.4f}  "
                f"{report.verdict[0][:70]}"
            )
            done = size
    finally:
        _cleanup()


if __name__ == "__main__":
    main()
