"""`manage.py demo`: the whole routelab story on the embedded default, end to end."""

from __future__ import annotations

import secrets
from decimal import Decimal

import httpx
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from config.asgi import application
from routing import services
from routing.models import Model, Provider, Route
from routing.providers.base import ChatRequest, ProviderError, StreamDelta
from routing.recorder import calls_flush
from routing.serving import serve_in_thread
from routing.simulator.server import run_in_thread

ROUTED_PROMPTS = (
    "What is the capital of France?",
    "How many days are in a leap year?",
    "Translate 'good morning' into Spanish.",
    "Summarise the plot of Romeo and Juliet in two sentences.",
    "Compare and contrast optimistic and pessimistic locking, with the trade-offs of each in depth.",
    "Why does this raise?\n```python\nitems = [1, 2, 3]\nprint(items[3])\n```",
    "Prove that there are infinitely many primes, step by step.",
    "What is 17 times 23?",
)
COMPLEXITY_SPEC = {
    "kind": "complexity",
    "tiers": {
        "simple": ["simulator/gpt-4o-mini"],
        "moderate": ["simulator/gpt-4o"],
        "complex": ["simulator/claude-opus-4-1"],
    },
}
PROMPTS = (
    "What is the capital of France?",
    "Explain the difference between a process and a thread, with an example of when to prefer each.",
    "Prove that the square root of 2 is irrational, step by step.",
)


class Command(BaseCommand):
    help = "Run the routelab demo: migrate, seed simulated models, call them, and serve the web UI."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", dest="serve", action="store_false", help="exit after the calls")
        parser.add_argument("--port", type=int, default=8000, help="port of the web UI (default 8000)")
        parser.add_argument("--seed", type=int, default=42, help="the simulator's seed")
        parser.add_argument("--time-scale", type=float, default=0.2, help="simulated latency multiplier")

    def handle(self, *args, serve: bool, port: int, seed: int, time_scale: float, **options):
        self._say("Migrating the database")
        call_command("migrate", interactive=False, verbosity=0)
        with run_in_thread(seed=seed, time_scale=time_scale) as simulator:
            self._say(f"Simulator serving OpenAI and Anthropic wire formats at {simulator.url}")
            models = services.registry_seed_simulator(base_url=f"{simulator.url}/v1")
            anthropic = self._seed_anthropic_view(simulator.url, models[-1])
            self._print_calls(models)
            self._print_stream(anthropic)
            key = self._seed_route()
            with serve_in_thread(application, port=port) as web:
                self._print_routed(web.url, key)
                self._say(f"{calls_flush()} call records moved from Redis to PostgreSQL")
                if serve:
                    self._announce(web.url, key)
                    web.wait()

    def _seed_anthropic_view(self, url: str, premium):
        """The same simulator, registered a second time as an Anthropic-format provider."""
        provider, _ = Provider.objects.update_or_create(
            name="simulator-anthropic", defaults={"kind": Provider.Kind.ANTHROPIC, "base_url": url}
        )
        model, _ = provider.models.update_or_create(
            model_id=premium.model_id,
            defaults={
                f: getattr(premium, f)
                for f in (
                    "display_name",
                    "tier",
                    "input_price_per_mtok",
                    "output_price_per_mtok",
                    "context_window",
                    "max_output_tokens",
                )
            },
        )
        return model

    def _print_calls(self, models) -> None:
        self._say("Calling every simulated model through the OpenAI adapter")
        header = f"{'model':<18} {'tier':<8} {'in':>5} {'out':>5} {'cost $':>10} {'latency':>9}  answer"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for prompt in PROMPTS:
            self.stdout.write(f'"{prompt}"')
            for model in models:
                self.stdout.write(self._call_line(model, prompt))

    def _call_line(self, model, prompt: str) -> str:
        request = ChatRequest(messages=({"role": "user", "content": prompt},), max_tokens=400)
        try:
            result = services.model_complete(model=model, request=request)
        except ProviderError as exc:
            return f"  {model.model_id:<16} failed: {exc.kind} {exc.message}"
        answer = " ".join(result.text.split())[:60]
        return (
            f"  {model.model_id:<16} {model.tier:<8} {result.input_tokens:>5} {result.output_tokens:>5} "
            f"{result.cost:>10.6f} {result.latency_ms:>7.0f}ms  {answer}..."
        )

    def _print_stream(self, model) -> None:
        self._say(f"Streaming from {model.model_id} through the Anthropic adapter")
        from routing.adapters import adapter_for

        request = ChatRequest(messages=({"role": "user", "content": PROMPTS[1]},), max_tokens=200)
        for event in adapter_for("anthropic").stream(model.target(), request):
            if isinstance(event, StreamDelta):
                self.stdout.write(event.text, ending="")
            else:
                self.stdout.write(
                    f"\n  -> {event.input_tokens} input + {event.output_tokens} output tokens, "
                    f"cost ${event.cost:.6f}, first token after {event.ttft_ms:.0f} ms, "
                    f"finished ({event.finish_reason}) after {event.latency_ms:.0f} ms"
                )

    def _seed_route(self) -> str:
        route, _ = Route.objects.get_or_create(name="support-bot", defaults={"daily_budget_usd": 50})
        policy = route.policies.filter(name="by-complexity").first()
        if policy is None:
            services.policy_create(route=route, name="by-complexity", spec=COMPLEXITY_SPEC)
        _, key = services.api_key_create(name=f"demo {timezone.now():%Y-%m-%d %H:%M}", routes=[route])
        return key

    def _print_routed(self, url: str, key: str) -> None:
        self._say(f"Routing through routelab's OpenAI-compatible endpoint {url}/v1/chat/completions")
        premium = Model.objects.get(model_id="claude-opus-4-1", provider__name="simulator").price
        total, at_premium = Decimal(0), Decimal(0)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            for prompt in ROUTED_PROMPTS:
                body = {"model": "route:support-bot", "messages": [{"role": "user", "content": prompt}]}
                response = client.post("/v1/chat/completions", json=body)
                answer = response.json()
                if response.status_code != 200:
                    self.stdout.write(f"  failed {response.status_code}: {answer['error']['message']}")
                    continue
                usage, info = answer["usage"], answer["routelab"]
                total += Decimal(info["cost_usd"])
                at_premium += premium.cost(usage["prompt_tokens"], usage["completion_tokens"])
                short = " ".join(prompt.split())[:58]
                self.stdout.write(f"  {info['model']:<28} ${Decimal(info['cost_usd']):.6f}  {short}")
        saved = (1 - total / at_premium) * 100 if at_premium else 0
        self.stdout.write(
            f"  routed cost ${total:.6f}; the same tokens at premium prices ${at_premium:.6f} "
            f"({saved:.0f}% less)"
        )

    def _admin_login(self) -> tuple[str, str]:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"email": "admin@localhost"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return "admin", password

    def _announce(self, url: str, key: str) -> None:
        username, password = self._admin_login()
        self._say(f"Web UI: {url}/routes/  login {username} / {password}")
        self.stdout.write(f"  API docs: {url}/api/docs/")
        self.stdout.write(f"  OpenAI-compatible base URL: {url}/v1  with api_key={key}")
        self.stdout.write(
            "  Call records reach PostgreSQL when a worker runs `celery -A config beat` + `worker`,"
        )
        self.stdout.write("  or `manage.py flush_calls --loop`. Ctrl-C stops the demo.")

    def _say(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n== {text}"))
