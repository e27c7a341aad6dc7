"""Experiments on a route's live traffic, their variants, phases and promotions; and datasets of recorded
answers (prompts, the answers real models gave them and the quality of each answer)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from routing.models import TrainedRouter


def prompt_hash(prompt: str) -> str:
    """The sha256 hex digest of the prompt with runs of whitespace collapsed to one space and trimmed."""
    return hashlib.sha256(" ".join(prompt.split()).encode("utf-8")).hexdigest()


class Dataset(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    source = models.CharField("source path", max_length=500, blank=True)
    quality_scale = models.FloatField(
        default=1.0, help_text="The largest quality: 1 for correctness labels, 10 for judge scores."
    )
    model_names = models.JSONField(default=list, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quality_scale__gt=0), name="dataset_quality_scale_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DatasetItem(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    prompt = models.TextField()
    prompt_hash = models.CharField(max_length=64, help_text="sha256 of the whitespace-normalised prompt.")
    reference = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    excluded = models.BooleanField(
        default=False, help_text="Left out of reported figures (a prompt seen in router training)."
    )

    class Meta:
        ordering = ["dataset", "position"]
        indexes = [models.Index(fields=["dataset", "prompt_hash"], name="datasetitem_prompt_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "position"], name="datasetitem_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}#{self.position}"


class RecordedAnswer(models.Model):
    item = models.ForeignKey(DatasetItem, on_delete=models.CASCADE, related_name="answers")
    model_name = models.CharField(max_length=200)
    answer = models.TextField(blank=True)
    quality = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["item", "model_name"]
        constraints = [
            models.UniqueConstraint(fields=["item", "model_name"], name="recordedanswer_unique_per_model"),
        ]
        indexes = [models.Index(fields=["model_name", "item"], name="recordedanswer_model_lookup")]

    def __str__(self) -> str:
        return f"{self.model_name} on item {self.item_id}"


# -- experiments ---------------------------------------------------------------------------------------------


def new_seed() -> str:
    """A fresh hashing seed: a new seed reshuffles every user, so phases that change weights take one."""
    return secrets.token_hex(8)


UNIT_INTERVAL = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class Metric(models.TextChoices):
    QUALITY = "quality", "Quality"
    COST = "cost", "Cost per call"
    LATENCY = "latency", "Latency"
    ERROR_RATE = "error_rate", "Error rate"


class Engine(models.TextChoices):
    SEQUENTIAL = "sequential", "Sequential (always valid, look daily)"
    FIXED = "fixed", "Fixed horizon (one look at the planned size)"
    BAYESIAN = "bayesian", "Bayesian (chance to win, risk)"


class Correction(models.TextChoices):
    HOLM = "holm", "Holm (family-wise error)"
    BH = "bh", "Benjamini-Hochberg (false discovery rate)"


class Experiment(models.Model):
    """An A/B test of policy versions on a route's traffic; users are assigned by GrowthBook hashing."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        RUNNING = "running"
        PAUSED = "paused"
        STOPPED = "stopped"
        CONCLUDED = "concluded"

    ACTIVE = (Status.DRAFT, Status.RUNNING, Status.PAUSED)

    route = models.ForeignKey("routing.Route", on_delete=models.PROTECT, related_name="experiments")
    name = models.SlugField(max_length=64)
    hypothesis = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    coverage = models.FloatField(
        default=1.0, validators=UNIT_INTERVAL, help_text="The share of the route's users in the experiment."
    )
    seed = models.CharField(max_length=64, default=new_seed)
    hash_version = models.PositiveSmallIntegerField(default=2)
    namespace = models.CharField(max_length=64, blank=True, help_text="Blank: no namespace.")
    namespace_start = models.FloatField(default=0.0, validators=UNIT_INTERVAL)
    namespace_end = models.FloatField(default=1.0, validators=UNIT_INTERVAL)
    targeting = models.JSONField(
        default=dict, blank=True, help_text='Allowed values per metadata key, e.g. {"user_tier": ["free"]}.'
    )
    primary_metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.QUALITY)
    guardrail_metrics = models.JSONField(default=list, blank=True)
    guardrail_margins = models.JSONField(
        default=dict,
        blank=True,
        help_text='Non-inferiority margin per guardrail, relative: {"latency": 0.05} allows 5% worse.',
    )
    engine = models.CharField(
        max_length=16,
        choices=Engine.choices,
        blank=True,
        help_text="Blank: the STATS_ENGINE setting.",
    )
    correction = models.CharField(
        max_length=8,
        choices=Correction.choices,
        blank=True,
        help_text="Across every treatment and metric. Blank: the STATS_CORRECTION setting.",
    )
    cuped = models.BooleanField(
        default=True, help_text="Adjust each metric by the users' pre-exposure values where they exist."
    )
    capping_percentile = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
        help_text="Cap each user's cost and latency total at this percentile of users, e.g. 0.99.",
    )
    alpha = models.FloatField(default=0.05, validators=[MaxValueValidator(0.5)])
    min_sample_per_variant = models.PositiveIntegerField(default=1000, validators=[MinValueValidator(1)])
    phase = models.PositiveIntegerField(default=1, help_text="The current phase's number.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    winner = models.ForeignKey("Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["route", "name"], name="experiment_unique_name_per_route"),
            models.CheckConstraint(
                condition=models.Q(coverage__gte=0, coverage__lte=1), name="experiment_coverage_in_unit"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    namespace_start__gte=0,
                    namespace_end__lte=1,
                    namespace_start__lt=models.F("namespace_end"),
                ),
                name="experiment_namespace_range_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(alpha__gt=0, alpha__lte=0.5), name="experiment_alpha_valid"
            ),
        ]
        indexes = [models.Index(fields=["route", "status"], name="experiment_route_status")]

    def __str__(self) -> str:
        return f"{self.route.name}/{self.name}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def namespace_tuple(self) -> tuple[str, float, float] | None:
        """GrowthBook's namespace form (id, start, end), or None when the experiment has none."""
        return (self.namespace, self.namespace_start, self.namespace_end) if self.namespace else None

    @property
    def current_phase(self) -> ExperimentPhase | None:
        return next((p for p in self.phases.all() if p.number == self.phase), None)


class Variant(models.Model):
    """One arm of an experiment: a policy version of the experiment's route and its share of traffic."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(max_length=64)
    position = models.PositiveSmallIntegerField(help_text="0 is the control.")
    policy_version = models.ForeignKey(
        "routing.PolicyVersion", on_delete=models.PROTECT, related_name="experiment_variants"
    )
    weight = models.FloatField(validators=UNIT_INTERVAL)

    class Meta:
        ordering = ["experiment", "position"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="variant_unique_key"),
            models.UniqueConstraint(fields=["experiment", "position"], name="variant_unique_position"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def is_control(self) -> bool:
        return self.position == 0


class ExperimentPhase(models.Model):
    """A stretch of an experiment with fixed seed, coverage and weights: results compare within a phase."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="phases")
    number = models.PositiveIntegerField()
    seed = models.CharField(max_length=64)
    coverage = models.FloatField(validators=UNIT_INTERVAL)
    weights = models.JSONField(help_text="The variants' weights in position order.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["experiment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "number"], name="phase_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id} phase {self.number}"


class Promotion(models.Model):
    """A variant's policy made the route's live policy, with the evidence relied on; can be rolled back."""

    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="promotions")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="promotions")
    route = models.ForeignKey("routing.Route", on_delete=models.PROTECT, related_name="promotions")
    previous_policy = models.ForeignKey(
        "routing.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    promoted_policy = models.ForeignKey("routing.PolicyVersion", on_delete=models.PROTECT, related_name="+")
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    promoted_at = models.DateTimeField()
    reason = models.TextField()
    report = models.JSONField(default=dict, blank=True, help_text="The evidence the promotion relied on.")
    verdict = models.JSONField(
        default=dict,
        blank=True,
        help_text="The variant's decision (ship, wait, no-ship) and its reasons then.",
    )
    override_reason = models.TextField(
        blank=True, help_text="Why the variant was promoted although its decision was not ship."
    )
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    rolled_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rollback_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-promoted_at", "-id"]
        constraints = [
            # An experiment concludes once: the database refuses a second promotion even if a lock is missed.
            models.UniqueConstraint(fields=["experiment"], name="promotion_one_per_experiment"),
        ]

    def __str__(self) -> str:
        return f"promotion of {self.variant} in {self.experiment}"

    @property
    def is_rolled_back(self) -> bool:
        return self.rolled_back_at is not None


# -- offline evaluations -------------------------------------------------------------------------------------


class RunProgress:
    """What a queued run shows while a worker runs it: whether it ended, and the share of its work done."""

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def progress(self) -> float:
        """The share of the work done, in [0, 1]."""
        if self.progress_total:
            return min(1.0, self.progress_done / self.progress_total)
        return 1.0 if self.status == self.Status.SUCCEEDED else 0.0


class Evaluation(RunProgress, models.Model):
    """One offline run of policy versions over a dataset: its recorded answers replayed, or live calls scored.

    A Celery task claims it (queued -> running) and stores the summary in `results` and the curves as
    EvaluationPoint rows; it can then be attached to an experiment as evidence.
    """

    class Mode(models.TextChoices):
        RECORDED = "recorded", "Recorded answers"
        LIVE = "live", "Live calls"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="evaluations")
    policy_versions = models.ManyToManyField("routing.PolicyVersion", related_name="evaluations")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.RECORDED)
    weak_model = models.CharField(
        max_length=200, blank=True, help_text="The weak model as the person named it; blank: the lowest mean."
    )
    strong_model = models.CharField(
        max_length=200, blank=True, help_text="The strong model as named; blank: the highest mean quality."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True)
    decisions = models.JSONField(
        default=dict, blank=True, help_text="Per item, each policy's choice and score (the decisions CSV)."
    )
    error = models.TextField(blank=True)
    experiment = models.ForeignKey(
        Experiment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="evaluations",
        help_text="The experiment this run is evidence for.",
    )
    attached_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress_done__lte=models.F("progress_total")),
                name="evaluation_progress_within_total",
            ),
        ]
        indexes = [models.Index(fields=["status"], name="evaluation_status")]

    def __str__(self) -> str:
        return f"evaluation #{self.pk}"


class EvaluationPoint(models.Model):
    """One point of an evaluation's curves: a policy at one threshold, the random router or a single model."""

    class Series(models.TextChoices):
        POLICY = "policy"
        RANDOM = "random"
        WEAK = "weak"
        STRONG = "strong"

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="points")
    series = models.CharField(max_length=16, choices=Series.choices)
    label = models.CharField(max_length=300, help_text="The policy version or the model.")
    position = models.PositiveIntegerField()
    threshold = models.FloatField(null=True, blank=True)
    strong_share = models.FloatField()
    quality = models.FloatField()
    cost = models.FloatField(help_text="Mean cost per item (USD).")

    class Meta:
        ordering = ["evaluation", "series", "label", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "series", "label", "position"], name="evaluationpoint_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} #{self.position}"


class RouterTraining(RunProgress, models.Model):
    """One request to train a router, run by a worker (or the command) with its progress and outcome."""

    Status = Evaluation.Status

    class Source(models.TextChoices):
        DATASET = "dataset", "an imported dataset"
        ROUTE = "route", "a route's recorded calls"

    name = models.SlugField(max_length=64, help_text="The router's name; the run saves its next version.")
    family = models.CharField(max_length=16, choices=TrainedRouter.Family.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    parameters = models.JSONField(
        default=dict,
        help_text="The source's parameters, hyperparameters, seed, held-out share, weak, strong.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    router = models.ForeignKey(
        TrainedRouter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"training #{self.pk} of {self.name}"
