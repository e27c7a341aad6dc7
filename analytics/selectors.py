"""Reads of the analytics app: a call's scores, and the mean of each scorer over recent calls."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Avg, Count

from analytics.models import Score


def call_scores(*, call) -> list[Score]:
    """Every score of a call, by scorer name."""
    return list(Score.objects.filter(call=call).order_by("scorer", "version"))


def call_feedback(*, call) -> Score | None:
    """The user's feedback on a call, if any was sent."""
    return Score.objects.filter(call=call, source=Score.Source.FEEDBACK).first()


def score_summary(*, route=None, since: datetime | None = None) -> list[dict]:
    """Per scorer (and version), how many calls it scored and their mean value; failures and skips aside."""
    scores = Score.objects.filter(status=Score.Status.SCORED)
    if route is not None:
        scores = scores.filter(call__route=route)
    if since is not None:
        scores = scores.filter(call__started_at__gte=since)
    rows = scores.values("scorer", "version").annotate(n=Count("id"), mean=Avg("value"))
    return list(rows.order_by("scorer", "version"))
