"""The compose file defines the full stack, and Docker's own tool accepts it where it is installed."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_compose_file_defines_the_full_stack():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["web"]["command"][0] == "uvicorn"
    assert services["web"]["command"][1] == "config.asgi:application"
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_the_compose_file_names_no_secret_value():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "sk-" not in text
    assert "${OPENAI_API_KEY:-}" in text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed here")
def test_docker_compose_config_accepts_the_file():
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
