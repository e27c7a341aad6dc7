from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture(scope="session")
def simulator():
    """The provider simulator, a real HTTP server on a free port, without artificial delays."""
    from routing.simulator.server import run_in_thread

    with run_in_thread(seed=7, time_scale=0.0) as running:
        yield running


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-for-tests-only", is_staff=True)


@pytest.fixture
def staff_api(staff_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def celery_worker_thread():
    """A real Celery worker, in a thread of this process, consuming from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING") as w:
        yield w
