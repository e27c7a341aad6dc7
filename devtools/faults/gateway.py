"""routelab's gateway under uvicorn in a process of its own, on a drill's private PostgreSQL and Redis,
with production-like settings (DEBUG off, a secret key, no embedded servers)."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
WAITING = re.compile(r"(\d+) waiting")
OWN_FRAME = re.compile(
    rf'^\s+File "{re.escape(str(ROOT))}/(?P<path>(?!\.venv)[^"]+)", line (?P<line>\d+), in (?P<function>\S+)'
)
EXCEPTION = re.compile(r"^[\w.]+(Error|Exception|Refused|Timeout)\b")
LOGGED = re.compile(r" (WARNING|ERROR|CRITICAL) ")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gateway:
    def __init__(self, *, database_url: str, redis_url: str, var_dir: Path):
        self.var_dir = Path(var_dir)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.log_path = self.var_dir / "gateway.log"
        self.process: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ROUTELAB_VAR_DIR": str(self.var_dir),  # the server's spool, which a flush here drains too
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "HF_HUB_OFFLINE": "1",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> str:
        """A manage.py command against the private servers; its output, or an error carrying its stderr."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self, timeout: float = 30.0) -> None:
        args = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1"]
        args += ["--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the gateway exited:\n{self.log_path.read_text()[-3000:]}"
            try:
                httpx.get(f"{self.url}/admin/login/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the gateway did not start serving:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def spooled_files(self) -> list[Path]:
        spool = self.var_dir / "spool"
        return [path for path in spool.iterdir() if path.stat().st_size] if spool.is_dir() else []

    def drain(self, attempts: int = 10) -> None:
        """Flush until no record waits in the stream and no spool file (the server's included) holds one."""
        for _ in range(attempts):
            waiting = WAITING.search(self.manage("flush_calls"))
            if waiting and waiting.group(1) == "0" and not self.spooled_files():
                return
            time.sleep(0.5)
        raise AssertionError(f"records still waiting after {attempts} flushes: {self.spooled_files()}")

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_errors(self, *, since: int = 0, most: int = 8) -> list[tuple[int, str]]:
        """The server's most frequent complaints from byte `since` on, counted: logged warnings and
        errors, and each traceback's exception with the last frame of routelab's own code it went through."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            lines = log.read().decode(errors="replace").splitlines()
        found: Counter[str] = Counter()
        frame = ""
        for line in lines:
            if own := OWN_FRAME.match(line):
                frame = f"{own['path']}:{own['line']} in {own['function']}"
            elif EXCEPTION.match(line.strip()):
                found[_normalised(line) + (f" (at {frame})" if frame else "")] += 1
                frame = ""
            elif LOGGED.search(line):
                found[_normalised(line)] += 1
        return [(count, line) for line, count in found.most_common(most)]


def _normalised(line: str) -> str:
    """A log line without its timestamp and call ids, so the same error counts as one."""
    line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ", "", line.strip())
    return re.sub(r"\b[0-9a-f]{32}\b", "<id>", line)[:300]
