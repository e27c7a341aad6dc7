"""Training a router from the web page in a real browser: the form, the progress card a real Celery
worker moves, and the saved version with its held-out figures."""

import pytest
from django.contrib.auth.models import Permission, User

from routing.models import TrainedRouter
from tests.experiments import test_learned_routers as learned

topics = learned.topics  # the two-model dataset fixture, reused here

pytestmark = [pytest.mark.integration]


@pytest.mark.django_db(transaction=True)
def test_a_router_trained_from_the_page_shows_its_progress_then_its_saved_version(
    topics, staff_page, asgi_server, celery_worker_thread
):
    page = staff_page
    page.goto(f"{asgi_server}/routers/")
    assert "Training needs the permission" in page.inner_text("body")
    User.objects.get(username="editor").user_permissions.add(
        Permission.objects.get(codename="add_routertraining")
    )

    page.goto(f"{asgi_server}/routers/")
    page.fill("#id_name", "topics-web")
    page.select_option("#id_family", "knn")
    page.select_option("#id_dataset", "topics")
    page.fill("#id_k", "0")  # out of range: the browser refuses to send it, nothing is queued
    page.click("#train-form button[type=submit]")
    assert page.eval_on_selector("#id_k", "field => field.validity.rangeUnderflow")
    assert page.url == f"{asgi_server}/routers/" and not TrainedRouter.objects.exists()

    page.fill("#id_k", "5")
    page.fill("#id_weak", learned.WEAK)
    page.fill("#id_strong", learned.STRONG)
    page.click("#train-form button[type=submit]")
    page.wait_for_url(f"{asgi_server}/routers/trainings/**")
    assert page.is_visible("#progress-card") or page.inner_text("#status") == "succeeded"
    page.wait_for_selector("#router-link", timeout=60_000)  # the card polls, then the page reloads

    assert page.inner_text("#status") == "succeeded"
    assert page.inner_text("#router-link") == "topics-web@v1"
    page.click("#router-link")
    body = page.inner_text("body")
    assert "knn" in body and "topics" in body
    router = TrainedRouter.objects.get()
    assert (router.label, router.hyperparameters) == ("topics-web@v1", {"k": 5})
    assert router.metrics["pair"]["apgr"] is not None
