"""Assignment hashing against GrowthBook's shared SDK test cases, and its statistical properties."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from scipy.stats import chi2_contingency

from experiments.assignment import (
    Assignment,
    assign,
    choose_variation,
    fnv1a32,
    get_bucket_ranges,
    get_equal_weights,
    hash,
    in_namespace,
)
from tests.datasets import require_dataset

CASES_PATH = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "growthbook" / "cases.json"
USER_IDS = tuple(f"user-{i}" for i in range(100_000))
INDEPENDENCE_ALPHA = 0.001


@pytest.fixture(autouse=True)
def _growthbook_cases_file(request):
    """The stand-in case of a missing cases.json skips, or fails under CI=true."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "case" in callspec.params and callspec.params["case"] is None:
        require_dataset(CASES_PATH)


def growthbook_cases(section: str) -> list:
    """The cases of one section of the SDKs' cases.json; without the file, one case that skips (or, under
    CI=true, fails: see tests/datasets.py)."""
    if not CASES_PATH.is_file():
        return [pytest.param(None, id="cases.json-missing")]
    cases = json.loads(CASES_PATH.read_text(encoding="utf-8"))[section]
    return [pytest.param(case, id=str(case[0]) if section != "hash" else repr(case[:3])) for case in cases]


def within_assignment(case: list) -> bool:
    """Whether a `run` case needs only what `assign` models: a string id, weights, coverage, namespace."""
    _, context, experiment, *_ = case
    user_id = context.get("attributes", {}).get("id")
    allowed = {"key", "variations", "weights", "coverage", "namespace", "seed", "hashVersion"}
    return (
        context == {"attributes": {"id": user_id}} and isinstance(user_id, str) and set(experiment) <= allowed
    )


def run_cases_within_assignment() -> list:
    return [p for p in growthbook_cases("run") if p.values[0] is None or within_assignment(p.values[0])]


@cache
def variations(
    seed: str,
    weights: tuple[float, ...],
    coverage: float = 1,
    namespace: tuple[str, float, float] | None = None,
) -> tuple[int, ...]:
    """Each fixed user's variation (-1 outside) in one experiment, computed once per test session."""
    return tuple(
        assign(
            seed=seed, user_id=user_id, weights=list(weights), coverage=coverage, namespace=namespace
        ).variation
        for user_id in USER_IDS
    )


def shares(assigned: tuple[int, ...], count: int) -> list[float]:
    tally = Counter(assigned)
    return [tally[variation] / len(assigned) for variation in range(count)]


def independence_p_value(first: tuple[int, ...], second: tuple[int, ...]) -> float:
    """The chi-square test of independence's p-value for two assignments of the same users."""
    size = max(first) + 1
    table = [[0] * size for _ in range(size)]
    for a, b in zip(first, second, strict=True):
        table[a][b] += 1
    return float(chi2_contingency(table).pvalue)


# GrowthBook's published cases


@pytest.mark.parametrize("case", growthbook_cases("hash"))
def test_hash_matches_growthbook_cases(case):
    seed, value, version, expected = case
    assert hash(seed, value, version) == expected


@pytest.mark.parametrize("case", growthbook_cases("getBucketRange"))
def test_bucket_ranges_match_growthbook_cases(case):
    _, (num_variations, coverage, weights), expected = case
    actual = get_bucket_ranges(num_variations, coverage, weights)
    assert [list(bucket_range) for bucket_range in actual] == [pytest.approx(r, abs=1e-6) for r in expected]


@pytest.mark.parametrize("case", growthbook_cases("chooseVariation"))
def test_choose_variation_matches_growthbook_cases(case):
    _, n, ranges, expected = case
    assert choose_variation(n, [tuple(r) for r in ranges]) == expected


@pytest.mark.parametrize("case", growthbook_cases("inNamespace"))
def test_in_namespace_matches_growthbook_cases(case):
    _, user_id, namespace, expected = case
    assert in_namespace(user_id, tuple(namespace)) is expected


@pytest.mark.parametrize("case", growthbook_cases("getEqualWeights"))
def test_equal_weights_match_growthbook_cases(case):
    n, expected = case
    assert get_equal_weights(n) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("case", run_cases_within_assignment())
def test_assign_puts_users_where_growthbook_runs_put_them(case):
    _, context, experiment, expected_value, expected_in_experiment, _ = case
    options = experiment["variations"]
    assignment = assign(
        seed=experiment.get("seed", experiment["key"]),
        user_id=context["attributes"]["id"],
        weights=experiment.get("weights") or get_equal_weights(len(options)),
        coverage=experiment.get("coverage", 1),
        namespace=tuple(experiment["namespace"]) if "namespace" in experiment else None,
        hash_version=experiment.get("hashVersion", 1),  # the SDK's default when an experiment names none
    )
    assert assignment.in_experiment is expected_in_experiment
    assert options[max(assignment.variation, 0)] == expected_value  # outside users see the control


# The hash itself


def test_fnv1a32_matches_the_reference_fnv_vectors():
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968


def test_fnv1a32_hashes_utf16_code_units_like_the_javascript_sdk():
    expected = 0x811C9DC5
    for unit in (0xD83D, 0xDE00):  # "😀" as JavaScript's charCodeAt sees it
        expected = ((expected ^ unit) * 0x01000193) & 0xFFFFFFFF
    assert fnv1a32("😀") == expected
    assert fnv1a32("é") == ((0x811C9DC5 ^ 0xE9) * 0x01000193) & 0xFFFFFFFF


def test_hash_of_an_unknown_version_is_none():
    assert hash("seed", "user-1", 3) is None


# assign()


def test_an_assigned_user_carries_the_bucket_that_chose_the_variation():
    assignment = assign(seed="exp-1", user_id="user-1", weights=[0.5, 0.5], coverage=1)
    assert assignment.bucket == hash("exp-1", "user-1", 2)
    assert assignment == Assignment(
        variation=int(assignment.bucket >= 0.5), bucket=assignment.bucket, in_experiment=True
    )
    assert len({assignment, Assignment(assignment.variation, assignment.bucket, True)}) == 1


def test_users_outside_the_coverage_get_no_variation_but_keep_their_bucket():
    outside = assign(seed="s", user_id="user-1", weights=[0.5, 0.5], coverage=0)
    assert outside == Assignment(variation=-1, bucket=hash("s", "user-1", 2), in_experiment=False)
    assert 0 < outside.bucket < 1


@pytest.mark.parametrize(
    "options",
    [
        {"user_id": ""},
        {"weights": [1.0]},
        {"hash_version": 7},
        {"namespace": ("ns", 0, 0), "user_id": "user-1"},
    ],
    ids=["empty user id", "single variation", "unknown hash version", "empty namespace range"],
)
def test_assign_leaves_users_outside_when_growthbook_would(options):
    arguments = {"seed": "s", "user_id": "user-1", "weights": [0.5, 0.5], "coverage": 1} | options
    assert assign(**arguments) == Assignment(variation=-1, bucket=0.0, in_experiment=False)


# Statistical properties over 100,000 fixed user ids


@pytest.mark.parametrize("weights", [(0.5, 0.5), (1 / 3, 1 / 3, 1 / 3)], ids=["50/50", "3-way"])
def test_an_equal_split_is_uniform_within_one_percent(weights):
    measured = shares(variations("uniformity", weights), len(weights))
    assert measured == pytest.approx(list(weights), abs=0.01), f"shares {measured}"


@pytest.mark.parametrize("weights", [(0.5, 0.5), (1 / 3, 1 / 3, 1 / 3)], ids=["2x2", "3x3"])
def test_experiments_with_different_seeds_assign_independently(weights):
    # Deterministic for this fixed set of users, so the threshold cannot flake.
    p_value = independence_p_value(variations("experiment-a", weights), variations("experiment-b", weights))
    assert p_value > INDEPENDENCE_ALPHA, f"chi-square p = {p_value:.4f}"


def test_raising_coverage_from_10_to_50_percent_keeps_every_assigned_user_in_its_variant():
    at_10 = variations("ramp", (0.5, 0.5), coverage=0.1)
    at_50 = variations("ramp", (0.5, 0.5), coverage=0.5)
    assigned_at_10 = [(before, after) for before, after in zip(at_10, at_50, strict=True) if before >= 0]
    assert all(before == after for before, after in assigned_at_10)
    ratio = sum(v >= 0 for v in at_50) / len(assigned_at_10)
    assert ratio == pytest.approx(5, rel=0.05)


def test_namespaces_exclude_each_other_and_together_cover_everyone():
    first = variations("experiment-a", (0.5, 0.5), namespace=("ns", 0, 0.5))
    second = variations("experiment-b", (0.5, 0.5), namespace=("ns", 0.5, 1))
    assert not any(a >= 0 and b >= 0 for a, b in zip(first, second, strict=True))
    assert all(a >= 0 or b >= 0 for a, b in zip(first, second, strict=True))
    assert sum(a >= 0 for a in first) / len(first) == pytest.approx(0.5, abs=0.01)


def test_new_weights_under_the_same_seed_move_a_slice_of_control_into_treatment():
    # Why a weight change starts a new phase: with the old seed, 50/50 -> 20/80 moves exactly the users
    # whose bucket lies in [0.2, 0.5) from control to treatment, users whose earlier exposure was control.
    before = variations("phase-1", (0.5, 0.5))
    after = variations("phase-1", (0.2, 0.8))
    moves = Counter((b, a) for b, a in zip(before, after, strict=True) if b != a)
    assert set(moves) == {(0, 1)}
    assert moves[(0, 1)] / len(before) == pytest.approx(0.3, abs=0.01)


def test_a_new_seed_for_new_weights_reshuffles_users_independently_of_the_old_phase():
    before = variations("phase-1", (0.5, 0.5))
    after = variations("phase-2", (0.2, 0.8))
    p_value = independence_p_value(before, after)
    assert p_value > INDEPENDENCE_ALPHA, f"chi-square p = {p_value:.4f}"
    assert shares(after, 2) == pytest.approx([0.2, 0.8], abs=0.01)
