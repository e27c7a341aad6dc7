"""The proxy's added latency over calling the simulator directly: `python bench/proxy_overhead.py`.

Starts the simulator (no artificial latency) and routelab under uvicorn as separate processes, then
sends an open-loop load at fixed rates for a fixed time, once straight to the simulator and once
through routelab's /v1/chat/completions, and prints p50 and p99 of each and their difference. Latency
is measured from each request's scheduled send time, so queueing under load is counted, not hidden.
Uses the database and Redis of the environment (the embedded ones when DATABASE_URL/REDIS_URL are unset).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
BODY = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 30}


def _setup(simulator_url: str) -> str:
    import django

    django.setup()
    from django.core.management import call_command

    from devtools.seed import registry_seed_simulator
    from routing import services
    from routing.models import Route

    call_command("migrate", interactive=False, verbosity=0)
    registry_seed_simulator(base_url=f"{simulator_url}/v1", name="bench-sim")
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
    _, raw = services.api_key_create(name="bench", routes=[route])
    return raw


def _start(args: list[str], url: str) -> subprocess.Popen:
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{args[0]} did not start serving {url}")


async def _load(url: str, headers: dict, body: dict, rate: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as client:

        async def one(scheduled: float) -> None:
            nonlocal errors
            try:
                response = await client.post(url, json=body)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - scheduled) * 1000)
            else:
                errors += 1

        start = time.perf_counter() + 0.1
        tasks = []
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    return latencies, errors


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sim-port", type=int, default=8911)
    parser.add_argument("--port", type=int, default=8912)
    args = parser.parse_args()
    python = sys.executable
    sim_url = f"http://127.0.0.1:{args.sim_port}"
    simulator = _start(
        [python, "manage.py", "run_simulator", "--port", str(args.sim_port), "--time-scale", "0"],
        f"{sim_url}/v1/models",
    )
    try:
        key = _setup(sim_url)
        web = _start(
            [
                python,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--port",
                str(args.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            f"http://127.0.0.1:{args.port}/api/schema/",
        )
        try:
            _report(args, sim_url, key)
        finally:
            web.terminate()
    finally:
        simulator.terminate()


def _report(args, sim_url: str, key: str) -> None:
    direct = (f"{sim_url}/v1/chat/completions", {}, {**BODY, "model": "gpt-4o-mini"})
    proxied = (f"http://127.0.0.1:{args.port}/v1/chat/completions", {"Authorization": f"Bearer {key}"}, BODY)
    asyncio.run(_load(*proxied, rate=20, seconds=1))  # warm the snapshot and the connection pools
    print(f"proxy overhead, open-loop load for {args.seconds:.0f} s per rate (milliseconds)")
    print(f"{'rate/s':>7} {'path':<9} {'ok':>6} {'errors':>6} {'p50':>8} {'p99':>8} {'mean':>8}")
    for rate in args.rates:
        rows = {}
        for name, (url, headers, body) in (("direct", direct), ("routelab", proxied)):
            latencies, errors = asyncio.run(_load(url, headers, body, rate, args.seconds))
            rows[name] = latencies
            print(
                f"{rate:>7} {name:<9} {len(latencies):>6} {errors:>6} {_pct(latencies, 0.5):>8.2f} "
                f"{_pct(latencies, 0.99):>8.2f} {statistics.fmean(latencies or [0]):>8.2f}"
            )
        p50 = _pct(rows["routelab"], 0.5) - _pct(rows["direct"], 0.5)
        p99 = _pct(rows["routelab"], 0.99) - _pct(rows["direct"], 0.99)
        print(f"{rate:>7} {'overhead':<9} {'':>6} {'':>6} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()
