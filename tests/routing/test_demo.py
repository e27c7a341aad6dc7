from io import StringIO

import pytest
from django.core.management import call_command

from routing.models import Call


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_demo_calls_every_simulated_model_and_routes_through_the_proxy():
    out = StringIO()
    call_command("demo", serve=False, port=0, time_scale=0.0, stdout=out)
    text = out.getvalue()
    for model in ("gpt-4o-mini", "gpt-4o", "claude-opus-4-1"):
        assert model in text
    assert "Streaming from claude-opus-4-1 through the Anthropic adapter" in text
    assert "simulator/gpt-4o-mini" in text and "simulator/claude-opus-4-1" in text
    assert "routed cost $" in text and "% less)" in text
    assert Call.objects.filter(route__name="support-bot", status="ok").count() == 8
