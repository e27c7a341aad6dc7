"""`manage.py demo`: the whole routelab story on the embedded default, end to end.

Simulated models at real prices; calls through both adapters; then an experiment on the `support-bot`
route, all-premium (control) against complexity routing (treatment); a few thousand simulated users
through the OpenAI-compatible endpoint; a real Celery worker scoring the answers; the significance
report; and the web UI with its dashboard, fed by Celery beat with the traffic sent to it afterwards.
On the way out it stops its worker and beat, and the embedded servers if it started them.
"""

from __future__ import annotations

import secrets
import signal
import socket
import sys

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from config import embedded
from config.asgi import application
from devtools import demo
from devtools.seed import registry_seed_simulator
from devtools.serving import serve_in_thread
from devtools.simulator.server import run_in_thread
from routing import services
from routing.gateway.adapters import adapter_for
from routing.models import Provider
from routing.providers.base import ChatRequest, ProviderError, StreamDelta

PROMPTS = (
    "What is the capital of France?",
    "Explain the difference between a process and a thread, with an example of when to prefer each.",
    "Prove that the square root of 2 is irrational, step by step.",
)


def _check_port_free(port: int) -> None:
    """Fail at once, not after the seeding, when the web UI's port is taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise CommandError(
                f"port {port} is in use ({exc.strerror}); pass --port with a free one"
            ) from exc


class Command(BaseCommand):
    help = "Run the routelab demo: an experiment on simulated models, its significance report, and the UI."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", dest="serve", action="store_false", help="exit after the report")
        parser.add_argument("--port", type=int, default=8000, help="port of the web UI (default 8000)")
        parser.add_argument("--seed", type=int, default=42, help="the simulator's seed")
        parser.add_argument("--time-scale", type=float, default=0.05, help="simulated latency multiplier")
        parser.add_argument("--users", type=int, default=2000, help="simulated users in the experiment")
        parser.add_argument("--requests-per-user", type=int, default=2)

    def handle(self, *args, **options):
        # SIGTERM (a supervisor, `kill`) unwinds like Ctrl-C, so the worker and the servers stop with the demo
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            _check_port_free(options["port"])
            self._story(**options)
        finally:
            signal.signal(signal.SIGTERM, previous)
            self._servers_stop()

    def _servers_stop(self) -> None:
        """The embedded PostgreSQL and Redis stop with the demo if it started them, not if it found them."""
        connections.close_all()
        if said := embedded.servers_stop(settings.VAR_DIR):
            self.stdout.write(f"\nThe demo {said}.")

    def _story(self, *, serve: bool, port: int, seed: int, time_scale: float, **options):
        self._say("Migrating the database")
        call_command("migrate", interactive=False, verbosity=0)
        with run_in_thread(seed=seed, time_scale=time_scale) as simulator:
            self._say(f"Simulator serving OpenAI and Anthropic wire formats at {simulator.url}")
            models = registry_seed_simulator(base_url=f"{simulator.url}/v1")
            anthropic = self._seed_anthropic_view(simulator.url, models[-1])
            self._print_calls(models)
            self._print_stream(anthropic)
            users = options["users"]
            experiment, key = demo.experiment_setup(min_sample=max(users // 4, 1))
            with demo.celery_running(), serve_in_thread(application, port=port) as web:
                self._run_experiment(experiment, web.url, key, users, options["requests_per_user"], seed)
                if serve:
                    self._announce(web.url, key, experiment)
                    web.wait()

    def _run_experiment(self, experiment, url: str, key: str, users: int, per_user: int, seed: int) -> None:
        self._say(
            f"Experiment {experiment.name} on route {experiment.route.name}: all-premium (control) "
            "against complexity routing (treatment), 50/50"
        )
        total = users * per_user
        self.stdout.write(
            f"  {users} simulated users send {total} requests through {url}/v1/chat/completions"
        )
        summary = demo.traffic(url=url, key=key, users=users, requests_per_user=per_user, seed=seed)
        self.stdout.write(
            f"  {summary.requests} requests in {summary.seconds:.1f} s; statuses "
            + ", ".join(f"{k}: {v}" for k, v in summary.statuses.items())
        )
        self.stdout.write("  served by " + ", ".join(f"{m} {n}" for m, n in summary.models.most_common()))
        self._say("Celery worker scoring the answers")
        scored, ok = demo.scoring_wait(experiment, timeout=300, progress=self._progress)
        self.stdout.write(f"\n  {scored} of {ok} successful calls scored")
        self._say("Significance report")
        self.stdout.write(demo.report(experiment))

    def _progress(self, done: int, total: int) -> None:
        if getattr(self, "_last_progress", None) == (done, total):
            return
        self._last_progress = (done, total)
        width = 30
        filled = int(width * done / total) if total else width
        self.stdout.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stdout.flush()

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
        request = ChatRequest(messages=({"role": "user", "content": PROMPTS[1]},), max_tokens=200)
        async_to_sync(self._write_stream)(adapter_for("anthropic"), model.target(), request)

    async def _write_stream(self, adapter, target, request) -> None:
        try:
            async for event in adapter.astream(target, request):
                if isinstance(event, StreamDelta):
                    self.stdout.write(event.text, ending="")
                else:
                    self.stdout.write(
                        f"\n  -> {event.input_tokens} input + {event.output_tokens} output tokens, "
                        f"cost ${event.cost:.6f}, first token after {event.ttft_ms:.0f} ms, "
                        f"finished ({event.finish_reason}) after {event.latency_ms:.0f} ms"
                    )
        finally:
            await adapter.aclose()  # the pooled client of this call's event loop, which ends with it

    def _admin_login(self) -> tuple[str, str]:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"email": "admin@localhost"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return "admin", password

    def _announce(self, url: str, key: str, experiment) -> None:
        username, password = self._admin_login()
        self._say(f"Web UI: {url}/dashboard/experiments/{experiment.id}/  login {username} / {password}")
        self.stdout.write(
            f"  experiments: {url}/experiments/   routes: {url}/routes/   API docs: {url}/api/docs/"
        )
        self.stdout.write(f"  OpenAI-compatible base URL: {url}/v1  with api_key={key}")
        self.stdout.write(
            "  Calls sent now reach the dashboard through Celery beat (stored within seconds, roll-ups "
            "refreshed every 5 s).\n  Ctrl-C stops the demo."
        )

    def _say(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n== {text}"))
