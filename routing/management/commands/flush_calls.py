import time

from django.core.management.base import BaseCommand

from routing.gateway.recorder import calls_flush, calls_waiting


class Command(BaseCommand):
    help = "Move waiting call records from Redis into PostgreSQL (once, or continuously with --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep flushing every --interval seconds")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, loop: bool, interval: float, **options):
        while True:
            moved = calls_flush()
            self.stdout.write(f"stored {moved} call record(s); {calls_waiting()} waiting")
            if not loop:
                return
            time.sleep(interval)
