"""`manage.py demo` on the embedded default, in child processes with a var/ of their own."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def embedded_env():
    """No DATABASE_URL / REDIS_URL, and a fresh var/ that the embedded PostgreSQL's own user can enter."""
    var = Path(tempfile.mkdtemp(prefix="routelab-demo-"))
    var.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    yield {**env, "ROUTELAB_VAR_DIR": str(var)}, var
    subprocess.run(["bash", "-c", f"kill -INT $(head -1 {var}/postgres/postmaster.pid)"], capture_output=True)
    subprocess.run(["bash", "-c", f"kill $(cat {var}/redis.pid)"], capture_output=True)
    shutil.rmtree(var, ignore_errors=True)


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.integration
def test_the_demo_stops_the_servers_it_started_and_leaves_those_it_found_running(embedded_env):
    env, var = embedded_env
    first = _manage(env, "demo", "--no-serve", "--users=20", "--time-scale=0")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "The demo stopped the embedded PostgreSQL and Redis it started." in first.stdout
    assert not (var / "postgres" / "postmaster.pid").exists() and not (var / "redis.pid").exists()

    assert _manage(env, "check").returncode == 0  # any manage.py starts the servers and leaves them running
    second = _manage(env, "demo", "--no-serve", "--users=20", "--time-scale=0")
    assert second.returncode == 0, second.stdout + second.stderr
    hint = second.stdout.split("; to stop: ")[1].strip().rstrip(".")
    assert "left the embedded PostgreSQL and Redis running" in second.stdout
    assert (var / "postgres" / "postmaster.pid").exists() and (var / "redis.pid").exists()

    subprocess.run(["bash", "-c", hint], check=True, timeout=30)
    assert _wait_gone(var / "postgres" / "postmaster.pid") and _wait_gone(var / "redis.pid")


def _wait_gone(path: Path) -> bool:
    return eventually(lambda: not path.exists(), timeout=20)
