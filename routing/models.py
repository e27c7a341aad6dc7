"""The model registry: providers and their models with prices, limits and capabilities."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from routing.provider_keys import key_env_refusal, provider_key
from routing.providers import serves_embeddings
from routing.providers.base import ModelTarget, Price

ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def validate_base_url(value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValidationError("Enter an http(s) URL with a host, for example https://api.openai.com/v1.")


def validate_env_var_name(value: str) -> None:
    if not ENV_VAR_NAME.match(value):
        raise ValidationError(
            "Name the environment variable that holds the key (for example OPENAI_API_KEY), "
            "not the key itself."
        )
    if refusal := key_env_refusal(value):
        raise ValidationError(refusal)


class Provider(models.Model):
    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        ANTHROPIC = "anthropic", "Anthropic"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (vLLM, Ollama, LiteLLM, llama.cpp)"
        SIMULATOR = "simulator", "routelab simulator"
        REPLAY = "replay", "Replay of a recorded dataset"

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    base_url = models.CharField(max_length=500, blank=True, validators=[validate_base_url])
    api_key_env = models.CharField(
        "API key environment variable",
        max_length=128,
        blank=True,
        validators=[validate_env_var_name],
        help_text="The name of the environment variable holding the API key. The key is never stored.",
    )
    options = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind != self.Kind.REPLAY and not self.base_url:
            raise ValidationError({"base_url": "A base URL is required for this provider kind."})
        if self.kind == self.Kind.REPLAY and not (self.options or {}).get("dataset"):
            raise ValidationError({"options": 'A replay provider names its dataset: {"dataset": "<name>"}.'})
        if not isinstance(self.options, dict):
            raise ValidationError({"options": "Options must be a JSON object."})

    @property
    def api_key(self) -> str:
        return provider_key(provider=self.name, env_name=self.api_key_env)

    @property
    def api_key_configured(self) -> bool:
        return bool(self.api_key)


class Model(models.Model):
    class Tier(models.TextChoices):
        CHEAP = "cheap", "Cheap"
        MID = "mid", "Mid"
        PREMIUM = "premium", "Premium"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    model_id = models.CharField("provider's model id", max_length=200)
    display_name = models.CharField(max_length=200, blank=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.MID)
    input_price_per_mtok = models.DecimalField(
        "input price per million tokens (USD)",
        max_digits=12,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
    )
    output_price_per_mtok = models.DecimalField(
        "output price per million tokens (USD)",
        max_digits=12,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
    )
    context_window = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    max_output_tokens = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    supports_vision = models.BooleanField(default=False)
    supports_tools = models.BooleanField(default=False)
    supports_json_mode = models.BooleanField(default=False)
    supports_embeddings = models.BooleanField(
        default=False,
        help_text="An embedding model: it serves /v1/embeddings and never a chat request.",
    )
    quality_estimate = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A prior quality in [0, 1], for example a benchmark accuracy; cost-aware policies use it.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__name", "model_id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model_id"], name="model_unique_per_provider"),
            models.CheckConstraint(
                condition=models.Q(input_price_per_mtok__gte=0, output_price_per_mtok__gte=0),
                name="model_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.model_id

    def clean(self) -> None:
        if self.max_output_tokens and self.context_window and self.max_output_tokens > self.context_window:
            raise ValidationError({"max_output_tokens": "Cannot exceed the context window."})
        if self.supports_embeddings and self.provider_id and not serves_embeddings(self.provider.kind):
            kind = self.provider.get_kind_display()
            raise ValidationError({"supports_embeddings": f"A {kind} provider serves no embeddings."})

    @property
    def key(self) -> str:
        """The name policies use for this model: `<provider>/<model id>`."""
        return f"{self.provider.name}/{self.model_id}"

    @property
    def capabilities(self) -> list[str]:
        flags = {
            "vision": self.supports_vision,
            "tools": self.supports_tools,
            "json_mode": self.supports_json_mode,
            "embeddings": self.supports_embeddings,
        }
        return [name for name, on in flags.items() if on]

    @property
    def price(self) -> Price:
        return Price(self.input_price_per_mtok, self.output_price_per_mtok)

    def target(self) -> ModelTarget:
        provider = self.provider
        return ModelTarget(
            provider_kind=provider.kind,
            base_url=provider.base_url,
            model_id=self.model_id,
            price=self.price,
            api_key=provider.api_key,
            max_output_tokens=self.max_output_tokens,
            options=dict(provider.options or {}),
        )


class Route(models.Model):
    """A named entry point of a client application (for example `support-bot`) with its live policy."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    live_policy = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="live_on_routes"
    )
    daily_budget_usd = models.DecimalField(
        "daily budget (USD)",
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    scoring = models.JSONField(default=dict, blank=True)
    max_attempts = models.PositiveSmallIntegerField(
        "provider requests per client request",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Attempts across retries, fallbacks and escalations; empty: GATEWAY_MAX_ATTEMPTS.",
    )
    deadline_seconds = models.FloatField(
        "deadline (seconds)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1), MaxValueValidator(3600)],
        help_text="After this the gateway answers 504; empty: GATEWAY_DEADLINE_SECONDS.",
    )
    allowed_fallbacks = models.JSONField(
        "allowed fallbacks",
        default=list,
        blank=True,
        help_text="Models (provider/model-id) a request may fall back to, in this order, after the ones its "
        "policy names.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoutingPolicy(models.Model):
    """A named policy of a route; its behaviour lives in immutable, numbered versions."""

    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="policies")
    name = models.SlugField(max_length=64)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["route__name", "name"]
        verbose_name_plural = "routing policies"
        constraints = [models.UniqueConstraint(fields=["route", "name"], name="policy_unique_per_route")]

    def __str__(self) -> str:
        return f"{self.route.name}/{self.name}"


class PolicyVersion(models.Model):
    """One immutable version of a policy: an edit publishes a new version, old ones stay readable."""

    policy = models.ForeignKey(RoutingPolicy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=32)
    spec = models.JSONField()
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="policy_version_unique")]

    def __str__(self) -> str:
        return f"{self.policy} v{self.number}"

    @property
    def label(self) -> str:
        return f"{self.policy.name}@v{self.number}"


class ApiKey(models.Model):
    """A client's key: shown once, stored as a SHA-256 hash, scoped to routes, revocable."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    routes = models.ManyToManyField(Route, related_name="api_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: no limit."
    )
    tokens_per_day = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Input plus output tokens, UTC days.",
    )
    spend_per_day_usd = models.DecimalField(
        "spend per day (USD)",
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="UTC days. Empty: no limit.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Call(models.Model):
    """One routed request, failed ones included: what was decided, what ran, what it cost."""

    class Status(models.TextChoices):
        OK = "ok"
        ERROR = "error"
        DECIDED = "decided", "decided (the client calls the model)"
        CANCELLED = "cancelled", "cancelled (the client hung up before the answer)"

    # The table is partitioned by month on started_at (migration 0011, routing/partitions.py): in the
    # database the primary key is (id, started_at), and nothing may hold a foreign key to it.
    id = models.UUIDField(primary_key=True, editable=False)
    route = models.ForeignKey(Route, null=True, on_delete=models.PROTECT, related_name="calls")
    policy_version = models.ForeignKey(
        PolicyVersion, null=True, on_delete=models.PROTECT, related_name="calls"
    )
    api_key = models.ForeignKey(ApiKey, null=True, on_delete=models.SET_NULL, related_name="calls")
    source = models.CharField(max_length=16)
    user_hash = models.CharField(max_length=64, blank=True)
    decision = models.JSONField(default=dict)
    decided_model = models.CharField(max_length=300, blank=True)
    model = models.ForeignKey(Model, null=True, on_delete=models.PROTECT, related_name="calls")
    model_key = models.CharField(max_length=300, blank=True)
    attempts = models.JSONField(default=list)
    fallbacks_used = models.PositiveIntegerField(default=0)
    escalations = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal(0))
    latency_ms = models.FloatField(null=True)
    ttft_ms = models.FloatField(null=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    error_kind = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    stream = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict)
    # What scorers read: the request's text and the answer (truncated; CALL_TEXT_MAX_CHARS=0 keeps none),
    # and a quality the provider itself knew (the simulator's latent quality, a replayed recorded label).
    prompt = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    provider_quality = models.FloatField(null=True, blank=True)
    # Experiments live in another app; calls name them by id so routing keeps no dependency on it.
    experiment_id = models.BigIntegerField(null=True, blank=True)
    variant = models.CharField(max_length=64, blank=True)
    phase = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    # Claimed once by the analytics roll-up (a conditional update), so every call is counted exactly once.
    rolled_up = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["route", "started_at"], name="call_route_time"),
            models.Index(fields=["route", "user_hash", "started_at"], name="call_route_user_time"),
            models.Index(fields=["model", "started_at"], name="call_model_time"),
            models.Index(fields=["status", "started_at"], name="call_status_time"),
            models.Index(fields=["experiment_id", "variant", "started_at"], name="call_experiment_variant"),
            models.Index(
                fields=["recorded_at"],
                name="call_awaiting_rollup",
                condition=models.Q(rolled_up=False, experiment_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"call {self.id} ({self.status})"


class AuditEntry(models.Model):
    """Who changed what, when and why: every change to routes, policies, keys and experiments."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type} {self.target_label or self.target_id}"


class Job(models.Model):
    """A routed call run by a Celery worker: `POST /api/v1/route` with `"execute": true`."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, editable=False)
    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="jobs")
    api_key = models.ForeignKey(ApiKey, null=True, on_delete=models.SET_NULL, related_name="jobs")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="jobs")
    call_id = models.UUIDField(unique=True, help_text="The call row this job yields, exactly once.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    request = models.JSONField()
    exposure = models.JSONField(default=dict, blank=True)
    # The decision the client was answered with when the job was queued, and the paid calls it took;
    # the worker executes that decision rather than deciding (and paying a classifier) again.
    decision = models.JSONField(null=True, blank=True)
    routing_spend = models.JSONField(default=list, blank=True)
    user_hash = models.CharField(max_length=64, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_status = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="job_status_time")]

    def __str__(self) -> str:
        return f"job {self.id} ({self.status})"


class TextEmbedding(models.Model):
    """A text's embedding by one embedding model, computed once and kept (float32 bytes)."""

    text_hash = models.CharField(max_length=64, help_text="sha256 of the text.")
    embedding_model = models.CharField(max_length=100)
    dimensions = models.PositiveSmallIntegerField()
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["text_hash", "embedding_model"], name="text_embedding_once")
        ]

    def __str__(self) -> str:
        return f"{self.embedding_model}:{self.text_hash[:12]}"


class TrainedRouter(models.Model):
    """One immutable version of a learned router: what it was trained on, how, and how it scored held out.

    The fitted predictor is `state` (numpy's .npz format, read without pickle); a retraining under the
    same name saves the next version, and a policy names the version it routes with.
    """

    class Family(models.TextChoices):
        KNN = "knn", "k-nearest neighbours"
        LINEAR = "linear", "logistic / linear regression"
        MF = "mf", "matrix factorisation"

    name = models.SlugField(max_length=64)
    version = models.PositiveIntegerField()
    family = models.CharField(max_length=16, choices=Family.choices)
    hyperparameters = models.JSONField(default=dict)
    model_names = models.JSONField(help_text="The models it predicts, in column order.")
    embedding_model = models.CharField(max_length=100)
    source = models.JSONField(help_text="What it was trained on: a dataset, or a route and time window.")
    split = models.JSONField(help_text="The seeded split by prompt, with item counts per model.")
    metrics = models.JSONField(default=dict, help_text="Held-out figures.")
    heldout_hashes = models.JSONField(
        default=list, help_text="sha256 of each held-out prompt, so an evaluation scores it on those alone."
    )
    state = models.BinaryField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="trained_router_version")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.version}"


class RoutingGeneration(models.Model):
    """One row: a counter bumped in the same transaction as every change to routing data, so a process
    that may have missed the change's announcement in Redis (Redis was down) can still tell it is stale."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"routing generation {self.value}"
