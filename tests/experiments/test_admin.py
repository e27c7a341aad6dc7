"""The experiments admin writes through the services: each change it allows is validated and audited."""

import pytest

from experiments.models import Dataset, DatasetItem, prompt_hash
from experiments.services import experiment_start
from routing.models import AuditEntry
from tests.experiments.test_experiments import make_experiment  # noqa: F401 - the fixture, reused

pytestmark = pytest.mark.django_db


def _post_data(response, **changes) -> dict:
    """What a browser posts back for a change page as it was served, with `changes` made."""
    data = {name: value for name, value in response.context["adminform"].form.initial.items()}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for form in formset.forms:
            data |= {
                form.add_prefix(n): getattr(v, "pk", v) for n, v in form.initial.items() if v is not None
            }
    return {name: value for name, value in {**data, **changes}.items() if value is not None}


def _change(admin_client, url: str, **changes):
    response = admin_client.post(url, _post_data(admin_client.get(url), **changes))
    assert response.status_code == 302, response.content.decode()[:3000]


def _audited(action: str) -> AuditEntry:
    return AuditEntry.objects.get(action=action)


def test_a_running_experiments_hypothesis_edited_in_the_admin_is_audited(make_experiment, admin_client):  # noqa: F811
    experiment = experiment_start(experiment=make_experiment(hypothesis="Cheaper."))
    _change(
        admin_client, f"/admin/experiments/experiment/{experiment.id}/change/", hypothesis="Cheaper, same."
    )
    experiment.refresh_from_db()
    assert experiment.hypothesis == "Cheaper, same." and experiment.status == "running"
    entry = _audited("experiment.hypothesis")
    assert entry.changes == {"hypothesis": ["Cheaper.", "Cheaper, same."]}
    assert entry.actor.username == "admin"
    assert experiment.variants.count() == 2 and experiment.phases.count() == 1  # inlines untouched


def test_excluding_a_dataset_item_in_the_admin_goes_through_the_service(admin_client):
    dataset = Dataset.objects.create(name="admin-questions", item_count=1, description="old")
    item = DatasetItem.objects.create(
        dataset=dataset, position=0, prompt="Hi?", prompt_hash=prompt_hash("Hi?")
    )

    _change(admin_client, f"/admin/experiments/datasetitem/{item.id}/change/", excluded="on")
    _change(admin_client, f"/admin/experiments/dataset/{dataset.id}/change/", description="new")

    item.refresh_from_db()
    dataset.refresh_from_db()
    assert item.excluded is True and item.prompt == "Hi?"
    assert dataset.description == "new" and dataset.name == "admin-questions"
    assert _audited("dataset_item.exclude").changes == {"excluded": [False, True]}
    assert _audited("dataset.describe").changes == {"description": ["old", "new"]}
    assert (
        admin_client.post(f"/admin/experiments/dataset/{dataset.id}/delete/", {"post": "yes"}).status_code
        == 403
    )
