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


PRODUCTION = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/13",
    "SECRET_KEY": "k7Qm2-Vx9pLr_T4wZs8Nc1Hy6Bd3Fg0Jt5Ue7Wa2Xo9Pi4Rl-Mn8Kb1Cv6Dq3Sz",
    "ALLOWED_HOSTS": "routelab.example.com",
}
HTTPS_SETTINGS = (
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)
PRINT_HTTPS = "from django.conf import settings; " + "; ".join(
    f"print({name!r}, repr(settings.{name}))" for name in HTTPS_SETTINGS
)


def _production(changes: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process with production-like settings: DEBUG and the HTTPS variables unset."""
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", *HTTPS_SETTINGS}}
    env.update({**PRODUCTION, **changes})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _production({}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_with_debug_off_https_is_on_by_default():
    result = _production({}, "shell", "-c", PRINT_HTTPS)
    assert result.returncode == 0, result.stderr
    for line in (
        "SECURE_SSL_REDIRECT True",
        "SECURE_HSTS_SECONDS 31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS True",
        "SECURE_HSTS_PRELOAD True",
        "SECURE_PROXY_SSL_HEADER None",
        "SESSION_COOKIE_SECURE True",
        "CSRF_COOKIE_SECURE True",
    ):
        assert line in result.stdout.splitlines(), line


def test_each_https_setting_can_be_set_from_the_environment():
    changes = {
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "600",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "no",
        "SECURE_HSTS_PRELOAD": "0",
        "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https",
        "SESSION_COOKIE_SECURE": "off",
        "CSRF_COOKIE_SECURE": "false",
    }
    result = _production(changes, "shell", "-c", PRINT_HTTPS)
    assert result.returncode == 0, result.stderr
    for line in (
        "SECURE_SSL_REDIRECT False",
        "SECURE_HSTS_SECONDS 600",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS False",
        "SECURE_HSTS_PRELOAD False",
        "SECURE_PROXY_SSL_HEADER ('HTTP_X_FORWARDED_PROTO', 'https')",
        "SESSION_COOKIE_SECURE False",
        "CSRF_COOKIE_SECURE False",
    ):
        assert line in result.stdout.splitlines(), line


def test_in_debug_https_is_off_by_default():
    result = _production({"DEBUG": "true"}, "shell", "-c", PRINT_HTTPS)
    assert result.returncode == 0, result.stderr
    assert "SECURE_SSL_REDIRECT False" in result.stdout and "SECURE_HSTS_SECONDS 0" in result.stdout


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto", "give a header and its value"),
        ("SECURE_HSTS_SECONDS", "a year", "SECURE_HSTS_SECONDS='a year' is not an integer"),
        ("SECURE_SSL_REDIRECT", "maybe", "SECURE_SSL_REDIRECT='maybe' is not a boolean"),
    ],
)
def test_a_bad_https_value_stops_start_up_naming_it(name, value, words):
    result = _production({name: value}, "check")
    assert result.returncode != 0
    assert words in result.stderr
