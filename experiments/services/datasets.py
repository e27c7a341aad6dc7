"""Import datasets of recorded answers: the RouteLLM evaluation data or a user's own CSV or JSONL file.

A user's file has a `prompt` column (or key), optionally `reference`, `category` and `id`, and per model a
quality column `<model>` (True/False, 1/0 or a number >= 0) and/or an answer column `<model>_response`.
A JSONL line may instead nest `{"prompt": ..., "answers": {"<model>": {"answer": ..., "quality": ...}}}`.
A `contaminated_prompts.jsonl` next to the file (RouteLLM's format) marks those prompts excluded.

Files are parsed completely before anything is written, then written in one transaction with bulk
inserts, so a bad file imports nothing and its error names the file, the line and the column.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from experiments.models import Dataset, DatasetItem, RecordedAnswer, prompt_hash
from routing.audit import audit_record

BATCH_SIZE = 2000
RESPONSE_SUFFIX = "_response"
RESERVED_KEYS = frozenset({"prompt", "reference", "category", "id", "metadata", "answers"})
QUALITY_WORDS = {"true": 1.0, "false": 0.0}
COMMON_SCALES = (1.0, 5.0, 10.0, 100.0)
CONTAMINATED_FILE = "contaminated_prompts.jsonl"
MAX_MODEL_NAME = RecordedAnswer._meta.get_field("model_name").max_length
MAX_CATEGORY = DatasetItem._meta.get_field("category").max_length

ROUTELLM_DATASETS = (
    ("routellm-gsm8k", "gsm8k"),
    ("routellm-mmlu", "mmlu"),
    ("routellm-mt-bench", "mt_bench"),
)
ROUTELLM_DESCRIPTIONS = {
    "gsm8k": "RouteLLM GSM8K: grade-school maths prompts, each model's answer and its correctness.",
    "mmlu": "RouteLLM MMLU: multiple-choice prompts in 57 subjects and each model's correctness.",
    "mt_bench": "RouteLLM MT-Bench: one item per question and turn; quality = the GPT-4 judge score (1-10).",
}
# The judged answer inside an MT-Bench judge prompt: a single answer, or the last turn of a conversation.
JUDGED_ANSWER = re.compile(
    r"\[The Start of Assistant's Answer\]\n(.*)\n\[The End of Assistant's Answer\]", re.S
)
CONVERSATION_START = "<|The Start of Assistant A's Conversation with User|>"
CONVERSATION_END = "<|The End of Assistant A's Conversation with User|>"
ASSISTANT_TURN = "### Assistant A:"


class DatasetFileError(ValueError):
    """A problem in one place of an imported file."""

    def __init__(self, path: Path, line: int, column: str | int | None, problem: str):
        where = f"{path}, line {line}"
        if column is not None:
            where += f", column {column!r}" if isinstance(column, str) else f", column {column}"
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.column = path, line, column


@dataclass
class ParsedItem:
    prompt: str
    reference: str = ""
    category: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, tuple[str, float | None]] = field(default_factory=dict)  # model -> (answer, quality)
    excluded: bool = False
    prompt_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.prompt_hash = prompt_hash(self.prompt)


@dataclass
class ParsedDataset:
    items: list[ParsedItem]
    quality_scale: float | None = None  # None: inferred from the largest quality
    description: str = ""


# -- services ------------------------------------------------------------------------------------------------


def dataset_import(
    *,
    name: str,
    path: str | Path,
    description: str = "",
    replace: bool = False,
    quality_scale: float | None = None,
) -> Dataset:
    """Import one dataset from a RouteLLM folder (gsm8k/, mmlu/, mt_bench/) or a CSV or JSONL file."""
    _name_validate(name)
    if quality_scale is not None and not (math.isfinite(quality_scale) and quality_scale > 0):
        raise ValidationError({"quality_scale": "The quality scale must be a positive number."})
    path = Path(path)
    parsed = _source_parse(path)
    return _dataset_save(
        name=name,
        source=str(path),
        items=parsed.items,
        description=description or parsed.description,
        quality_scale=quality_scale or parsed.quality_scale or _scale_infer(parsed.items),
        replace=replace,
    )


def dataset_import_routellm(*, root: str | Path, replace: bool = False) -> list[Dataset]:
    """Import RouteLLM's GSM8K, MMLU and MT-Bench as routellm-gsm8k, routellm-mmlu and routellm-mt-bench."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(
            f"{root}: no such folder; expected the RouteLLM data with gsm8k/, mmlu/ and mt_bench/."
        )
    with transaction.atomic():
        return [
            dataset_import(name=name, path=root / folder, replace=replace)
            for name, folder in ROUTELLM_DATASETS
        ]


def _name_validate(name: str) -> None:
    try:
        validate_slug(name)
    except ValidationError:
        raise ValidationError({"name": f"{name!r} is not a slug (letters, digits, - and _)."}) from None
    if len(name) > Dataset._meta.get_field("name").max_length:
        raise ValidationError({"name": "A dataset name has at most 64 characters."})


@transaction.atomic
def _dataset_save(
    *, name: str, source: str, items: list[ParsedItem], description: str, quality_scale: float, replace: bool
) -> Dataset:
    dataset = _dataset_claim(name=name, replace=replace)
    dataset.source, dataset.description, dataset.quality_scale = source, description, quality_scale
    dataset.model_names = list(dict.fromkeys(model for item in items for model in item.answers))
    dataset.item_count = len(items)
    dataset.save()
    _items_create(dataset, items)
    return dataset


def _dataset_claim(*, name: str, replace: bool) -> Dataset:
    """The existing dataset emptied of its items when replacing, or a new unsaved one."""
    dataset = Dataset.objects.select_for_update().filter(name=name).first()
    if dataset is None:
        return Dataset(name=name)
    if not replace:
        raise ValidationError(
            {"name": f"A dataset named {name!r} exists already; import with replace to replace it."}
        )
    RecordedAnswer.objects.filter(item__dataset=dataset).delete()
    DatasetItem.objects.filter(dataset=dataset).delete()
    return dataset


def _items_create(dataset: Dataset, items: list[ParsedItem]) -> None:
    rows = DatasetItem.objects.bulk_create(
        [
            DatasetItem(
                dataset=dataset,
                position=position,
                prompt=item.prompt,
                prompt_hash=item.prompt_hash,
                reference=item.reference,
                category=item.category,
                metadata=item.metadata,
                excluded=item.excluded,
            )
            for position, item in enumerate(items)
        ],
        batch_size=BATCH_SIZE,
    )
    answers = [
        RecordedAnswer(item=row, model_name=model, answer=answer, quality=quality)
        for row, item in zip(rows, items, strict=True)
        for model, (answer, quality) in item.answers.items()
    ]
    RecordedAnswer.objects.bulk_create(answers, batch_size=BATCH_SIZE)


def _scale_infer(items: list[ParsedItem]) -> float:
    """The smallest common scale (1, 5, 10, 100) holding every quality, else the largest quality."""
    top = max(
        (quality for item in items for _, quality in item.answers.values() if quality is not None), default=1
    )
    return next((scale for scale in COMMON_SCALES if top <= scale), float(top))


# -- what a path holds ---------------------------------------------------------------------------------------


def _source_parse(path: Path) -> ParsedDataset:
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder.")
    if path.is_dir():
        return _folder_parse(path)
    parsers = {".csv": _csv_file_parse, ".jsonl": _jsonl_file_parse, ".ndjson": _jsonl_file_parse}
    parser = parsers.get(path.suffix.lower())
    if parser is None:
        raise ValueError(
            f"{path}: expected a .csv or .jsonl file, or a RouteLLM gsm8k/, mmlu/ or mt_bench/ folder."
        )
    items = _contaminated_mark(parser(path), path.parent)
    if not any(item.answers for item in items):
        raise ValueError(
            f"{path}: no model columns; add <model> for a quality and/or <model>_response for an answer."
        )
    return ParsedDataset(items)


def _folder_parse(folder: Path) -> ParsedDataset:
    if (folder / "gsm8k_responses.csv").is_file():
        items = _csv_file_parse(folder / "gsm8k_responses.csv")
        return ParsedDataset(_contaminated_mark(items, folder), 1.0, ROUTELLM_DESCRIPTIONS["gsm8k"])
    if (folder / "responses").is_dir():
        return ParsedDataset(_mmlu_parse(folder), 1.0, ROUTELLM_DESCRIPTIONS["mmlu"])
    if (folder / "question.jsonl").is_file():
        return ParsedDataset(_mt_bench_parse(folder), 10.0, ROUTELLM_DESCRIPTIONS["mt_bench"])
    if any((folder / sub).is_dir() for _, sub in ROUTELLM_DATASETS):
        raise ValueError(
            f"{folder}: this is a RouteLLM root holding several datasets; import it with --routellm."
        )
    raise ValueError(
        f"{folder}: not a dataset folder (expected gsm8k_responses.csv, responses/ or question.jsonl)."
    )


def _contaminated_mark(items: list[ParsedItem], folder: Path) -> list[ParsedItem]:
    """Mark excluded the items whose prompt is listed in the folder's contaminated_prompts.jsonl."""
    path = folder / CONTAMINATED_FILE
    if not path.is_file():
        return items
    hashes = {prompt_hash(_contaminated_prompt(record, path, line)) for line, record in _jsonl_records(path)}
    for item in items:
        item.excluded = item.excluded or item.prompt_hash in hashes
    return items


def _contaminated_prompt(record: dict[str, Any], path: Path, line: int) -> str:
    prompt = record.get("eval_prompt", record.get("prompt"))
    if not isinstance(prompt, str):
        raise DatasetFileError(path, line, "eval_prompt", "expected the contaminated prompt's text")
    return prompt


# -- RouteLLM MMLU and MT-Bench ------------------------------------------------------------------------------


def _mmlu_parse(folder: Path) -> list[ParsedItem]:
    files = sorted((folder / "responses").glob("mmlu_*.csv"))
    if not files:
        raise ValueError(f"{folder / 'responses'}: no mmlu_<subject>.csv files.")
    items = [
        item for path in files for item in _csv_file_parse(path, category=path.stem.removeprefix("mmlu_"))
    ]
    return _contaminated_mark(items, folder)


def _mt_bench_parse(folder: Path) -> list[ParsedItem]:
    items = _mt_bench_questions(folder / "question.jsonl")
    judgements = folder / "judgements.jsonl"
    if not judgements.is_file():
        raise ValueError(f"{judgements}: missing; MT-Bench qualities are the judge scores recorded there.")
    for line, record in _jsonl_records(judgements):
        _mt_bench_judgement(items, record, judgements, line)
    return _contaminated_mark(list(items.values()), folder)


def _mt_bench_questions(path: Path) -> dict[tuple[Any, Any], ParsedItem]:
    """One item per (question_id, turn), in file order; the prompt is that turn's text."""
    items: dict[tuple[Any, Any], ParsedItem] = {}
    for line, record in _jsonl_records(path):
        turns, references = record.get("turns"), record.get("reference") or []
        if not isinstance(turns, list) or not all(isinstance(turn, str) and turn.strip() for turn in turns):
            raise DatasetFileError(path, line, "turns", "expected a list of prompt texts")
        for turn, text in enumerate(turns, start=1):
            reference = str(references[turn - 1]) if len(references) >= turn else ""
            metadata = {"question_id": record.get("question_id"), "turn": turn}
            item = ParsedItem(text, reference, str(record.get("category", "")), metadata)
            items[(record.get("question_id"), turn)] = _item_check(item, path, line)
    return items


def _mt_bench_judgement(items: dict, record: dict[str, Any], path: Path, line: int) -> None:
    item = items.get((record.get("question_id"), record.get("turn")))
    if item is None:
        problem = (
            f"no question {record.get('question_id')!r} with turn {record.get('turn')!r} in question.jsonl"
        )
        raise DatasetFileError(path, line, "question_id", problem)
    model = record.get("model")
    if not isinstance(model, str) or not model or len(model) > MAX_MODEL_NAME:
        raise DatasetFileError(path, line, "model", "expected the judged model's name")
    if model in item.answers:
        raise DatasetFileError(
            path, line, "model", f"a second judgement of {model!r} for this question and turn"
        )
    quality = _quality(record.get("score"), path, line, "score")
    item.answers[model] = (_judged_answer(str(record.get("user_prompt", ""))), quality)


def _judged_answer(judge_prompt: str) -> str:
    """The judged answer quoted in an MT-Bench judge prompt, or "" when the prompt has another form."""
    if match := JUDGED_ANSWER.search(judge_prompt):
        return match.group(1).strip()
    conversation = judge_prompt.rpartition(CONVERSATION_START)[2].partition(CONVERSATION_END)
    if not conversation[1] or ASSISTANT_TURN not in conversation[0]:
        return ""
    return conversation[0].rpartition(ASSISTANT_TURN)[2].strip()


# -- user files ----------------------------------------------------------------------------------------------


def _csv_file_parse(path: Path, *, category: str = "") -> list[ParsedItem]:
    rows = _csv_rows(path)
    _, header = next(rows, (1, []))
    header = [name.strip() for name in header]
    if "prompt" not in header:
        found = ", ".join(repr(name) for name in header) or "nothing"
        raise DatasetFileError(path, 1, "prompt", f"no prompt column (the header has {found})")
    if len(set(header)) != len(header):
        raise DatasetFileError(path, 1, None, "the header repeats a column name")
    models = _model_keys(header, path, 1)
    return [
        _flat_item(_csv_record(header, row, path, line), models, path, line, category) for line, row in rows
    ]


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) of each non-blank record; a quoted cell may span lines."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        line = 1
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield line, row
                line = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DatasetFileError(path, line, None, f"unreadable CSV ({exc})") from exc


def _csv_record(header: list[str], row: list[str], path: Path, line: int) -> dict[str, str]:
    if len(row) > len(header):
        raise DatasetFileError(path, line, None, f"{len(row)} cells but the header has {len(header)} columns")
    return dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))


def _jsonl_file_parse(path: Path) -> list[ParsedItem]:
    items = [_jsonl_item(record, path, line) for line, record in _jsonl_records(path)]
    if not items:
        raise DatasetFileError(path, 1, None, "no JSON lines")
    return items


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    line = 0
    with path.open(encoding="utf-8-sig") as handle:
        try:
            for line, text in enumerate(handle, start=1):
                if text.strip():
                    yield line, _json_object(text, path, line)
        except UnicodeDecodeError as exc:
            raise DatasetFileError(path, line + 1, None, "not UTF-8 text") from exc


def _json_object(text: str, path: Path, line: int) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetFileError(path, line, exc.colno, f"invalid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise DatasetFileError(path, line, None, "expected a JSON object")
    return record


def _jsonl_item(record: dict[str, Any], path: Path, line: int) -> ParsedItem:
    if "answers" not in record:
        return _flat_item(record, _model_keys(record.keys(), path, line), path, line)
    answers = record["answers"]
    if not isinstance(answers, dict):
        raise DatasetFileError(path, line, "answers", 'expected {"<model>": {"answer": ..., "quality": ...}}')
    item = _base_item(record, path, line)
    for model, entry in answers.items():
        column = f"answers.{model}"
        if not isinstance(entry, dict):
            raise DatasetFileError(path, line, column, 'expected {"answer": ..., "quality": ...}')
        answer = _text(entry.get("answer"), path, line, f"{column}.answer")
        item.answers[model] = (answer, _quality(entry.get("quality"), path, line, f"{column}.quality"))
    return _item_check(item, path, line)


def _model_keys(keys: Iterable[str], path: Path, line: int) -> dict[str, tuple[str | None, str | None]]:
    """model -> (its quality column, its answer column) for every column that is not a reserved one."""
    models: dict[str, tuple[str | None, str | None]] = {}
    for key in keys:
        model = key.removesuffix(RESPONSE_SUFFIX)
        if key in RESERVED_KEYS or not model:
            continue
        if len(model) > MAX_MODEL_NAME:
            raise DatasetFileError(path, line, key, f"a model name has at most {MAX_MODEL_NAME} characters")
        quality_key, answer_key = models.get(model, (None, None))
        models[model] = (quality_key, key) if key.endswith(RESPONSE_SUFFIX) else (key, answer_key)
    return models


def _flat_item(record: dict, models: dict, path: Path, line: int, category: str = "") -> ParsedItem:
    item = _base_item(record, path, line, category)
    for model, (quality_key, answer_key) in models.items():
        answer = _text(record.get(answer_key), path, line, answer_key) if answer_key else ""
        quality = _quality(record.get(quality_key), path, line, quality_key) if quality_key else None
        if answer or quality is not None:
            item.answers[model] = (answer, quality)
    return _item_check(item, path, line)


def _base_item(record: dict[str, Any], path: Path, line: int, category: str = "") -> ParsedItem:
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DatasetFileError(path, line, "prompt", "the prompt is missing or empty")
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise DatasetFileError(path, line, "metadata", "expected a JSON object")
    if record.get("id") not in (None, ""):
        metadata = {**metadata, "id": record["id"]}
    reference = _text(record.get("reference"), path, line, "reference")
    return ParsedItem(
        prompt, reference, _text(record.get("category"), path, line, "category") or category, metadata
    )


def _item_check(item: ParsedItem, path: Path, line: int) -> ParsedItem:
    """What PostgreSQL would refuse, reported against the file instead."""
    if len(item.category) > MAX_CATEGORY:
        raise DatasetFileError(path, line, "category", f"a category has at most {MAX_CATEGORY} characters")
    if "\x00" in item.prompt:
        raise DatasetFileError(path, line, "prompt", "the text holds a NUL character")
    return item


def _text(value: Any, path: Path, line: int, column: str | None) -> str:
    if value is None:
        return ""
    text = json.dumps(value) if isinstance(value, dict | list) else str(value)
    if "\x00" in text:
        raise DatasetFileError(path, line, column, "the text holds a NUL character")
    return text


def _quality(value: Any, path: Path, line: int, column: str | None) -> float | None:
    """True/False, 1/0 or a finite number >= 0 (bools and numbers as JSON or as text); blank is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return float(value)
    word = value.strip().lower() if isinstance(value, str) else None
    if word in QUALITY_WORDS:
        return QUALITY_WORDS[word]
    try:
        number = float(word if word is not None else value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise DatasetFileError(
            path, line, column, f"{value!r} is not a quality: expected True/False, 1/0 or a number >= 0"
        )
    return number


@transaction.atomic
def dataset_describe(*, dataset: Dataset, description: str, user=None) -> Dataset:
    """A dataset's description, the one field a person edits (its items come from the import); audited."""
    before = Dataset.objects.select_for_update().get(pk=dataset.pk).description
    dataset.description = description
    dataset.save(update_fields=["description"])
    changes = {"description": [before, description]}
    audit_record(actor=user, action="dataset.describe", target=dataset, changes=changes)
    return dataset


@transaction.atomic
def dataset_item_exclude(*, item: DatasetItem, excluded: bool, user=None) -> DatasetItem:
    """Leave an item out of evaluations and training (a contaminated or broken prompt), or back in."""
    before = DatasetItem.objects.select_for_update().get(pk=item.pk).excluded
    item.excluded = excluded
    item.save(update_fields=["excluded"])
    action = "dataset_item.exclude" if excluded else "dataset_item.include"
    audit_record(actor=user, action=action, target=item, changes={"excluded": [before, excluded]})
    return item
