"""The experiments web UI: the form's bounds, editing and discarding drafts, the list's filters, the links."""

import re

import pytest

from experiments.models import Experiment
from experiments.services import experiment_start, experiment_stop
from routing.models import AuditEntry
from tests.factories import ExperimentFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    client.raise_request_exception = False  # a 500 must show up as a status, not as an exception
    return client


@pytest.fixture
def form(live_route, treatment):
    """A valid create form; the quality metric plans without history, so bad input reaches the planner."""
    return {
        "route": "support-bot",
        "name": "premium-test",
        "hypothesis": "Premium answers are better.",
        "control": live_route.version.id,
        "control_weight": 0.5,
        "treatment": treatment.id,
        "treatment_weight": 0.5,
        "coverage": 1.0,
        "namespace_start": 0.0,
        "namespace_end": 1.0,
        "targeting": "{}",
        "guardrail_margins": "{}",
        "primary_metric": "quality",
        "engine": "fixed",
        "alpha": 0.05,
        "min_sample_per_variant": 10,
        "mde": 0.1,
    }


def _field_errors(response, field: str) -> str:
    """The error list Django renders beside `field` (the form's only ul.errorlist items are field errors)."""
    return " ".join(response.context["form"].errors.get(field, []))


def _experiment(live_route, treatment, **fields):
    return ExperimentFactory(
        route=live_route.route, control=live_route.version, treatment=treatment, **fields
    )


# -- bounds --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("button", ["preview", "create"])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("alpha", "0"),
        ("alpha", "2"),
        ("alpha", "-1"),
        ("alpha", ""),
        ("alpha", "nan"),
        ("alpha", "1e309"),
        ("alpha", "inf"),
        ("mde", "0"),
        ("mde", "11"),
        ("mde", "nan"),
        ("coverage", "1.5"),
        ("min_sample_per_variant", str(10**9 + 1)),
        ("name", "x" * 65),
        ("hypothesis", "x" * 2001),
        ("namespace_start", "-0.1"),
        ("targeting", '{"tier": [NaN]}'),
    ],
)
def test_an_out_of_bounds_field_gets_a_400_naming_it_and_saves_nothing(
    staff_client, form, field, value, button
):
    response = staff_client.post("/experiments/new", {**form, field: value, button: "1"})
    assert response.status_code == 400
    assert _field_errors(response, field)
    assert 'class="errorlist' in response.content.decode()
    assert not Experiment.objects.exists()


@pytest.mark.parametrize("button", ["preview", "create"])
def test_weights_that_do_not_sum_to_one_are_named_on_each_weight_field(staff_client, form, button):
    response = staff_client.post(
        "/experiments/new", {**form, "control_weight": 0.7, "treatment_weight": 0.7, button: "1"}
    )
    assert response.status_code == 400
    for field in ("control_weight", "treatment_weight"):
        assert "The weights sum to 1.4; they must sum to 1." in _field_errors(response, field)
    assert 'id="plan"' not in response.content.decode()
    assert not Experiment.objects.exists()


def test_a_zero_weight_is_refused(staff_client, form):
    response = staff_client.post(
        "/experiments/new", {**form, "control_weight": 0, "treatment_weight": 1, "create": "1"}
    )
    assert response.status_code == 400
    assert "above 0" in _field_errors(response, "control_weight")


def test_a_second_treatment_without_a_weight_is_an_error_not_a_zero_weight(staff_client, form, live_route):
    third = PolicyVersionFactory(route=live_route.route, name="third")
    response = staff_client.post("/experiments/new", {**form, "treatment_b": third.id, "create": "1"})
    assert response.status_code == 400
    assert "Give the second treatment a weight" in _field_errors(response, "treatment_b_weight")
    assert not Experiment.objects.exists()


def test_a_namespace_range_must_end_above_its_start(staff_client, form):
    fields = {**form, "namespace": "checkout", "namespace_start": 0.6, "namespace_end": 0.2, "create": "1"}
    response = staff_client.post("/experiments/new", fields)
    assert response.status_code == 400
    assert "end must be above the start" in _field_errors(response, "namespace_end")


def test_three_weights_summing_to_one_create_three_variants(staff_client, form, live_route):
    third = PolicyVersionFactory(route=live_route.route, name="third")
    fields = {**form, "control_weight": 0.4, "treatment_weight": 0.3, "treatment_b": third.id}
    response = staff_client.post("/experiments/new", {**fields, "treatment_b_weight": 0.3, "create": "1"})
    assert response.status_code == 302
    experiment = Experiment.objects.get(name="premium-test")
    weights = list(experiment.variants.order_by("position").values_list("weight", flat=True))
    assert weights == [0.4, 0.3, 0.3]


# -- drafts --------------------------------------------------------------------------------------------------


def test_a_draft_is_edited_through_the_prefilled_form_and_the_edit_is_audited(
    staff_client, live_route, treatment, form
):
    draft = _experiment(live_route, treatment, name="premium-test")
    page = staff_client.get(f"/experiments/{draft.id}/edit")
    assert page.status_code == 200
    assert page.context["form"].initial["name"] == "premium-test"
    assert 'value="premium-test"' in page.content.decode()

    fields = {**form, "name": "premium-edited", "control_weight": 0.6, "treatment_weight": 0.4}
    response = staff_client.post(f"/experiments/{draft.id}/edit", {**fields, "create": "1"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.name == "premium-edited" and draft.alpha == 0.05
    assert list(draft.variants.order_by("position").values_list("weight", flat=True)) == [0.6, 0.4]
    assert AuditEntry.objects.filter(action="experiment.update", target_id=str(draft.id)).exists()


def test_an_edit_with_bad_values_gets_a_400_and_changes_nothing(staff_client, live_route, treatment, form):
    draft = _experiment(live_route, treatment, name="premium-test")
    response = staff_client.post(f"/experiments/{draft.id}/edit", {**form, "alpha": "0", "create": "1"})
    assert response.status_code == 400 and _field_errors(response, "alpha")
    draft.refresh_from_db()
    assert draft.alpha == 0.05


def test_a_running_experiment_cannot_be_edited(staff_client, live_route, treatment, form):
    running = experiment_start(experiment=_experiment(live_route, treatment, name="premium-test"))
    response = staff_client.post(
        f"/experiments/{running.id}/edit", {**form, "name": "renamed", "create": "1"}
    )
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.name == "premium-test"


def test_a_draft_is_discarded_and_the_discard_audited(staff_client, live_route, treatment):
    draft = _experiment(live_route, treatment, name="premium-test")
    response = staff_client.post(f"/experiments/{draft.id}/discard")
    assert response.status_code == 302 and response["Location"] == "/experiments/"
    assert not Experiment.objects.filter(pk=draft.pk).exists()
    assert AuditEntry.objects.filter(action="experiment.discard", target_id=str(draft.id)).exists()


def test_a_running_experiment_is_not_discarded(staff_client, live_route, treatment):
    running = experiment_start(experiment=_experiment(live_route, treatment, name="premium-test"))
    staff_client.post(f"/experiments/{running.id}/discard")
    assert Experiment.objects.get(pk=running.pk).status == "running"


def test_discarding_needs_a_post(staff_client, live_route, treatment):
    draft = _experiment(live_route, treatment, name="premium-test")
    assert staff_client.get(f"/experiments/{draft.id}/discard").status_code == 405
    assert Experiment.objects.filter(pk=draft.pk).exists()


def test_a_draft_on_a_route_does_not_block_creating_and_starting_another(
    staff_client, live_route, treatment, form
):
    draft = _experiment(live_route, treatment, name="forgotten-draft")
    response = staff_client.post("/experiments/new", {**form, "create": "1"})
    assert response.status_code == 302
    second = Experiment.objects.get(name="premium-test")
    staff_client.post(f"/experiments/{second.id}/start")
    assert Experiment.objects.get(pk=second.pk).status == "running"
    # The draft now waits for the slot: it is checked when it starts.
    staff_client.post(f"/experiments/{draft.id}/start")
    assert Experiment.objects.get(pk=draft.pk).status == "draft"


# -- the list ------------------------------------------------------------------------------------------------


@pytest.fixture
def thirty(live_route, treatment):
    """30 drafts in disjoint namespaces: 10 about cost on support-bot, 20 about quality, 3 of them running."""
    experiments = []
    for i in range(30):
        topic = "cost" if i < 10 else "quality"
        experiments.append(
            ExperimentFactory(
                route=live_route.route,
                control=live_route.version,
                treatment=treatment,
                name=f"{topic}-{i:02d}",
                hypothesis=f"Cheaper {topic}" if topic == "cost" else "Better answers",
                namespace=f"ns-{i}",
            )
        )
    for experiment in experiments[10:13]:
        experiment_start(experiment=experiment)
    return experiments


def _names(response) -> list[str]:
    return [experiment.name for experiment in response.context["experiments"]]


def test_the_list_shows_25_a_page_and_the_rest_on_page_two(staff_client, thirty):
    first = staff_client.get("/experiments/")
    assert len(_names(first)) == 25 and first.context["page"].paginator.num_pages == 2
    second = staff_client.get("/experiments/?page=2")
    assert len(_names(second)) == 5
    assert set(_names(first)) | set(_names(second)) == {e.name for e in thirty}


@pytest.mark.parametrize(("page", "expected"), [("99", 2), ("abc", 1), ("-1", 2), ("0", 2)])
def test_a_bad_page_number_shows_a_page_rather_than_an_error(staff_client, thirty, page, expected):
    response = staff_client.get(f"/experiments/?page={page}")
    assert response.status_code == 200 and response.context["page"].number == expected


def test_searching_matches_the_name_or_the_hypothesis(staff_client, thirty):
    assert sorted(_names(staff_client.get("/experiments/?q=cost-0"))) == [f"cost-{i:02d}" for i in range(10)]
    assert len(_names(staff_client.get("/experiments/?q=better+ANSWERS"))) == 20


def test_filtering_by_status_and_route(staff_client, thirty, live_route):
    running = staff_client.get("/experiments/?status=running")
    assert sorted(_names(running)) == ["quality-10", "quality-11", "quality-12"]
    assert len(_names(staff_client.get("/experiments/?route=support-bot&status=draft"))) == 25
    assert _names(staff_client.get("/experiments/?route=no-such-route")) == []


def test_the_filters_are_kept_across_pages(staff_client, thirty):
    page = staff_client.get("/experiments/?q=quality&status=draft").content.decode()
    assert "Page 1 of 1" not in page  # 17 drafts about quality fit one page: no pagination
    many = staff_client.get("/experiments/?route=support-bot").content.decode()
    links = re.findall(r'href="\?([^"]+)" rel="next"', many)
    assert links == ["route=support-bot&amp;page=2"]
    second = staff_client.get("/experiments/?route=support-bot&page=2")
    assert len(_names(second)) == 5 and second.context["filters"]["route"] == "support-bot"


def test_the_filter_controls_are_a_get_form_keeping_the_chosen_values(staff_client, thirty):
    page = staff_client.get("/experiments/?q=cost&status=running").content.decode()
    assert '<form method="get" id="experiment-filters"' in page
    assert 'name="q" id="filter-q" value="cost"' in page
    assert '<option value="running" selected>' in page


# -- links ---------------------------------------------------------------------------------------------------


def test_a_stopped_experiment_links_its_report_and_shows_breadcrumbs(staff_client, live_route, treatment):
    stopped = experiment_stop(
        experiment=experiment_start(experiment=_experiment(live_route, treatment, name="premium-test"))
    )
    page = staff_client.get(f"/experiments/{stopped.id}/").content.decode()
    assert f'href="/dashboard/experiments/{stopped.id}/"' in page
    assert '<nav class="breadcrumbs"><a href="/experiments/">Experiments</a> › premium-test</nav>' in page


def test_a_draft_page_offers_edit_and_discard_and_a_running_one_does_not(staff_client, live_route, treatment):
    draft = _experiment(live_route, treatment, name="premium-test")
    page = staff_client.get(f"/experiments/{draft.id}/").content.decode()
    assert f"/experiments/{draft.id}/edit" in page and f"/experiments/{draft.id}/discard" in page
    experiment_start(experiment=draft)
    page = staff_client.get(f"/experiments/{draft.id}/").content.decode()
    assert f"/experiments/{draft.id}/edit" not in page and f"/experiments/{draft.id}/discard" not in page


def test_the_pages_are_staff_only(client, django_user_model, live_route, treatment):
    draft = _experiment(live_route, treatment, name="premium-test")
    client.force_login(django_user_model.objects.create_user("visitor", password="pw-for-tests-only"))
    for url in ("/experiments/", f"/experiments/{draft.id}/edit"):
        assert client.get(url).status_code == 302
    client.post(f"/experiments/{draft.id}/discard")
    assert Experiment.objects.filter(pk=draft.pk).exists()


def test_a_running_experiment_still_holds_its_slot_against_a_new_one(
    staff_client, live_route, treatment, form
):
    running = _experiment(
        live_route, treatment, name="first", namespace="checkout", namespace_range=(0.0, 0.5)
    )
    experiment_start(experiment=running)
    fields = {**form, "namespace": "checkout", "namespace_start": 0.4, "namespace_end": 1.0, "create": "1"}
    response = staff_client.post("/experiments/new", fields)
    assert response.status_code == 400
    assert "overlaps experiment 'first' (running) at [0, 0.5)" in _field_errors(response, "namespace")
    assert not Experiment.objects.filter(name="premium-test").exists()
