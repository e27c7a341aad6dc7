"""Serve routelab's LLM simulator (OpenAI- and Anthropic-compatible) until interrupted."""

from __future__ import annotations

import os

import uvicorn
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devtools.simulator import SimulatorApp


def _non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Serve the built-in LLM simulator: simulated models over the OpenAI and Anthropic HTTP APIs."
    requires_system_checks: list[
        str
    ] = []  # a standalone server: it touches neither the database nor the apps

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--time-scale", type=_non_negative_float, default=1.0, help="multiplies every simulated delay"
        )
        parser.add_argument("--api-key-env", metavar="NAME", help="require the key held by this env variable")

    def handle(self, *args: object, **options: object) -> None:
        api_key = self._api_key(options["api_key_env"])
        app = SimulatorApp(seed=options["seed"], time_scale=options["time_scale"], api_key=api_key)
        self.stdout.write(f"LLM simulator at http://{options['host']}:{options['port']}/v1")
        for profile in app.profiles.values():
            prices = f"${profile.input_price_per_mtok} / ${profile.output_price_per_mtok} per Mtok"
            self.stdout.write(f"  {profile.name:<20} {profile.tier:<8} {prices}")
        uvicorn.run(app, host=options["host"], port=options["port"], log_level="info", lifespan="off")

    @staticmethod
    def _api_key(env_name: object) -> str | None:
        if not env_name:
            return None
        key = os.environ.get(str(env_name))
        if not key:
            raise CommandError(f"--api-key-env names {env_name}, but that variable is empty or unset.")
        return key
