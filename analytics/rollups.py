"""Roll-ups: fold new calls and scores into per-user totals, once each, so reports never scan calls.

Each refresh claims a batch of calls (or scores) not yet rolled up with a conditional update
(`SET rolled_up = true ... FOR UPDATE SKIP LOCKED ... RETURNING`; for calls, routing's
`calls_claim_sql`, since routing owns its call table) and adds them to the per-user totals
in the same statement, so concurrent or repeated refreshes count every row exactly once, and the work
done is proportional to what is new, whatever the size of the call table. A user's first roll-up also
takes their totals on the route in the PRE_EXPOSURE_DAYS before the phase began (the CUPED covariate),
one indexed look-up per new user.
"""

from __future__ import annotations

from django.db import connection, transaction

from routing.services import calls_claim_sql

BATCH = 50_000
BUCKET_GROWTH = 1.05  # latency histogram buckets: [1.05^k, 1.05^(k+1)) milliseconds
MAX_BUCKET = 400
SEGMENT_KEYS = ("feature", "user_tier")  # request metadata keys the results are broken down by
SEGMENT_VALUES = ", ".join(f"('{key}')" for key in SEGMENT_KEYS)
PRE_EXPOSURE_DAYS = 14  # the window before a phase whose calls give each user's CUPED covariate


def bucket_sql(column: str) -> str:
    """The histogram bucket of a timing column, as SQL."""
    return f"LEAST({MAX_BUCKET}, GREATEST(0, FLOOR(LN(GREATEST({column}, 1)) / LN({BUCKET_GROWTH}))))::int"


BUCKET_SQL = bucket_sql("latency_ms")

CLAIM_CALLS = f"""
WITH claimed AS ({calls_claim_sql()}
),
metrics AS (SELECT * FROM claimed WHERE status IN ('ok', 'error') AND user_hash <> ''),
users AS (
    INSERT INTO analytics_useraggregate
        (experiment_id, phase, variant, user_hash, calls, cost, latency_ms, latency_calls, errors, fallbacks,
         first_seen, pre_calls, pre_cost, pre_latency_ms, pre_latency_calls, pre_errors, pre_fallbacks)
    SELECT g.experiment_id, g.phase, g.variant, g.user_hash, g.calls, g.cost, g.latency_ms, g.latency_calls,
           g.errors, g.fallbacks, g.first_seen, pre.calls, pre.cost, pre.latency_ms, pre.latency_calls,
           pre.errors, pre.fallbacks
    FROM (
        SELECT experiment_id, phase, variant, user_hash, COUNT(*) AS calls, COALESCE(SUM(cost), 0) AS cost,
               COALESCE(SUM(latency_ms) FILTER (WHERE status = 'ok'), 0) AS latency_ms,
               COUNT(latency_ms) FILTER (WHERE status = 'ok') AS latency_calls,
               COUNT(*) FILTER (WHERE status = 'error') AS errors,
               COUNT(*) FILTER (WHERE fallbacks_used > 0) AS fallbacks, MIN(started_at) AS first_seen
        FROM metrics GROUP BY experiment_id, phase, variant, user_hash
    ) g
    LEFT JOIN experiments_experimentphase phase
        ON phase.experiment_id = g.experiment_id AND phase.number = g.phase
    LEFT JOIN experiments_experiment experiment ON experiment.id = g.experiment_id
    LEFT JOIN LATERAL (
        SELECT COUNT(*) AS calls, COALESCE(SUM(c.cost), 0) AS cost,
               COALESCE(SUM(c.latency_ms) FILTER (WHERE c.status = 'ok'), 0) AS latency_ms,
               COUNT(c.latency_ms) FILTER (WHERE c.status = 'ok') AS latency_calls,
               COUNT(*) FILTER (WHERE c.status = 'error') AS errors,
               COUNT(*) FILTER (WHERE c.fallbacks_used > 0) AS fallbacks
        FROM routing_call c
        WHERE c.route_id = experiment.route_id AND c.user_hash = g.user_hash AND c.status IN ('ok', 'error')
          AND c.started_at >= phase.started_at - interval '{PRE_EXPOSURE_DAYS} days'
          AND c.started_at < phase.started_at
    ) pre ON true
    ON CONFLICT (experiment_id, phase, variant, user_hash) DO UPDATE SET
        calls = analytics_useraggregate.calls + EXCLUDED.calls,
        cost = analytics_useraggregate.cost + EXCLUDED.cost,
        latency_ms = analytics_useraggregate.latency_ms + EXCLUDED.latency_ms,
        latency_calls = analytics_useraggregate.latency_calls + EXCLUDED.latency_calls,
        errors = analytics_useraggregate.errors + EXCLUDED.errors,
        fallbacks = analytics_useraggregate.fallbacks + EXCLUDED.fallbacks,
        first_seen = LEAST(analytics_useraggregate.first_seen, EXCLUDED.first_seen)
    RETURNING 1
),
histogram AS (
    INSERT INTO analytics_latencyhistogram (experiment_id, phase, variant, bucket, count)
    SELECT experiment_id, phase, variant,
           {BUCKET_SQL},
           COUNT(*)
    FROM metrics WHERE status = 'ok' AND latency_ms IS NOT NULL
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (experiment_id, phase, variant, bucket) DO UPDATE SET
        count = analytics_latencyhistogram.count + EXCLUDED.count
    RETURNING 1
),
user_histogram AS (
    INSERT INTO analytics_userlatencyhistogram
        (experiment_id, phase, variant, user_hash, measure, bucket, count)
    SELECT experiment_id, phase, variant, user_hash, 'latency', {BUCKET_SQL}, COUNT(*)
    FROM metrics WHERE status = 'ok' AND latency_ms IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6
    UNION ALL
    SELECT experiment_id, phase, variant, user_hash, 'ttft', {bucket_sql("ttft_ms")}, COUNT(*)
    FROM metrics WHERE status = 'ok' AND ttft_ms IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (experiment_id, phase, variant, user_hash, measure, bucket) DO UPDATE SET
        count = analytics_userlatencyhistogram.count + EXCLUDED.count
    RETURNING 1
),
segments AS (
    INSERT INTO analytics_usersegmentaggregate
        (experiment_id, phase, variant, user_hash, segment_key, segment_value, calls, cost, latency_ms,
         latency_calls, errors, fallbacks)
    SELECT experiment_id, phase, variant, user_hash, k.key, LEFT(metadata ->> k.key, 64), COUNT(*),
           COALESCE(SUM(cost), 0), COALESCE(SUM(latency_ms) FILTER (WHERE status = 'ok'), 0),
           COUNT(latency_ms) FILTER (WHERE status = 'ok'), COUNT(*) FILTER (WHERE status = 'error'),
           COUNT(*) FILTER (WHERE fallbacks_used > 0)
    FROM metrics CROSS JOIN (VALUES {SEGMENT_VALUES}) AS k(key)
    WHERE jsonb_typeof(metadata -> k.key) IN ('string', 'number', 'boolean')
    GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (experiment_id, phase, variant, user_hash, segment_key, segment_value) DO UPDATE SET
        calls = analytics_usersegmentaggregate.calls + EXCLUDED.calls,
        cost = analytics_usersegmentaggregate.cost + EXCLUDED.cost,
        latency_ms = analytics_usersegmentaggregate.latency_ms + EXCLUDED.latency_ms,
        latency_calls = analytics_usersegmentaggregate.latency_calls + EXCLUDED.latency_calls,
        errors = analytics_usersegmentaggregate.errors + EXCLUDED.errors,
        fallbacks = analytics_usersegmentaggregate.fallbacks + EXCLUDED.fallbacks
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM claimed), (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM histogram),
       (SELECT COUNT(*) FROM user_histogram), (SELECT COUNT(*) FROM segments)
"""

CLAIM_SCORES = """
WITH claimed AS (
    UPDATE analytics_score SET rolled_up = true
    WHERE id IN (
        SELECT id FROM analytics_score WHERE NOT rolled_up
        ORDER BY created_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED
    )
    RETURNING call_id, scorer, value, status
),
scored AS (
    SELECT c.experiment_id, c.phase, c.variant, c.user_hash, s.scorer, s.value
    FROM claimed s JOIN routing_call c ON c.id = s.call_id
    WHERE s.status = 'scored' AND s.value IS NOT NULL AND c.experiment_id IS NOT NULL AND c.user_hash <> ''
),
folded AS (
    INSERT INTO analytics_userscoreaggregate (experiment_id, phase, variant, user_hash, scorer, n, total)
    SELECT experiment_id, phase, variant, user_hash, scorer, COUNT(*), SUM(value)
    FROM scored GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (experiment_id, phase, variant, user_hash, scorer) DO UPDATE SET
        n = analytics_userscoreaggregate.n + EXCLUDED.n,
        total = analytics_userscoreaggregate.total + EXCLUDED.total
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM claimed), (SELECT COUNT(*) FROM folded)
"""


def _claim(sql: str, batch: int) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, {"batch": batch})
        return cursor.fetchone()[0]


def rollups_refresh(*, batch: int = BATCH, max_batches: int = 1000) -> dict[str, int]:
    """Fold every call and score not yet rolled up; returns how many of each were folded."""
    folded = {"calls": 0, "scores": 0}
    for name, sql in (("calls", CLAIM_CALLS), ("scores", CLAIM_SCORES)):
        for _ in range(max_batches):
            claimed = _claim(sql, batch)
            folded[name] += claimed
            if claimed < batch:
                break
    return folded


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The latency range in milliseconds that a histogram bucket covers."""
    low = 0.0 if bucket == 0 else BUCKET_GROWTH**bucket
    return low, BUCKET_GROWTH ** (bucket + 1)


def histogram_percentile(counts: dict[int, int], q: float) -> float | None:
    """The q-quantile of a bucketed distribution, interpolating linearly inside the bucket it falls in."""
    total = sum(counts.values())
    if total == 0:
        return None
    target = q * total
    seen = 0
    for bucket in sorted(counts):
        if seen + counts[bucket] >= target:
            low, high = bucket_bounds(bucket)
            fraction = (target - seen) / counts[bucket]
            return low + fraction * (high - low)
        seen += counts[bucket]
    return bucket_bounds(max(counts))[1]
