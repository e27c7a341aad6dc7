"""Train a learned router on recorded outcomes and save it as the next version of its name.

    manage.py train_router --dataset routellm-mmlu --name mmlu-knn [--family knn|linear|mf] \\
        [--param k=40] [--seed 0] [--heldout 0.2] [--weak MODEL --strong MODEL]
    manage.py train_router --route support --since 2026-11-01 [--until 2026-12-01] \\
        [--scorer recorded_quality]
        --name support-knn

The run happens here with a progress bar (embedding each new prompt is the slow part; embeddings are
kept, so a second training on the same prompts is quick), or with --queue on a worker. It prints the
version saved, the split and counts per model, and the held-out figures: per model the error of the
predicted quality and, with --weak and --strong, the APGR with its 95% interval and CPT(50%), CPT(80%).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experiments.models import RouterTraining
from experiments.services.training import router_training_create, router_training_run
from routing.learning.families import FAMILIES
from routing.learning.training import DEFAULT_HELDOUT, DEFAULT_SEED, TrainingError

BAR_WIDTH = 30


def _param(text: str) -> tuple[str, float | int]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise CommandError(f"--param takes NAME=VALUE, not {text!r}")
    try:
        number = json.loads(value)
    except json.JSONDecodeError:
        raise CommandError(f"--param {name}: {value!r} is not a number") from None
    return name, number


class Command(BaseCommand):
    help = "Train a learned router from a dataset or a route's recorded calls; print its held-out figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The router's name; the next version is saved.")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--dataset", help="Train on an imported dataset's per-model qualities.")
        source.add_argument("--route", help="Train on a route's recorded calls and their scores.")
        parser.add_argument("--since", help="With --route: the first moment (ISO date or time).")
        parser.add_argument("--until", help="With --route: the end (exclusive); default now.")
        parser.add_argument("--scorer", default="recorded_quality", help="With --route: whose scores count.")
        parser.add_argument("--family", choices=FAMILIES, default="knn")
        parser.add_argument(
            "--param", action="append", default=[], metavar="NAME=VALUE", help="A hyperparameter."
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="The split's seed.")
        parser.add_argument("--heldout", type=float, default=DEFAULT_HELDOUT, help="The held-out share.")
        parser.add_argument("--weak", help="The weak model, for the held-out APGR.")
        parser.add_argument("--strong", help="The strong model, for the held-out APGR.")
        parser.add_argument("--queue", action="store_true", help="Queue the run for a worker instead.")

    def handle(self, *args, **options) -> None:
        run = self._create(options)
        if options["queue"]:
            self.stdout.write(f"Training #{run.id} queued; follow it on /routers/trainings/{run.id}/.")
            return
        run = router_training_run(run_id=run.id, on_progress=self._draw)
        self.stdout.write("")
        if run.status == RouterTraining.Status.FAILED:
            raise CommandError(f"Training of {run.name} failed: {run.error}")
        self._report(run.router)

    def _create(self, options: dict) -> RouterTraining:
        if options["route"]:
            if not options["since"]:
                raise CommandError("--route needs --since: the calls from which moment to learn from")
            source, args = (
                "route",
                {"route": options["route"], "since": options["since"], "scorer": options["scorer"]},
            )
            if options["until"]:
                args["until"] = options["until"]
        else:
            source, args = "dataset", {"dataset": options["dataset"]}
        parameters = {
            "source_args": args,
            "hyperparameters": dict(_param(text) for text in options["param"]),
            "seed": options["seed"],
            "heldout_fraction": options["heldout"],
        }
        if options["weak"] or options["strong"]:
            parameters.update(weak=options["weak"], strong=options["strong"])
        try:
            return router_training_create(
                name=options["name"],
                family=options["family"],
                source=source,
                parameters=parameters,
                enqueue=options["queue"],
            )
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc

    def _draw(self, done: int, total: int) -> None:
        filled = int(BAR_WIDTH * done / total) if total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stdout.write(f"\rembedding [{bar}] {done}/{total}  ", ending="")
        self.stdout.flush()

    def _report(self, router) -> None:
        split = router.split
        self.stdout.write(f"Saved {router.label} ({router.get_family_display()}, {router.hyperparameters}).")
        self.stdout.write(
            f"Split by prompt, seed {split['seed']}: {split['train_prompts']} training and "
            f"{split['heldout_prompts']} held-out prompts."
        )
        for model, figures in router.metrics.get("models", {}).items():
            trained = split["train_counts"].get(model, 0)
            mae = figures["mae"]
            error = (
                f"held-out MAE {mae:.3f} on {figures['items']}" if mae is not None else "no held-out items"
            )
            self.stdout.write(f"  {model}: trained on {trained}, {error}")
        pair = router.metrics.get("pair")
        if pair and pair.get("apgr") is not None:
            interval = ""
            if pair["apgr_low"] is not None:
                interval = f" (95% CI {pair['apgr_low']:.3f} to {pair['apgr_high']:.3f})"
            self.stdout.write(
                f"Held-out APGR {pair['weak']} -> {pair['strong']}: {pair['apgr']:.3f}{interval} over "
                f"{pair['items']} prompts; CPT(50%) {pair['cpt50']:.3f}, CPT(80%) {pair['cpt80']:.3f}"
            )
