from decimal import Decimal

import factory

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
