from io import StringIO

import pytest
from django.core.management import call_command

from analytics.models import Score
from experiments.models import Experiment
from routing.models import Call


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_demo_tells_the_whole_story_and_prints_a_significant_cost_cut():
    out = StringIO()
    call_command("demo", serve=False, port=0, time_scale=0.0, users=200, requests_per_user=2, stdout=out)
    text = out.getvalue()
    for model in ("gpt-4o-mini", "gpt-4o", "claude-opus-4-1"):
        assert model in text
    assert "Streaming from claude-opus-4-1 through the Anthropic adapter" in text
    assert "400 requests in" in text
    experiment = Experiment.objects.get()
    assert Call.objects.filter(experiment_id=experiment.id).count() == 400
    assert Score.objects.filter(scorer="recorded_quality").exists()
    assert "treatment cuts cost per call by" in text
    assert "quality (recorded_quality)" in text and " points [" in text


def test_the_demo_stops_at_once_naming_a_port_that_is_taken():
    import socket

    from django.core.management.base import CommandError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"port {port} is in use"):
            call_command("demo", serve=False, port=port, stdout=StringIO())
