"""Weekly report revisions: run now adds one, the beat job never does; and their staff pages."""

import threading

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection

from analytics.models import WeeklyReport
from analytics.reporting import weekly_report_run_now, weekly_reports_run
from tests.analytics.conftest import COSTS, QUALITY, make_calls

pytestmark = pytest.mark.django_db


@pytest.fixture
def runner(staff_user):
    staff_user.user_permissions.add(Permission.objects.get(codename="add_weeklyreport"))
    return staff_user


def _calls(weekly) -> int:
    return sum(variant["calls"] for variant in weekly.report["variants"])


def test_running_now_twice_in_a_week_adds_a_revision_with_the_new_calls(with_traffic, staff_user):
    first = weekly_report_run_now(experiment=with_traffic, user=staff_user)
    make_calls(with_traffic, users=50, calls_per_user=2, costs=COSTS, quality=QUALITY, seed=2)
    second = weekly_report_run_now(experiment=with_traffic, user=staff_user)
    assert (first.revision, second.revision) == (1, 2)
    assert first.week_start == second.week_start
    assert (_calls(first), _calls(second)) == (600, 700)


def test_the_weeks_email_goes_out_once_however_many_revisions(with_traffic, staff_user):
    first = weekly_report_run_now(experiment=with_traffic, user=staff_user)
    second = weekly_report_run_now(experiment=with_traffic, user=staff_user)
    assert first.emailed_at is not None and second.emailed_at is None
    assert len(mail.outbox) == 1


def test_the_beat_job_adds_no_revision_and_mails_once(with_traffic, staff_user):
    weekly_reports_run()
    weekly_report_run_now(experiment=with_traffic, user=staff_user)
    (latest,) = weekly_reports_run()
    assert latest.revision == 2
    assert sorted(WeeklyReport.objects.values_list("revision", flat=True)) == [1, 2]
    assert len(mail.outbox) == 1


def test_the_list_and_the_report_page_show_the_stored_report(with_traffic, client, staff_user):
    weekly = weekly_report_run_now(experiment=with_traffic, user=staff_user)
    client.force_login(staff_user)
    listed = client.get(f"/dashboard/experiments/{with_traffic.id}/weekly/")
    assert listed.status_code == 200
    page = listed.content.decode()
    assert f'href="/dashboard/weekly/{weekly.id}/"' in page and "team@example.com" in page
    assert (
        f'<a href="/dashboard/experiments/{with_traffic.id}/">complexity-vs-premium</a> › Weekly reports'
        in page
    )
    assert 'id="weekly-run"' not in page
    detail = client.get(f"/dashboard/weekly/{weekly.id}/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert 'id="metric-table"' in page and 'id="metric-cost-treatment"' in page
    assert "cost per call" in page and "treatment cuts cost per call by" in page
    assert 'Plotly.newPlot("chart-cumulative"' in page
    experiment_page = client.get(f"/dashboard/experiments/{with_traffic.id}/").content.decode()
    assert f'href="/dashboard/experiments/{with_traffic.id}/weekly/"' in experiment_page


def test_run_now_on_the_page_builds_a_revision_and_shows_it(with_traffic, client, runner):
    client.force_login(runner)
    assert (
        'id="weekly-run"' in client.get(f"/dashboard/experiments/{with_traffic.id}/weekly/").content.decode()
    )
    response = client.post(f"/dashboard/experiments/{with_traffic.id}/weekly/run/")
    weekly = WeeklyReport.objects.get()
    assert response.status_code == 302 and response.url == f"/dashboard/weekly/{weekly.id}/"
    page = client.get(response.url).content.decode()
    assert "Revision 1 of the week of" in page and "mailed to team@example.com" in page
    client.post(f"/dashboard/experiments/{with_traffic.id}/weekly/run/")
    assert WeeklyReport.objects.latest("revision").revision == 2


def test_run_now_needs_the_permission(with_traffic, client, staff_user):
    client.force_login(staff_user)
    response = client.post(f"/dashboard/experiments/{with_traffic.id}/weekly/run/")
    assert response.status_code == 403
    assert not WeeklyReport.objects.exists()


def test_unknown_reports_and_experiments_are_404(running_experiment, client, runner):
    client.force_login(runner)
    assert client.get("/dashboard/weekly/999999/").status_code == 404
    assert client.get("/dashboard/experiments/999999/weekly/").status_code == 404
    assert client.post("/dashboard/experiments/999999/weekly/run/").status_code == 404
    assert client.get(f"/dashboard/experiments/{running_experiment.id}/weekly/run/").status_code == 405


def test_the_weekly_pages_are_staff_only(running_experiment, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("someone", password="pw-for-tests-only"))
    for url in (f"/dashboard/experiments/{running_experiment.id}/weekly/", "/dashboard/weekly/1/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/admin/login/")


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_get_their_own_revisions_and_one_email(running_experiment, staff_user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REPORT_RECIPIENTS = ["team@example.com"]
    barrier = threading.Barrier(4)

    def run():
        barrier.wait()
        try:
            weekly_report_run_now(experiment=running_experiment, user=staff_user)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(WeeklyReport.objects.values_list("revision", flat=True)) == [1, 2, 3, 4]
    assert WeeklyReport.objects.filter(emailed_at__isnull=False).count() == 1
    assert len(mail.outbox) == 1
