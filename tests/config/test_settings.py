"""Settings choose their backends from the environment; checked in fresh processes, as a user starts them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "from django.conf import settings; from django.db import connection; from django.core.cache import cache;"
    "connection.ensure_connection(); cache.set('probe', 'ok');"
    "print('DB', settings.DATABASE_DESCRIPTION); print('HOST', settings.DATABASES['default']['HOST']);"
    "print('BROKER', settings.CELERY_BROKER_URL); print('CACHE', cache.get('probe'))"
)


def _run(env_changes: dict[str, str | None], code: str = PROBE) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.integration
def test_with_database_and_redis_urls_unset_the_embedded_servers_are_used(tmp_path):
    var = tmp_path / "var"
    result = _run({"ROUTELAB_VAR_DIR": str(var), "SECRET_KEY": None})
    try:
        assert result.returncode == 0, result.stderr
        assert f"DB embedded PostgreSQL under {var / 'postgres'}" in result.stdout
        assert "BROKER redis+socket://" in result.stdout
        assert "CACHE ok" in result.stdout
        assert (var / "postgres" / "PG_VERSION").exists()
        assert "routelab database: embedded PostgreSQL" in result.stderr
        # A second process finds both servers running and shares them.
        again = _run({"ROUTELAB_VAR_DIR": str(var)})
        assert again.returncode == 0, again.stderr
        assert "CACHE ok" in again.stdout
    finally:
        _stop_embedded(var)


def _stop_embedded(var: Path) -> None:
    for pidfile in (var / "redis.pid", var / "postgres" / "postmaster.pid"):
        if pidfile.exists():
            subprocess.run(["kill", pidfile.read_text().split()[0]], check=False)


def test_with_urls_set_the_named_servers_are_used():
    result = _run(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "REDIS_URL": "redis://127.0.0.1:6379/13",
            "SECRET_KEY": "s",
        }
    )
    assert result.returncode == 0, result.stderr
    assert "DB PostgreSQL postgres at 127.0.0.1:5432" in result.stdout
    assert "BROKER redis://127.0.0.1:6379/13" in result.stdout
    assert "routelab database: PostgreSQL postgres at 127.0.0.1:5432; broker: Redis at" in result.stderr


def test_a_bad_value_stops_start_up_with_a_message_naming_it():
    result = _run({"DATABASE_URL": "mysql://root@localhost/x", "SECRET_KEY": "s"}, code="print(1)")
    assert result.returncode != 0
    assert "DATABASE_URL must be a URL with scheme" in result.stderr


def test_without_a_secret_key_a_production_process_refuses_to_start():
    result = _run(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "REDIS_URL": "redis://127.0.0.1:6379/13",
            "SECRET_KEY": "",
            "DEBUG": "false",
        },
        code="print(1)",
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
