"""Importing datasets of recorded answers (RouteLLM's and a user's own files) and reading them back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from experiments.models import Dataset, DatasetItem, RecordedAnswer
from experiments.selectors import dataset_accuracy, dataset_list, recorded_answer_get
from experiments.services import dataset_import, dataset_import_routellm
from tests.datasets import datasets_dir, require_dataset

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"
FIRST_GSM8K_PROMPT = "Janet’s ducks lay 16 eggs per day."

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def routellm_root() -> Path:
    require_dataset(datasets_dir() / "routellm" / "gsm8k" / "gsm8k_responses.csv")
    return datasets_dir() / "routellm"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, *records: dict) -> Path:
    return write(path, "".join(json.dumps(record) + "\n" for record in records))


def nothing_imported() -> bool:
    return (
        not Dataset.objects.exists()
        and not DatasetItem.objects.exists()
        and not RecordedAnswer.objects.exists()
    )


# -- RouteLLM ------------------------------------------------------------------------------------------------


def test_gsm8k_import_holds_every_prompt_with_both_models_answers_and_labels(routellm_root):
    dataset = dataset_import(name="gsm8k", path=routellm_root / "gsm8k")

    assert (dataset.item_count, dataset.quality_scale, dataset.model_names) == (1319, 1.0, [WEAK, STRONG])
    assert DatasetItem.objects.filter(dataset=dataset).count() == 1319
    assert RecordedAnswer.objects.filter(item__dataset=dataset).exclude(answer="").count() == 2 * 1319
    assert DatasetItem.objects.filter(dataset=dataset, excluded=True).count() == 12
    first = DatasetItem.objects.get(dataset=dataset, position=0)
    assert first.prompt.startswith(FIRST_GSM8K_PROMPT)
    assert "#### 18" in first.answers.get(model_name=WEAK).answer


def test_gsm8k_accuracies_match_the_published_figures_when_contaminated_prompts_count(routellm_root):
    dataset_import(name="gsm8k", path=routellm_root / "gsm8k" / "gsm8k_responses.csv")

    def accuracy(model: str, include: bool) -> float:
        return round(dataset_accuracy(dataset_name="gsm8k", model_name=model, include_excluded=include), 4)

    assert (accuracy(WEAK, True), accuracy(STRONG, True)) == (0.6384, 0.8567)
    assert (accuracy(WEAK, False), accuracy(STRONG, False)) == (0.6373, 0.8577)


def test_mt_bench_items_are_one_per_question_turn_with_the_judged_answer(routellm_root):
    dataset = dataset_import(name="mt-bench", path=routellm_root / "mt_bench")

    second_turn = DatasetItem.objects.get(dataset=dataset, metadata__question_id=81, metadata__turn=2)
    assert second_turn.prompt == "Rewrite your previous response. Start every sentence with the letter A."
    assert second_turn.category == "writing"
    answer = second_turn.answers.get(model_name=STRONG)
    assert answer.answer.startswith("Aloha") and 1 <= answer.quality <= 10
    assert RecordedAnswer.objects.filter(item__dataset=dataset, model_name=WEAK).count() == 160
    assert DatasetItem.objects.filter(dataset=dataset, excluded=True).count() == 8


def test_a_broken_file_in_the_routellm_root_imports_none_of_the_three(tmp_path):
    write(tmp_path / "gsm8k" / "gsm8k_responses.csv", "prompt,m\nOne plus one?,True\n")
    write(tmp_path / "mmlu" / "responses" / "mmlu_anatomy.csv", "prompt,m\nWhich bone?,False\n")
    jsonl(
        tmp_path / "mt_bench" / "question.jsonl",
        {"question_id": 1, "category": "math", "turns": ["Hi", "Bye"]},
    )
    write(
        tmp_path / "mt_bench" / "judgements.jsonl",
        '{"question_id": 1, "model": "m", "turn": 1, "score": 9}\n{oops\n',
    )

    with pytest.raises(ValueError, match=r"judgements\.jsonl, line 2, column 2: invalid JSON"):
        dataset_import_routellm(root=tmp_path)

    assert nothing_imported()


# -- a user's own files --------------------------------------------------------------------------------------


def test_a_user_csv_imports_quality_and_answer_columns_per_model(tmp_path):
    path = write(
        tmp_path / "mine.csv",
        "prompt,reference,small,small_response,large\n"
        'Capital of France?,Paris,True,Paris,1\n"Two\nlines?",yes,0,"No.",false\n',
    )

    dataset = dataset_import(name="mine", path=path, description="two prompts")

    assert (dataset.model_names, dataset.quality_scale, dataset.item_count) == (["small", "large"], 1.0, 2)
    item = DatasetItem.objects.get(dataset=dataset, position=1)
    assert (item.prompt, item.reference) == ("Two\nlines?", "yes")
    answers = {a.model_name: (a.answer, a.quality) for a in item.answers.all()}
    assert answers == {"small": ("No.", 0.0), "large": ("", 0.0)}
    assert dataset_accuracy(dataset_name="mine", model_name="small") == 0.5


def test_a_user_jsonl_accepts_flat_and_nested_lines_and_infers_a_ten_point_scale(tmp_path):
    path = jsonl(
        tmp_path / "judged.jsonl",
        {"prompt": "Write a haiku", "category": "poetry", "a": 7, "a_response": "Leaves fall"},
        {
            "prompt": "Explain DNS",
            "answers": {"a": {"answer": "Names to addresses", "quality": 9}, "b": {"quality": 4}},
        },
    )

    dataset = dataset_import(name="judged", path=path)

    assert (dataset.model_names, dataset.quality_scale) == (["a", "b"], 10.0)
    assert dataset_accuracy(dataset_name="judged", model_name="a") == 8.0
    recorded = recorded_answer_get(dataset_name="judged", model_name="b", prompt="Explain DNS")
    assert (recorded.answer, recorded.quality, recorded.quality_scale) == ("", 4.0, 10.0)


def test_a_csv_without_a_prompt_column_is_refused_naming_the_file_line_and_column(tmp_path):
    path = write(tmp_path / "noprompt.csv", "question,small\nHi?,True\n")

    with pytest.raises(ValueError, match=r"noprompt\.csv, line 1, column 'prompt': no prompt column"):
        dataset_import(name="noprompt", path=path)

    assert nothing_imported()


def test_a_non_boolean_quality_is_refused_naming_its_line_and_column(tmp_path):
    path = write(tmp_path / "bad.csv", 'prompt,small\n"Multi\nline",True\nSecond,maybe\n')

    with pytest.raises(ValueError, match=r"bad\.csv, line 4, column 'small': 'maybe' is not a quality"):
        dataset_import(name="bad", path=path)

    assert nothing_imported()


def test_a_broken_json_line_is_refused_naming_its_line_and_imports_nothing(tmp_path):
    path = write(tmp_path / "broken.jsonl", '{"prompt": "ok", "m": true}\n\n{"prompt": "cut", "m": \n')

    with pytest.raises(ValueError, match=r"broken\.jsonl, line 3, column \d+: invalid JSON"):
        dataset_import(name="broken", path=path)

    assert nothing_imported()


def test_a_file_with_no_model_columns_is_refused(tmp_path):
    path = write(tmp_path / "prompts.csv", "prompt,reference\nHi?,Hello\n")

    with pytest.raises(ValueError, match="no model columns"):
        dataset_import(name="prompts", path=path)


def test_the_routellm_root_given_as_one_dataset_points_to_the_routellm_option(tmp_path):
    (tmp_path / "gsm8k").mkdir()

    with pytest.raises(ValueError, match="--routellm"):
        dataset_import(name="root", path=tmp_path)


def test_prompts_listed_as_contaminated_next_to_a_file_are_excluded_from_accuracy(tmp_path):
    path = write(tmp_path / "data.csv", "prompt,m\nSeen  in training,True\nFresh,False\n")
    jsonl(tmp_path / "contaminated_prompts.jsonl", {"train_prompt": "x", "eval_prompt": "Seen in training"})

    dataset_import(name="data", path=path)

    assert dataset_accuracy(dataset_name="data", model_name="m") == 0.0
    assert dataset_accuracy(dataset_name="data", model_name="m", include_excluded=True) == 0.5
    assert [summary.excluded_count for summary in dataset_list()] == [1]


# -- names and replacing -------------------------------------------------------------------------------------


def test_reimporting_a_name_without_replace_is_refused_and_keeps_the_first_import(tmp_path):
    path = write(tmp_path / "a.csv", "prompt,m\nOne?,True\n")
    first = dataset_import(name="same", path=path)

    with pytest.raises(ValidationError, match="exists already"):
        dataset_import(name="same", path=write(tmp_path / "b.csv", "prompt,m\nTwo?,False\nThree?,True\n"))

    assert list(DatasetItem.objects.values_list("dataset_id", "prompt")) == [(first.id, "One?")]


def test_replace_swaps_the_items_and_answers_of_an_existing_dataset(tmp_path):
    first = dataset_import(name="same", path=write(tmp_path / "a.csv", "prompt,m\nOne?,True\n"))

    second = dataset_import(
        name="same", path=write(tmp_path / "b.csv", "prompt,n\nTwo?,False\nThree?,True\n"), replace=True
    )

    assert second.id == first.id and second.model_names == ["n"]
    assert list(DatasetItem.objects.order_by("position").values_list("prompt", flat=True)) == [
        "Two?",
        "Three?",
    ]
    assert set(RecordedAnswer.objects.values_list("model_name", flat=True)) == {"n"}


def test_a_name_that_is_not_a_slug_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="not a slug"):
        dataset_import(name="has spaces", path=write(tmp_path / "a.csv", "prompt,m\nOne?,True\n"))


def test_recorded_answers_are_found_by_whitespace_normalised_prompt_and_unknown_ones_are_none(tmp_path):
    dataset_import(name="lookup", path=write(tmp_path / "a.csv", "prompt,m,m_response\nWhat  is\t2+2?,1,4\n"))

    found = recorded_answer_get(dataset_name="lookup", model_name="m", prompt=" What is 2+2? ")

    assert (found.answer, found.quality, found.quality_scale) == ("4", 1.0, 1.0)
    assert found.item_id == DatasetItem.objects.get().id
    assert recorded_answer_get(dataset_name="lookup", model_name="other", prompt="What is 2+2?") is None
    assert recorded_answer_get(dataset_name="lookup", model_name="m", prompt="What is 3+3?") is None


def test_an_explicit_quality_scale_overrides_the_inferred_one(tmp_path):
    path = write(tmp_path / "likert.csv", "prompt,m\nGood?,4\nBad?,2\n")

    assert dataset_import(name="inferred", path=path).quality_scale == 5.0
    assert dataset_import(name="explicit", path=path, quality_scale=7).quality_scale == 7
    with pytest.raises(ValidationError, match="positive"):
        dataset_import(name="negative", path=path, quality_scale=-1)


# -- the import command --------------------------------------------------------------------------------------


def run_import(*args: str) -> str:
    out = io.StringIO()
    call_command("import_dataset", *args, stdout=out)
    return out.getvalue()


def test_the_import_command_prints_items_models_and_accuracy_with_and_without_contaminated(routellm_root):
    output = run_import(str(routellm_root / "gsm8k"), "--name", "gsm8k")

    assert "gsm8k: 1319 items (12 excluded)" in output
    assert f"models: {WEAK}, {STRONG}" in output
    assert f"{WEAK}: accuracy 0.6384 over all items, 0.6373 without the 12 excluded" in output
    assert f"{STRONG}: accuracy 0.8567 over all items, 0.8577 without the 12 excluded" in output


def test_the_routellm_import_command_creates_the_three_datasets_and_prints_every_published_figure(
    routellm_root,
):
    # The one test that imports MMLU (14,042 prompts, about three seconds).
    output = run_import("--routellm", str(routellm_root))

    names = ["routellm-gsm8k", "routellm-mmlu", "routellm-mt-bench"]
    assert list(Dataset.objects.order_by("name").values_list("name", "item_count", "quality_scale")) == [
        (names[0], 1319, 1.0),
        (names[1], 14042, 1.0),
        (names[2], 160, 10.0),
    ]
    assert DatasetItem.objects.filter(dataset__name=names[1]).values("category").distinct().count() == 57
    figures = [
        round(dataset_accuracy(dataset_name=name, model_name=model, include_excluded=True), digits)
        for name, digits in ((names[1], 4), (names[2], 2))
        for model in (WEAK, STRONG)
    ]
    assert figures == [0.6808, 0.8058, 8.34, 9.23]
    assert "routellm-mmlu: 14042 items (5 excluded)" in output
    assert "routellm-mt-bench: 160 items (8 excluded)" in output
    for figure in (
        "accuracy 0.6384",
        "accuracy 0.8567",
        "accuracy 0.6808",
        "accuracy 0.8058",
        "quality 8.34",
        "quality 9.23",
    ):
        assert figure in output


def test_the_import_command_names_the_replace_option_when_the_name_is_taken(tmp_path):
    path = write(tmp_path / "a.csv", "prompt,m\nOne?,True\n")
    run_import(str(path))

    with pytest.raises(CommandError, match="exists already"):
        run_import(str(path))
    assert "a: 1 items" in run_import(str(path), "--replace")


def test_the_import_command_reports_a_missing_folder_without_a_traceback(tmp_path):
    with pytest.raises(CommandError, match="No RouteLLM folder at"):
        run_import("--routellm", str(tmp_path / "absent"))
    with pytest.raises(CommandError, match="no such file or folder"):
        run_import(str(tmp_path / "absent.csv"))


def test_the_import_command_reports_a_bad_line_as_a_command_error(tmp_path):
    path = write(tmp_path / "bad.csv", "prompt,m\nOne?,perhaps\n")

    with pytest.raises(CommandError, match=r"bad\.csv, line 2, column 'm'"):
        run_import(str(path), "--name", "bad")
