"""The promotion gate in a real browser: a variant failing its error-rate guardrail (0 errors in the
control, dozens in the treatment) is not promoted without an override reason; with one it is, and the
verdict of that moment shows on the experiment page and in its audit log."""

import pytest

from analytics.rollups import rollups_refresh
from experiments.models import Experiment, Promotion
from routing.models import Call
from tests.analytics.conftest import make_calls, running_experiment  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration]
SAME = {"control": 0.8, "treatment": 0.8}


@pytest.mark.django_db(transaction=True)
def test_a_guardrail_failing_variant_needs_an_override_reason_kept_with_the_verdict(
    asgi_server,
    staff_page,
    running_experiment,  # noqa: F811
):
    experiment = running_experiment
    make_calls(
        experiment, users=400, calls_per_user=5, costs={"control": 0.01, "treatment": 0.002}, quality=SAME
    )
    Call.objects.filter(variant="control", status="error").update(status="ok")
    failing = Call.objects.filter(variant="treatment", status="ok").values_list("id", flat=True)[:60]
    Call.objects.filter(id__in=list(failing)).update(status="error")
    rollups_refresh()

    page = staff_page
    page.goto(f"{asgi_server}/experiments/{experiment.id}/")
    page.select_option("#promote-variant", "treatment")
    page.fill("#promote-reason", "It is five times cheaper.")
    page.click("#promote")
    page.wait_for_load_state()
    refused = page.inner_text("body")
    assert "The verdict for treatment is 'no-ship'" in refused and "guardrail failed: error rate" in refused
    assert Experiment.objects.get(id=experiment.id).status == "running" and not Promotion.objects.exists()

    page.select_option("#promote-variant", "treatment")
    page.fill("#promote-reason", "It is five times cheaper.")
    page.fill("#promote-override", "The errors are a provider outage since fixed; accepted by the on-call.")
    page.click("#promote")
    page.wait_for_selector(".verdict")
    assert page.inner_text("#status") == "concluded"
    verdict = page.inner_text(".verdict")
    assert "no-ship" in verdict and "guardrail failed: error rate" in verdict
    assert "Override: The errors are a provider outage since fixed" in verdict
    audit = page.inner_text("#audit")
    assert "experiment.promote" in audit and "verdict: no-ship: guardrail failed: error rate" in audit
    promotion = Promotion.objects.get()
    assert promotion.verdict["state"] == "no-ship" and promotion.override_reason.startswith("The errors")
    assert promotion.report["decisions"][0]["state"] == "no-ship"
