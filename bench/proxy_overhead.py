"""The proxy's added latency over calling a fixed-answer upstream directly: `python bench/proxy_overhead.py`.

Starts a fixed-answer OpenAI-compatible upstream (bench/fixed_upstream.py) and routelab under uvicorn
with two workers, as docker-compose runs it, each in processes of their own, then drives load with
Debian's `hey` (a Go program, so the load generator does not share a Python process or much CPU with
the proxy): once straight to the upstream and once through routelab's /v1/chat/completions, for a fixed
time per rate. `hey` paces each worker at a fixed rate; here several `hey` processes of one worker each
(25 requests/s apiece) start spread over one period, so requests leave evenly spaced. A worker sends its
next request only on its next tick after the last answer, so a proxy that cannot keep up shows as an
achieved rate below the asked one, not as a hidden queue. Prints the achieved rate, errors, p50 and p99
of each path and their differences (the proxy's added latency). Uses the database and Redis of the
environment (the embedded ones when DATABASE_URL/REDIS_URL are unset).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
HEY_PROCESS_RATE = 25  # requests per second from each hey process (one worker each)
BODY = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 30}


def _setup(upstream_url: str) -> str:
    import django

    django.setup()
    from django.core.management import call_command

    from devtools.seed import registry_seed_simulator
    from routing import services
    from routing.gateway.redis_client import get_redis
    from routing.gateway.resilience import CircuitBreaker
    from routing.models import Route

    call_command("migrate", interactive=False, verbosity=0)
    registry_seed_simulator(base_url=f"{upstream_url}/v1", name="bench-sim")
    Route.objects.filter(name="bench").update(live_policy=None)
    route, _ = Route.objects.get_or_create(name="bench")
    spec = {"kind": "rules", "rules": [], "default": "bench-sim/gpt-4o-mini"}
    policy = route.policies.filter(name="static").first()
    version = (
        services.policy_publish(policy=policy, spec=spec)
        if policy
        else services.policy_create(route=route, name="static", spec=spec)
    )
    services.route_set_live_policy(route=route, version=version)
    shared = get_redis()  # a breaker a previous run left open (its upstream gone) would refuse every call
    shared.delete(*CircuitBreaker(shared).keys_for("bench-sim/gpt-4o-mini"))
    _, raw = services.api_key_create(name="bench", routes=[route])
    return raw


def _start(args: list[str], url: str) -> subprocess.Popen:
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{args[0]} did not start serving {url}")


def hey(url: str, headers: dict, body: dict, rate: int, seconds: float) -> dict:
    """`rate` requests/s for `seconds` from staggered `hey` processes: achieved rate, errors, latencies (ms).

    One `hey` paces its workers together, so its requests leave in bursts of its concurrency. Here each
    process has one worker at HEY_PROCESS_RATE requests/s, and the processes start spread over one
    period, so requests leave evenly spaced, as from an open-loop generator while the proxy keeps up."""
    processes = max(1, round(rate / HEY_PROCESS_RATE))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(body, file)
        file.flush()
        args = _hey_args(url, headers, file.name, rate / processes, seconds)
        runs = []
        for _ in range(processes):
            runs.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True))
            time.sleep(1 / rate)
        rows = [row for run in runs for row in csv.DictReader(io.StringIO(run.communicate()[0]))]
    latencies = sorted(float(r["response-time"]) * 1000 for r in rows if r["status-code"] == "200")
    return {"achieved": len(rows) / seconds, "errors": len(rows) - len(latencies), "ms": latencies}


def _hey_args(url: str, headers: dict, body_path: str, rate: float, seconds: float) -> list[str]:
    args = ["hey", "-z", f"{seconds}s", "-c", "1", "-q", f"{rate:g}", "-m", "POST", "-T", "application/json"]
    args += ["-D", body_path, "-o", "csv", "-t", "30", "-cpus", "1"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    return [*args, url]


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 300, 500, 1000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--upstream-port", type=int, default=8911)
    parser.add_argument("--port", type=int, default=8912)
    args = parser.parse_args()
    if shutil.which("hey") is None:
        raise SystemExit("needs Debian's hey (apt-get install hey; `make bench` installs it)")
    upstream_url = f"http://127.0.0.1:{args.upstream_port}"
    upstream = _start(
        [sys.executable, "bench/fixed_upstream.py", "--port", str(args.upstream_port)],
        f"{upstream_url}/v1/models",
    )
    try:
        key = _setup(upstream_url)
        web = _start(_uvicorn(args), f"http://127.0.0.1:{args.port}/api/schema/")
        try:
            _report(args, upstream_url, key, web.pid)
        finally:
            web.terminate()
            web.wait(timeout=30)
    finally:
        upstream.terminate()


def _uvicorn(args) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--port",
        str(args.port),
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def _cpu_seconds(parent: int) -> float:
    """User plus system CPU time of uvicorn and its worker processes, from /proc."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        if parent in (int(fields[1]), int(stat.parent.name)):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _report(args, upstream_url: str, key: str, web_pid: int) -> None:
    direct = (f"{upstream_url}/v1/chat/completions", {}, {**BODY, "model": "gpt-4o-mini"})
    proxied = (f"http://127.0.0.1:{args.port}/v1/chat/completions", {"Authorization": f"Bearer {key}"}, BODY)
    hey(*proxied, rate=100, seconds=5)  # warm every worker's snapshot and connection pools
    print(
        f"proxy overhead: hey, {args.seconds:.0f} s per rate, {args.workers} uvicorn workers (milliseconds)"
    )
    print(f"{'rate/s':>7} {'path':<9} {'achieved':>9} {'errors':>6} {'p50':>8} {'p99':>8} {'cpu/req':>8}")
    for rate in args.rates:
        runs = {}
        for name, target in (("direct", direct), ("routelab", proxied)):
            cpu = _cpu_seconds(web_pid)
            run = runs[name] = hey(*target, rate=rate, seconds=args.seconds)
            cpu_ms = (_cpu_seconds(web_pid) - cpu) * 1000 / max(1, len(run["ms"]))
            print(
                f"{rate:>7} {name:<9} {run['achieved']:>9.1f} {run['errors']:>6} "
                f"{_pct(run['ms'], 0.5):>8.2f} {_pct(run['ms'], 0.99):>8.2f} "
                + (f"{cpu_ms:>8.2f}" if name == "routelab" else "")
            )
        added = [_pct(runs["routelab"]["ms"], q) - _pct(runs["direct"]["ms"], q) for q in (0.5, 0.99)]
        print(f"{rate:>7} {'added':<9} {'':>9} {'':>6} {added[0]:>8.2f} {added[1]:>8.2f}")


if __name__ == "__main__":
    main()
