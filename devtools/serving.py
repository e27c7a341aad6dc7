"""Serve an ASGI app with uvicorn in a daemon thread: the simulator, and routelab in tests and the demo."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class ServedApp:
    """An ASGI app served in a daemon thread; stop it, or use it as a context manager."""

    def __init__(self, app: Any, server: uvicorn.Server, thread: threading.Thread, url: str) -> None:
        self.app, self.url = app, url
        self._server, self._thread = server, thread

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _wait_until_serving(server: uvicorn.Server, thread: threading.Thread, timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"{name} did not start serving")
        time.sleep(0.005)


def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, name: str = "routelab", startup_timeout: float = 10.0
) -> ServedApp:
    """Serve `app` on `host:port` (0 picks a free port) until `.stop()`."""
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host=host, port=bound_port, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    _wait_until_serving(server, thread, startup_timeout, name)
    url_host = f"[{host}]" if ":" in host else host
    return ServedApp(app, server, thread, f"http://{url_host}:{bound_port}")
