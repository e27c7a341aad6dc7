import os
import re
import signal
import socket
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path

import httpx
import psutil
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from analytics.models import Score
from experiments.models import Experiment
from routing.models import Call
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


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
    from django.core.management.base import CommandError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"port {port} is in use"):
            call_command("demo", serve=False, port=port, stdout=StringIO())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _subprocess_env() -> dict:
    """The test's own database and Redis for `manage.py demo` in a child process."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL}


class _Lines:
    """A child's output, read in a thread so the test can wait for a line without blocking on the pipe."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    def matching(self, pattern: str) -> re.Match | None:
        return next((m for line in list(self.lines) if (m := re.search(pattern, line))), None)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_demo_runs_twice_in_a_row_stopping_the_experiment_of_the_first_run():
    for _ in range(2):
        call_command(
            "demo", serve=False, port=0, time_scale=0.0, users=20, requests_per_user=1, stdout=StringIO()
        )
    first, second = Experiment.objects.order_by("id")
    assert (first.status, second.status) == ("stopped", "running")
    assert Call.objects.filter(experiment_id=second.id).count() == 20


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_served_demo_uses_its_port_feeds_later_traffic_through_its_beat_and_stops_its_processes():
    port = _free_port()
    command = [sys.executable, "manage.py", "demo", f"--port={port}", "--users=20", "--time-scale=0"]
    demo = subprocess.Popen(
        command, cwd=ROOT, env=_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        out = _Lines(demo.stdout)
        assert eventually(lambda: out.matching("Web UI: ") or demo.poll() is not None, timeout=180)
        assert out.matching(f"Web UI: http://127.0.0.1:{port}/dashboard/"), "".join(out.lines)
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len([c for c in children if "celery" in " ".join(c.cmdline())]) == 2  # worker and beat
        dashboard = httpx.get(f"http://127.0.0.1:{port}/dashboard/")
        assert dashboard.status_code in (200, 302)

        key = out.matching(r"api_key=(\S+)").group(1)
        experiment = Experiment.objects.get(status="running")
        before = Call.objects.filter(experiment_id=experiment.id).count()
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "model": "route:support-bot",
                "user": "later-user",
                "messages": [{"role": "user", "content": "Hi"}],
            },
            timeout=30,
        )
        assert answer.status_code == 200
        # nothing in this test flushes the call records: only the demo's beat does
        assert eventually(
            lambda: Call.objects.filter(experiment_id=experiment.id).count() > before, timeout=10
        )
    finally:
        demo.send_signal(signal.SIGTERM)
        returncode = demo.wait(60)
    assert returncode == 143
    assert "Traceback" not in "".join(out.lines)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
