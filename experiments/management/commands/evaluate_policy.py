"""Evaluate routing policies offline on a dataset, following the run with a progress bar.

    manage.py evaluate_policy --dataset routellm-gsm8k --policy gsm8k/by-complexity@v1 \\
        --policy gsm8k/cascade@v1 [--mode recorded|live] [--wait | --inline]

The evaluation is queued for a Celery worker; --wait follows it until it ends, --inline runs it in this
process. Either way the command then prints the result table: per policy its quality, cost and strong
share, APGR, CPT(50%) and CPT(80%); the weak, strong and random baselines.
"""

from __future__ import annotations

import json
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from experiments.evaluation import display, selectors, services
from experiments.evaluation.runner import evaluation_run
from experiments.models import Dataset, Evaluation

BAR_WIDTH = 30
POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = (
        "Evaluate policy versions offline on a dataset (recorded answers or live calls); print the results."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="The dataset's name, e.g. routellm-gsm8k.")
        parser.add_argument(
            "--policy",
            action="append",
            required=True,
            metavar="ROUTE/POLICY@vN",
            help="A policy version to evaluate (repeat for several); without @vN, the latest version.",
        )
        parser.add_argument("--mode", choices=Evaluation.Mode.values, default=Evaluation.Mode.RECORDED)
        parser.add_argument("--weak", default="", help="Recorded mode (required): the weak model.")
        parser.add_argument("--strong", default="", help="Recorded mode (required): the strong model.")
        parser.add_argument(
            "--json", action="store_true", help="Print the figures as JSON instead of the table."
        )
        how = parser.add_mutually_exclusive_group()
        how.add_argument("--wait", action="store_true", help="Follow the worker's run until it ends.")
        how.add_argument("--inline", action="store_true", help="Run it in this process, without a worker.")

    def handle(self, *args, dataset, policy, mode, wait, inline, json, weak, strong, **options) -> None:
        self.as_json = json
        evaluation = self._create(dataset, policy, mode, enqueue=not inline, pair=(weak, strong))
        if not json:
            self.stdout.write(
                f"Evaluation #{evaluation.id} of {len(policy)} policy version(s) on {dataset} ({mode})."
            )
        if inline:
            evaluation_run(evaluation_id=evaluation.id, on_progress=None if json else self._draw)
        elif wait:
            self._follow(evaluation.id)
        else:
            self.stdout.write("Queued for a worker; follow it with --wait next time, or on /evaluations/.")
            return
        self._report(selectors.evaluation_get(id=evaluation.id))

    def _create(
        self, dataset_name: str, refs: list[str], mode: str, *, enqueue: bool, pair: tuple[str, str]
    ) -> Evaluation:
        try:
            dataset = Dataset.objects.get(name=dataset_name)
        except Dataset.DoesNotExist:
            raise CommandError(
                f"No dataset named {dataset_name!r}; import one with import_dataset."
            ) from None
        try:
            versions = [selectors.policy_version_by_ref(ref) for ref in refs]
            return services.evaluation_create(
                dataset=dataset,
                policy_versions=versions,
                mode=mode,
                weak=pair[0],
                strong=pair[1],
                enqueue=enqueue,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

    def _draw(self, done: int, total: int, status: str = "running") -> None:
        filled = int(BAR_WIDTH * done / total) if total else 0
        share = done / total if total else 0.0
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stdout.write(f"\r[{bar}] {share:6.1%} {done}/{total} {status}  ", ending="")
        self.stdout.flush()

    def _follow(self, evaluation_id: int) -> None:
        while True:
            evaluation = Evaluation.objects.get(id=evaluation_id)
            if not self.as_json:
                self._draw(evaluation.progress_done, evaluation.progress_total, evaluation.status)
            if evaluation.is_finished:
                return
            time.sleep(POLL_SECONDS)

    def _report(self, evaluation: Evaluation) -> None:
        if evaluation.status == Evaluation.Status.FAILED:
            raise CommandError(f"Evaluation #{evaluation.id} failed: {evaluation.error}")
        results = evaluation.results
        if self.as_json:
            self.stdout.write(json.dumps(display.json_summary(evaluation.id, results), indent=2))
            return
        self.stdout.write("")
        if results.get("mode") == Evaluation.Mode.LIVE:
            self._table(display.live_rows(results), display.LIVE_COLUMNS)
        else:
            self._table(display.recorded_rows(results), display.RECORDED_COLUMNS)
            if rows := display.without_excluded_rows(results):
                items = results["without_excluded"]["items"]
                self.stdout.write(f"\nWithout the excluded (contaminated) items, {items} items:")
                self._table(rows, display.RECORDED_COLUMNS)
            if rows := display.many_model_rows(results):
                pareto = ", ".join(results["many_models"]["pareto"])
                self.stdout.write(f"\nEvery model (Pareto frontier: {pareto}):")
                self._table(rows, display.MANY_COLUMNS)
        for note in results.get("notes", []):
            self.stdout.write(f"note: {note}")

    def _table(self, rows: list[dict[str, str]], columns: tuple[tuple[str, str], ...]) -> None:
        lines = display.table(rows, columns)
        widths = [max(len(line[column]) for line in lines) for column in range(len(columns))]
        for line, row in zip(lines, [{}, *rows], strict=True):
            text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            self.stdout.write(f"{text}  {row['note']}" if row.get("note") else text)
