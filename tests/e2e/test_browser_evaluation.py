"""A three-model evaluation's result page in a real browser: every model's point, the Pareto frontier,
the best single model and the oracle, and the curves drawn by Plotly."""

import pytest

from experiments.evaluation.runner import evaluation_run
from experiments.evaluation.services import evaluation_create
from tests.experiments import test_learned_routers as learned

STRONG, WEAK = learned.STRONG, learned.WEAK
three = learned.three  # the three-model fixture, reused here

pytestmark = [pytest.mark.integration]


@pytest.mark.django_db(transaction=True)
def test_the_result_page_of_a_three_model_evaluation_shows_every_model_the_frontier_and_the_oracle(
    three,
    staff_page,
    asgi_server,  # noqa: F811
):
    evaluation = evaluation_create(
        dataset=three.dataset,
        policy_versions=[three.learned],
        weak=WEAK,
        strong=STRONG,
        enqueue=False,
    )
    evaluation_run(evaluation_id=evaluation.id)
    page = staff_page
    page.goto(f"{asgi_server}/evaluations/{evaluation.id}/")
    page.wait_for_selector("#curve-share.js-plotly-plot .main-svg")
    assert page.inner_text("#pareto") == f"{WEAK}, mid-model, {STRONG}"
    table = page.inner_text("#many-models")
    for label in (
        WEAK,
        "mid-model",
        STRONG,
        f"best single: {STRONG}",
        "oracle",
        "random",
        "three/learned@v1",
    ):
        assert label in table
    assert "[" in page.inner_text("#summary")  # the APGR's interval
