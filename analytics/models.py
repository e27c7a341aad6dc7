"""Quality scores attached to calls: by scorers in workers, by users' feedback, by offline runs."""

from __future__ import annotations

from django.db import models


class Score(models.Model):
    class Status(models.TextChoices):
        SCORED = "scored"
        SKIPPED = "skipped"
        FAILED = "failed"

    class Source(models.TextChoices):
        ONLINE = "online", "scored by a worker after the call"
        FEEDBACK = "feedback", "sent by a user"

    # No database constraint: the call table is partitioned by time, and a foreign key could point at it
    # only through a key holding started_at. Scores are written for stored calls only, and go with their
    # calls: on delete here, and before routing drops an expired partition (analytics.services).
    call = models.ForeignKey(
        "routing.Call", on_delete=models.CASCADE, related_name="scores", db_constraint=False
    )
    scorer = models.CharField(max_length=64)
    version = models.CharField(max_length=64)
    value = models.FloatField(null=True, blank=True, help_text="In [0, 1]; empty when it could not score.")
    raw = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    detail = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ONLINE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    rolled_up = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "scorer", "version"], name="score_once_per_scorer_version"
            )
        ]
        indexes = [
            models.Index(fields=["scorer", "created_at"], name="score_scorer_time"),
            models.Index(
                fields=["created_at"], name="score_awaiting_rollup", condition=models.Q(rolled_up=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scorer}@{self.version}={self.value} on {self.call_id}"


class PendingFeedback(models.Model):
    """Feedback on a call whose record is still on its way to PostgreSQL (it waits in Redis for the next
    flush); applied when the call is stored, if the call belongs to one of `route_ids`."""

    call_id = models.UUIDField(db_index=True)
    route_ids = models.JSONField(help_text="The ids of the routes of the key that sent it.")
    kind = models.CharField(max_length=16)
    value = models.JSONField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind}={self.value} for {self.call_id} (pending)"


class UserAggregate(models.Model):
    """One user's running totals in one experiment phase and variant: the unit of analysis.

    Users, not calls, are randomised, so metrics per call are ratio metrics over users (sum over sum),
    analysed with the delta method. Totals grow as the roll-up claims new calls; a report reads these
    rows, one per user, and never the call table.
    """

    experiment_id = models.BigIntegerField()
    phase = models.PositiveIntegerField()
    variant = models.CharField(max_length=64)
    user_hash = models.CharField(max_length=64)
    calls = models.BigIntegerField(default=0)
    cost = models.FloatField(default=0.0)
    latency_ms = models.FloatField(default=0.0, help_text="Sum over successful calls.")
    latency_calls = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    fallbacks = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField()
    # The same totals over the user's calls on the route in the PRE_EXPOSURE_DAYS before the phase began,
    # taken when the user is first rolled up: the CUPED covariate, untouched by the treatment.
    pre_calls = models.BigIntegerField(default=0)
    pre_cost = models.FloatField(default=0.0)
    pre_latency_ms = models.FloatField(default=0.0)
    pre_latency_calls = models.BigIntegerField(default=0)
    pre_errors = models.BigIntegerField(default=0)
    pre_fallbacks = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "phase", "variant", "user_hash"], name="user_aggregate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"user {self.user_hash[:12]} in {self.variant} of experiment {self.experiment_id}"


class UserScoreAggregate(models.Model):
    """One user's quality scores by one scorer in one experiment phase and variant."""

    experiment_id = models.BigIntegerField()
    phase = models.PositiveIntegerField()
    variant = models.CharField(max_length=64)
    user_hash = models.CharField(max_length=64)
    scorer = models.CharField(max_length=64)
    n = models.BigIntegerField(default=0)
    total = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "phase", "variant", "user_hash", "scorer"], name="user_score_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scorer} of user {self.user_hash[:12]} in {self.variant}"


class LatencyHistogram(models.Model):
    """Successful calls per log-spaced latency bucket: percentiles without keeping every latency."""

    experiment_id = models.BigIntegerField()
    phase = models.PositiveIntegerField()
    variant = models.CharField(max_length=64)
    bucket = models.PositiveSmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "phase", "variant", "bucket"], name="latency_histogram_unique"
            )
        ]

    def __str__(self) -> str:
        return f"bucket {self.bucket} of {self.variant}: {self.count}"


class UserSegmentAggregate(models.Model):
    """One user's totals over the calls of one segment (a request metadata value, such as a feature or a
    user tier): the unit of the results by segment."""

    experiment_id = models.BigIntegerField()
    phase = models.PositiveIntegerField()
    variant = models.CharField(max_length=64)
    user_hash = models.CharField(max_length=64)
    segment_key = models.CharField(max_length=32)
    segment_value = models.CharField(max_length=64)
    calls = models.BigIntegerField(default=0)
    cost = models.FloatField(default=0.0)
    latency_ms = models.FloatField(default=0.0)
    latency_calls = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    fallbacks = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "phase", "variant", "user_hash", "segment_key", "segment_value"],
                name="user_segment_aggregate_unique",
            )
        ]
        indexes = [models.Index(fields=["experiment_id", "phase", "segment_key"], name="user_segment_key")]

    def __str__(self) -> str:
        return f"user {self.user_hash[:12]} in {self.segment_key}={self.segment_value} of {self.variant}"


class UserLatencyHistogram(models.Model):
    """One user's successful calls per bucket of a timing (`latency`, or `ttft`, the time to first token of
    a stream): the per-user counts below a quantile that make the quantile tests cluster-robust (calls of
    one user are not independent)."""

    class Measure(models.TextChoices):
        LATENCY = "latency"
        TTFT = "ttft"

    experiment_id = models.BigIntegerField()
    phase = models.PositiveIntegerField()
    variant = models.CharField(max_length=64)
    user_hash = models.CharField(max_length=64)
    measure = models.CharField(max_length=8, choices=Measure.choices, default=Measure.LATENCY)
    bucket = models.PositiveSmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "phase", "variant", "user_hash", "measure", "bucket"],
                name="user_latency_histogram_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["experiment_id", "phase", "measure", "variant"], name="user_latency_histogram_arm"
            )
        ]

    def __str__(self) -> str:
        return f"bucket {self.bucket} of user {self.user_hash[:12]} in {self.variant}: {self.count}"


class DailyResult(models.Model):
    """The report's statistics as they stood at the end of a day: the cumulative-delta chart's points."""

    experiment_id = models.BigIntegerField()
    phase = models.PositiveIntegerField()
    day = models.DateField()
    results = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["experiment_id", "phase", "day"], name="daily_result_unique")
        ]

    def __str__(self) -> str:
        return f"experiment {self.experiment_id} phase {self.phase} on {self.day}"


class WeeklyReport(models.Model):
    """The significance report of a running experiment for one week: the beat job builds revision 1 (running
    it twice is harmless); each "run now" adds a revision with the numbers as they stand then."""

    experiment_id = models.BigIntegerField()
    experiment_name = models.CharField(max_length=200)
    week_start = models.DateField()
    revision = models.PositiveIntegerField(default=1)
    report = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-week_start", "-revision", "experiment_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "week_start", "revision"], name="weekly_report_revision_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.experiment_name}, week of {self.week_start}, revision {self.revision}"
