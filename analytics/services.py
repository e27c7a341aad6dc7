"""Writes of the analytics app: quality scores of calls, by scorers in workers and by users' feedback."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from analytics.judge_cache import judge_cache
from analytics.models import PendingFeedback, Score
from analytics.scorers import SCORERS, ScoreInput, Scorer, scorer_build
from analytics.scorers import Score as Verdict
from analytics.scorers.feedback import UserFeedback
from analytics.scoring_config import JUDGE, JudgeSettings, ScoringConfigError, scoring_settings
from routing.models import Call, Model
from routing.providers.base import ChatRequest
from routing.services import model_complete

logger = logging.getLogger(__name__)
DETAIL_CHARS = Score._meta.get_field("detail").max_length
VERSION_CHARS = Score._meta.get_field("version").max_length
JUDGE_MAX_TOKENS = 400
FEEDBACK_KINDS = {"thumbs": "thumbs", "rating": "stars"}


def call_score(*, call_id) -> list[Score]:
    """Score one call as its route's scoring settings say; returns the Score rows this run wrote.

    Only calls that ended "ok" are scored. Running it again (a redelivered task) writes nothing twice:
    a (scorer, version) the call already has is skipped, and rows are written with get_or_create.
    A scorer that raises is recorded as a failed Score; the others still run.
    """
    call = Call.objects.select_related("route").filter(id=call_id, status=Call.Status.OK).first()
    if call is None:
        return []
    done = set(call.scores.values_list("scorer", "version"))
    pending = [s for s in _scorers_for(call) if (s.name, stored_version(s.version)) not in done]
    if not pending:
        return []
    input = score_input(call)
    rows = [_store(call, _verdict(scorer, input)) for scorer in pending]
    return [row for row in rows if row is not None]


def stored_version(version: str) -> str:
    """A scorer's version as Score rows keep it: whole when it fits the column, else cut with a hash.

    The judge's version carries its rubric's ("1+helpful-correct-1"), which can outgrow the column.
    """
    if len(version) <= VERSION_CHARS:
        return version
    return f"{version[: VERSION_CHARS - 9]}~{hashlib.sha256(version.encode()).hexdigest()[:8]}"


def score_input(call: Call) -> ScoreInput:
    metadata = call.metadata if isinstance(call.metadata, dict) else {}
    return ScoreInput(
        prompt=call.prompt,
        answer=call.answer,
        reference=metadata.get("reference"),
        metadata={"provider_quality": call.provider_quality},
    )


def _scorers_for(call: Call) -> list[Scorer]:
    try:
        settings = scoring_settings(call.route.scoring if call.route else None)
    except ScoringConfigError as exc:
        logger.error("call %s: route %s has bad scoring settings: %s", call.id, call.route, exc)
        return []
    scorers = [_build(name, settings.options.get(name, {})) for name in settings.scorers]
    if settings.judge is not None and settings.judge.samples(call.id.hex):
        scorers.append(_judge(settings.judge))
    return scorers


def _build(name: str, options: dict[str, Any]) -> Scorer:
    try:
        return scorer_build(name, **options)
    except ValueError as exc:  # settings stored before they were validated, or a scorer changed since
        return Misconfigured(name, SCORERS[name].version, str(exc))


def _judge(settings: JudgeSettings) -> Scorer:
    provider, _, model_id = settings.model.partition("/")
    model = (
        Model.objects.select_related("provider")
        .filter(provider__name=provider, model_id=model_id, enabled=True)
        .first()
    )
    options = {"judge": settings.model, "rubric": settings.rubric, "rubric_version": settings.rubric_version}
    complete = _completer(model) if model is not None else _unavailable(settings.model)
    return _build(JUDGE, {"complete": complete, "cache": judge_cache, **options})


def _completer(model: Model):
    def complete(messages: list[dict[str, str]]) -> str:
        request = ChatRequest(messages=tuple(messages), temperature=0.0, max_tokens=JUDGE_MAX_TOKENS)
        return model_complete(model=model, request=request).text

    return complete


def _unavailable(key: str):
    def complete(messages: list[dict[str, str]]) -> str:
        raise LookupError(f"the judge model {key} is not registered or is disabled")

    return complete


class Misconfigured(Scorer):
    """Stands in for a scorer that cannot be built, so the problem is recorded as a failed Score."""

    def __init__(self, name: str, version: str, problem: str):
        self.name, self.version, self.problem = name, version, problem

    def evaluate(self, input: ScoreInput) -> Verdict:
        return self.failed(f"misconfigured: {self.problem}")


def _verdict(scorer: Scorer, input: ScoreInput) -> Verdict:
    try:
        return scorer.score(input)
    except Exception as exc:
        # One broken scorer must not cost the call its other scores, nor retry the task forever.
        logger.exception("scorer %s raised", scorer.name)
        detail = f"the scorer raised {type(exc).__name__}: {exc}"
        return Verdict(scorer.name, scorer.version, None, None, "failed", detail)


def _store(call: Call, verdict: Verdict) -> Score | None:
    row, created = Score.objects.get_or_create(
        call=call,
        scorer=verdict.scorer,
        version=stored_version(verdict.version),
        defaults={
            "value": verdict.value,
            "raw": verdict.raw,
            "status": verdict.status,
            "detail": verdict.detail[:DETAIL_CHARS],
            "source": Score.Source.ONLINE,
        },
    )
    return row if created else None


def feedback_record(*, call: Call, kind: str, value: Any, comment: str = "") -> Score:
    """Record a user's feedback on a call ("thumbs": "up"/"down", or a "rating" of 1-5); the latest wins.

    ValueError (with a message fit for a 400) when the kind or value is not valid feedback.
    """
    verdict = _feedback_verdict(kind, value)
    row, _ = Score.objects.update_or_create(
        call=call,
        scorer=verdict.scorer,
        version=verdict.version,
        defaults={
            "value": verdict.value,
            "raw": {"kind": kind, "value": value, "comment": comment},
            "status": verdict.status,
            "detail": f"{kind}: {value}"[:DETAIL_CHARS],
            "source": Score.Source.FEEDBACK,
        },
    )
    return row


PENDING_FEEDBACK_DAYS = 1


def _feedback_verdict(kind: str, value: Any) -> Verdict:
    """The score a piece of feedback stands for; ValueError (fit for a 400) when it is not valid."""
    if kind not in FEEDBACK_KINDS:
        raise ValueError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, not {kind!r}")
    return UserFeedback().convert(FEEDBACK_KINDS[kind], value)


def feedback_hold(*, call_id, route_ids: list[int], kind: str, value: Any, comment: str = "") -> None:
    """Keep feedback on a call not stored yet, to apply when it is. ValueError for invalid feedback."""
    _feedback_verdict(kind, value)  # refuse now what could never be applied
    PendingFeedback.objects.create(
        call_id=call_id, route_ids=route_ids, kind=kind, value=value, comment=comment
    )
    # the call may have been stored between the caller's look and the row above: then no flush will
    # see this row, so apply it now (a flush that does see it finds it claimed)
    feedback_apply_pending(call_ids=[call_id])


def feedback_apply_pending(*, call_ids: list) -> int:
    """Apply the held feedback of these calls, oldest first, to those stored; returns how many."""
    applied = 0
    held = PendingFeedback.objects.filter(call_id__in=call_ids)
    calls = {call.id: call for call in Call.objects.filter(id__in={row.call_id for row in held})}
    for row in held:
        call = calls.get(row.call_id)
        with transaction.atomic():  # claimed and applied together, or neither
            if call is not None and _claimed(row):
                applied += _apply_held(call, row)
    return applied


def _claimed(row: PendingFeedback) -> bool:
    return PendingFeedback.objects.filter(id=row.id).delete()[0] == 1


def _apply_held(call: Call, row: PendingFeedback) -> int:
    """Held feedback counts only for a call of the key's routes, and never overrides newer feedback."""
    newer = Score.objects.filter(
        call=call, source=Score.Source.FEEDBACK, updated_at__gt=row.created_at
    ).exists()
    if call.route_id not in row.route_ids or newer:
        return 0
    feedback_record(call=call, kind=row.kind, value=row.value, comment=row.comment)
    return 1


def feedback_pending_purge(*, now=None) -> int:
    """Drop held feedback whose call never arrived (a made-up id, or a call that failed to record)."""
    cutoff = (now or timezone.now()) - timedelta(days=PENDING_FEEDBACK_DAYS)
    return PendingFeedback.objects.filter(created_at__lt=cutoff).delete()[0]


def call_scores_expire(start: datetime, end: datetime) -> bool:
    """Before routing drops the calls started in [start, end) (retention): delete their scores, once the
    roll-ups have folded every one; False, keeping the calls for now, while some wait."""
    scores = Score.objects.filter(call__started_at__gte=start, call__started_at__lt=end)
    if scores.filter(rolled_up=False).exists():
        return False
    scores.delete()
    return True
