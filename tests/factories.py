from decimal import Decimal

import factory
from django.test import TestCase

from routing.models import Model, Provider


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"provider-{n}")
    kind = Provider.Kind.OPENAI_COMPATIBLE
    base_url = "http://127.0.0.1:9/v1"


class ModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Model

    provider = factory.SubFactory(ProviderFactory)
    model_id = factory.Sequence(lambda n: f"model-{n}")
    display_name = factory.LazyAttribute(lambda o: o.model_id)
    tier = Model.Tier.MID
    input_price_per_mtok = Decimal("2.50")
    output_price_per_mtok = Decimal("10.00")
    context_window = 128_000
    max_output_tokens = 16_384


# -- experiments: built through the services, so every row is one the platform could have made -------------

ALL_PREMIUM_SPEC = {"kind": "rules", "rules": [], "default": "simulator/claude-opus-4-1"}


class RouteFactory(factory.Factory):
    class Meta:
        model = dict  # built by routing.services.route_create

    name = factory.Sequence(lambda n: f"route-{n}")

    @classmethod
    def _create(cls, model_class, **fields):
        from routing.services import route_create

        return route_create(**fields)


class PolicyVersionFactory(factory.Factory):
    """A policy's first version on `route` (rules sending everything to one simulated model)."""

    class Meta:
        model = dict  # built by routing.services.policy_create

    route = None
    name = factory.Sequence(lambda n: f"policy-{n}")
    spec = factory.LazyFunction(lambda: dict(ALL_PREMIUM_SPEC))

    @classmethod
    def _create(cls, model_class, **fields):
        from routing.services import policy_create

        return policy_create(**fields)


class ExperimentFactory(factory.Factory):
    """A draft 50/50 experiment of `control` against `treatment` (policy versions of `route`)."""

    class Meta:
        model = dict  # built by experiments.services.experiment_create

    class Params:
        control = None
        treatment = None

    route = None
    name = factory.Sequence(lambda n: f"experiment-{n}")
    hypothesis = "All-premium answers are better and worth their cost."
    variants = factory.LazyAttribute(
        lambda o: [
            {"key": "control", "policy_version": o.control, "weight": 0.5},
            {"key": "treatment", "policy_version": o.treatment, "weight": 0.5},
        ]
    )

    @classmethod
    def _create(cls, model_class, **fields):
        from experiments.services import experiment_create

        return experiment_create(**fields)


def _now():
    from django.utils import timezone

    return timezone.now()


class CallFactory(factory.django.DjangoModelFactory):
    """A recorded call of `route`; give experiment_id, variant, phase and user_hash for exposures."""

    class Meta:
        model = "routing.Call"

    id = factory.Faker("uuid4", cast_to=None)
    source = "api"
    status = "ok"
    started_at = factory.LazyFunction(_now)
    completed_at = factory.LazyAttribute(lambda o: o.started_at)


def publish_live(route, name: str, spec: dict):
    """Make a new policy `name` with `spec` the route's live one, as every process would see it next."""
    from routing import services
    from routing.gateway import live

    with TestCase.captureOnCommitCallbacks(execute=True):  # the real invalidation, as at commit
        version = services.policy_create(route=route, name=name, spec=spec)
        services.route_set_live_policy(route=route, version=version)
    live.reset_cache()
    return version


def embedding_model_create(*, provider, model_id: str, input_price: str) -> Model:
    """An embedding model on `provider` with OpenAI's limits for one, through the registry service."""
    from routing import services

    return services.model_create(
        provider=provider,
        model_id=model_id,
        tier="cheap",
        input_price_per_mtok=Decimal(input_price),
        output_price_per_mtok=Decimal("0"),
        context_window=8191,
        max_output_tokens=1,
        supports_embeddings=True,
    )
