"""`manage.py fault_drill_seed --simulator-url URL`: migrate, then a route on the simulator and its key.

Run by the fault drills (devtools.faults) against their own PostgreSQL; prints the raw API key alone.
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from devtools.seed import registry_seed_simulator
from routing import services

SPEC = {"kind": "rules", "rules": [], "default": "simulator/gpt-4o-mini"}


class Command(BaseCommand):
    help = "Migrate, then register the simulator and a route `drill` with a rules policy and an API key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--simulator-url", required=True, help="the simulator's base URL, without /v1")

    def handle(self, *args: object, simulator_url: str, **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        registry_seed_simulator(base_url=f"{simulator_url}/v1")
        route = services.route_create(name="drill")
        services.policy_create(route=route, name="mini", spec=SPEC)
        _, raw = services.api_key_create(name="drill client", routes=[route])
        self.stdout.write(raw)
