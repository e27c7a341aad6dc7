"""Time to first token per policy kind, streamed through routelab: `python bench/ttft.py [--requests 24]`.

Starts the simulator with its real latency profiles (time scale 1: gpt-4o-mini sends its first token after
about 350 ms and then 90 tokens/s; gpt-4o 550 ms and 65 tokens/s; claude-opus-4-1 1.4 s and 35 tokens/s)
and routelab under uvicorn, each as its own process, with one route per policy kind. Streamed chat
requests (`max_tokens` 120, half of them simple questions, half demanding ones) go one at a time, and
the client measures the time to the first chunk that carries answer text and to the end of the stream,
grouped by the model that answered and, for a cascade, by whether it escalated (the final chunk's
`routelab`). The simulator's own figures, asked directly, are the reference. Uses the database and Redis
of the environment (the embedded ones when DATABASE_URL/REDIS_URL are unset).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import django
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

# Django is set up before the project's modules load.
from django.core.management import call_command  # noqa: E402

from bench.proxy_overhead import _start  # noqa: E402 - the same way of starting a server and waiting for it
from devtools.seed import registry_seed_simulator  # noqa: E402
from routing import services  # noqa: E402
from routing.models import Route  # noqa: E402

SIM = "ttft-sim"
MINI, MID, TOP = f"{SIM}/gpt-4o-mini", f"{SIM}/gpt-4o", f"{SIM}/claude-opus-4-1"
SPECS = {
    "rules": {"kind": "rules", "rules": [], "default": MINI},
    "complexity": {"kind": "complexity", "tiers": {"simple": [MINI], "moderate": [MID], "complex": [TOP]}},
    "cost_aware": {"kind": "cost_aware", "min_quality": 0.7, "quality": {MINI: 0.75, MID: 0.88, TOP: 0.94}},
    "llm_router": {
        "kind": "llm_router",
        "classifier_model": MINI,
        "tiers": {"SIMPLE": [MINI], "MODERATE": [MID], "COMPLEX": [TOP]},
        "default_tier": "MODERATE",
    },
    "semantic": {
        "kind": "semantic",
        "routes": [{"name": "facts", "model": MINI, "utterances": ["What is the capital of a country?"]}],
        "threshold": 0.5,
        "default": MID,
    },
    "cascade": {"kind": "cascade", "chain": [MINI, MID], "threshold": 0.7},
}
PROMPTS = (
    "What is the capital of France?",
    "Explain step by step how to implement and optimize a hash table, prove its expected complexity, and "
    "compare the trade-offs of open addressing and chaining. Which is faster? Why? When?",
)


def _setup(sim_url: str) -> str:
    """The simulator registered, one route per kind with its policy live, and one key for them all."""
    call_command("migrate", interactive=False, verbosity=0)
    registry_seed_simulator(base_url=f"{sim_url}/v1", name=SIM)
    routes = []
    for kind, spec in SPECS.items():
        route = Route.objects.filter(name=f"ttft-{kind}").first() or services.route_create(
            name=f"ttft-{kind}"
        )
        policy = route.policies.filter(name=kind).first()
        version = (
            services.policy_publish(policy=policy, spec=spec)
            if policy
            else services.policy_create(route=route, name=kind, spec=spec)
        )
        services.route_set_live_policy(route=route, version=version)
        routes.append(route)
    return services.api_key_create(name="ttft bench", routes=routes)[1]


def _stream(client: httpx.Client, url: str, body: dict) -> tuple[float, float, dict]:
    """Seconds to the first answer text and to the end of the stream, and the final chunk's `routelab`."""
    started, first, extra = time.perf_counter(), None, {}
    with client.stream("POST", url, json={**body, "stream": True}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            content = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
            if content and first is None:
                first = time.perf_counter() - started
            extra = chunk.get("routelab") or extra
    return first, time.perf_counter() - started, extra


def _measure(client: httpx.Client, url: str, body: dict, requests: int) -> dict[str, list[tuple]]:
    """Each request's (first token, end) in seconds, grouped by the model that answered and, for a
    cascade, by whether it escalated."""
    rows: dict[str, list[tuple]] = {}
    for index in range(requests):
        prompt = PROMPTS[index % len(PROMPTS)] + f" (request {index})"
        first, end, extra = _stream(client, url, {**body, "messages": [{"role": "user", "content": prompt}]})
        group = extra.get("model", body["model"]).split("/")[-1]
        group += ", escalated" if extra.get("escalations") else ""
        rows.setdefault(group, []).append((first, end))
    return rows


def _row(name: str, timings: list[tuple]) -> str:
    firsts, ends = [t[0] for t in timings], [t[1] for t in timings]
    p90 = sorted(firsts)[min(len(firsts) - 1, int(0.9 * len(firsts)))]
    return (
        f"{name:<32} {len(timings):>4} {statistics.median(firsts):>9.3f} {p90:>9.3f}"
        f" {statistics.median(ends):>9.3f}"
    )


def _report(sim_url: str, web_url: str, key: str, requests: int) -> None:
    print(f"{'path':<32} {'n':>4} {'TTFT p50':>9} {'TTFT p90':>9} {'end p50':>9}   (seconds)")
    with httpx.Client(timeout=60) as client:
        for model in ("gpt-4o-mini", "gpt-4o", "claude-opus-4-1"):
            direct = _measure(client, f"{sim_url}/v1/chat/completions", _body(model), requests)
            print(_row(f"simulator direct, {model}", direct[model]), flush=True)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=60, headers=headers) as client:
        for kind in SPECS:
            url, body = f"{web_url}/v1/chat/completions", _body(f"route:ttft-{kind}")
            _measure(client, url, body, 2)  # warm: the snapshot, the pools, the embedding model
            for group, timings in sorted(_measure(client, url, body, requests).items()):
                print(_row(f"{kind} -> {group}", timings), flush=True)


def _body(model: str) -> dict:
    return {"model": model, "max_tokens": 120}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=24, help="streamed requests per kind")
    parser.add_argument("--sim-port", type=int, default=8921)
    parser.add_argument("--port", type=int, default=8922)
    args = parser.parse_args()
    python, sim_url, web_url = (
        sys.executable,
        f"http://127.0.0.1:{args.sim_port}",
        f"http://127.0.0.1:{args.port}",
    )
    simulator = _start(
        [python, "manage.py", "run_simulator", "--port", str(args.sim_port), "--time-scale", "1"],
        f"{sim_url}/v1/models",
    )
    try:
        key = _setup(sim_url)
        uvicorn = [python, "-m", "uvicorn", "config.asgi:application", "--port", str(args.port)]
        web = _start([*uvicorn, "--log-level", "warning", "--no-access-log"], f"{web_url}/api/schema/")
        try:
            _report(sim_url, web_url, key, args.requests)
        finally:
            web.terminate()
    finally:
        simulator.terminate()


if __name__ == "__main__":
    main()
