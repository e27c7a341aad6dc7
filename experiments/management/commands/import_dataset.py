"""Import a dataset of recorded answers, or the three RouteLLM datasets, and report each model's quality.

The headline figure is the mean over every item, contaminated prompts included: that is how the
published RouteLLM figures were measured (GSM8K 0.6384 / 0.8567, MMLU 0.6808 / 0.8058, MT-Bench
8.34 / 9.23). The figure without the excluded (contaminated) items follows it.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from experiments.models import Dataset
from experiments.selectors import DatasetData, dataset_accuracy, dataset_list
from experiments.services.datasets import dataset_import, dataset_import_routellm


class Command(BaseCommand):
    help = (
        "Import a CSV or JSONL file or a RouteLLM dataset folder (import_dataset PATH [--name NAME]), "
        "or all three RouteLLM datasets (import_dataset --routellm [ROOT]); then print each model's quality."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", nargs="?", help="A .csv or .jsonl file, or a RouteLLM gsm8k/, mmlu/ or mt_bench/ folder."
        )
        parser.add_argument(
            "--routellm",
            nargs="?",
            const="",
            metavar="ROOT",
            help="Import routellm-gsm8k, routellm-mmlu and routellm-mt-bench from ROOT "
            "(default: DATASETS_DIR/routellm).",
        )
        parser.add_argument("--name", help="The dataset's name (a slug); default: the file or folder name.")
        parser.add_argument("--description", default="")
        parser.add_argument("--replace", action="store_true", help="Replace a dataset of the same name.")

    def handle(self, *args, path, routellm, name, description, replace, **options) -> None:
        if (path is None) == (routellm is None):
            raise CommandError("Give either a PATH to import or --routellm [ROOT].")
        try:
            datasets = self._import(path, routellm, name=name, description=description, replace=replace)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        summaries = {summary.name: summary for summary in dataset_list()}
        for dataset in datasets:
            self._report(summaries[dataset.name])

    def _import(self, path: str | None, routellm: str | None, **fields) -> list[Dataset]:
        if routellm is not None:
            root = Path(routellm) if routellm else Path(settings.DATASETS_DIR) / "routellm"
            if not root.is_dir():
                raise CommandError(f"No RouteLLM folder at {root}: give its path, --routellm ROOT.")
            return dataset_import_routellm(root=root, replace=fields["replace"])
        source = Path(path)
        name = fields.pop("name") or slugify(source.name if source.is_dir() else source.stem)
        return [dataset_import(name=name, path=source, **fields)]

    def _report(self, dataset: DatasetData) -> None:
        excluded = f" ({dataset.excluded_count} excluded)" if dataset.excluded_count else ""
        self.stdout.write(self.style.SUCCESS(f"{dataset.name}: {dataset.item_count} items{excluded}"))
        self.stdout.write(f"  models: {', '.join(dataset.model_names)}")
        for model in dataset.model_names:
            self.stdout.write(f"  {model}: {self._quality_line(dataset, model)}")

    def _quality_line(self, dataset: DatasetData, model: str) -> str:
        label, digits = ("accuracy", 4) if dataset.quality_scale == 1 else ("mean quality", 2)
        try:
            overall = dataset_accuracy(dataset_name=dataset.name, model_name=model, include_excluded=True)
        except ValueError:
            return "answers only, no quality recorded"
        line = f"{label} {overall:.{digits}f} over all items"
        if dataset.excluded_count:
            clean = dataset_accuracy(dataset_name=dataset.name, model_name=model)
            line += f", {clean:.{digits}f} without the {dataset.excluded_count} excluded"
        return line
