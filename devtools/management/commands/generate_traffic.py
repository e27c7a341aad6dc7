import asyncio

from django.core.management.base import BaseCommand, CommandError

from devtools.traffic import send_traffic


class Command(BaseCommand):
    help = "Send simulated users' chat requests through a routelab server's OpenAI-compatible endpoint."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="routelab's address")
        parser.add_argument("--key", required=True, help="an API key of the route (rl_...)")
        parser.add_argument("--route", required=True)
        parser.add_argument("--users", type=int, default=100)
        parser.add_argument("--requests-per-user", type=int, default=1)
        parser.add_argument("--concurrency", type=int, default=32)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **o):
        if o["users"] < 1 or o["requests_per_user"] < 1 or o["concurrency"] < 1:
            raise CommandError("--users, --requests-per-user and --concurrency must be at least 1")
        summary = asyncio.run(
            send_traffic(
                base_url=o["base_url"],
                key=o["key"],
                route=o["route"],
                users=o["users"],
                requests_per_user=o["requests_per_user"],
                concurrency=o["concurrency"],
                seed=o["seed"],
            )
        )
        self.stdout.write(
            f"{summary.requests} requests in {summary.seconds:.1f} s "
            f"({summary.requests / max(summary.seconds, 1e-9):.0f}/s)"
        )
        for title, counter in (
            ("status", summary.statuses),
            ("model", summary.models),
            ("variant", summary.variants),
        ):
            self.stdout.write(f"  by {title}: " + ", ".join(f"{k} {v}" for k, v in counter.most_common()))
