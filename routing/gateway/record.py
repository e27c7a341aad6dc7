"""Building the call record of a live request (step 6 of DESIGN.md) from what the gateway knows."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from routing.gateway.after_response import after_response
from routing.gateway.decide import Paid, Routed
from routing.gateway.execute import Execution, ExecutionFailed, Successes
from routing.gateway.live import spend_amounts
from routing.gateway.recorder import CallRecord, call_record_aenqueue


def new_call_id() -> str:
    return uuid.uuid4().hex


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class CallDraft:
    """What is known of a call as it goes; `finish_*` turns it into the one record it yields."""

    id: str
    source: str
    started_at: str
    stream: bool = False
    routed: Routed | None = None
    metadata: dict = field(default_factory=dict)
    prompt: str = ""
    finished: bool = False

    def _base(self, completed_at: str | None = None) -> dict:
        fields = {
            "id": self.id,
            "source": self.source,
            "started_at": self.started_at,
            "completed_at": completed_at or now_iso(),
            "stream": self.stream,
            "metadata": self.metadata,
        }
        if self.routed is not None:
            decision = self.routed.decision
            fields.update(
                route_id=self.routed.route.id,
                policy_version_id=self.routed.policy.version_id,
                api_key_id=self.routed.key.id,
                user_hash=self.routed.user_hash,
                decided_model=decision.model,
                **self._exposure(),
                decision={
                    "model": decision.model,
                    "fallbacks": list(decision.fallbacks),
                    "trace": list(decision.trace),
                    "tier": decision.tier,
                    "kind": decision.policy_kind,
                },
            )
        return fields

    def _exposure(self) -> dict:
        exposure = self.routed.exposure
        if exposure is None:
            return {}
        return {"experiment_id": exposure.experiment_id, "variant": exposure.variant, "phase": exposure.phase}

    async def finish_ok(self, execution: Execution) -> None:
        """The answered call's record, built after the response is sent, with the times as of now."""
        result, completed_at = execution.result, now_iso()
        latency_ms = result.latency_ms if not execution.escalations else _elapsed_ms(self.started_at)

        def build() -> CallRecord:
            return CallRecord(
                **self._base(completed_at),
                status="ok",
                model_id=execution.model.id,
                model_key=execution.model.key,
                attempts=list(execution.attempts),
                fallbacks_used=execution.fallbacks_used,
                escalations=execution.escalations,
                **self.spend(execution),
                latency_ms=latency_ms,
                ttft_ms=result.ttft_ms,
                prompt=_clip(self.prompt),
                answer=_clip(result.text),
                provider_quality=result.quality,
            )

        await self._emit(build)

    async def finish_failed(self, error: ExecutionFailed | Exception, kind: str, message: str) -> CallRecord:
        attempts = list(getattr(error, "attempts", []))
        record = CallRecord(
            **self._base(),
            **self.spend(),
            status="error",
            prompt=_clip(self.prompt),
            error_kind=kind,
            error_message=message[:1000],
            attempts=attempts,
            fallbacks_used=max(len([a for a in attempts if a.get("status") != "ok"]) - 1, 0),
            latency_ms=_elapsed_ms(self.started_at),
        )
        await self._emit(lambda: record)
        return record

    async def finish_disconnected(self) -> None:
        """The client hung up before its answer was complete. The call is still recorded, once, since the
        provider may already have been paid, as "cancelled": not an error of the policy, so it stays out
        of the error rate."""
        if self.finished:
            return
        record = CallRecord(
            **self._base(),
            **self.spend(),
            status="cancelled",
            prompt=_clip(self.prompt),
            error_kind="client_disconnected",
            error_message="the client closed the connection before the answer was complete",
            latency_ms=_elapsed_ms(self.started_at),
        )
        await self._emit(lambda: record)

    async def finish_decided(self) -> CallRecord:
        record = CallRecord(
            **self._base(), **self.spend(), status="decided", latency_ms=_elapsed_ms(self.started_at)
        )
        await self._emit(lambda: record)
        return record

    def spend(self, execution: Execution | None = None) -> dict:
        return call_spend(self.routed.overhead if self.routed is not None else (), execution)

    async def _emit(self, build: Callable[[], CallRecord]) -> None:
        """The one record this draft yields (`build` makes it), with its spend on today's counters and
        the answering models' successes, in one round trip, once the response is sent (see
        `after_response`); a client that hangs up never cancels it."""
        self.finished = True
        await after_response(self._send(build))

    @staticmethod
    async def _send(build: Callable[[], CallRecord]) -> None:
        record = build()
        tokens = record.input_tokens + record.output_tokens
        spent = spend_amounts(record.route_id, record.api_key_id, float(record.cost), tokens)
        await call_record_aenqueue(record, counters=spent, also=Successes.of(record.attempts))


def call_spend(overhead: Iterable[Paid], execution: Execution | None = None) -> dict:
    """A call's tokens and cost: the paid calls that routing made to decide (a classifier's), plus the
    execution's answers and judgements."""
    paid = list(overhead)
    cost = sum((result.cost for result in paid), Decimal(0))
    tokens_in = sum(result.input_tokens for result in paid)
    tokens_out = sum(result.output_tokens for result in paid)
    if execution is not None:
        cost += execution.total_cost
        tokens_in += execution.total_input_tokens
        tokens_out += execution.total_output_tokens
    return {"input_tokens": tokens_in, "output_tokens": tokens_out, "cost": str(cost)}


def _clip(text: str) -> str:
    return text[: settings.CALL_TEXT_MAX_CHARS] if text else ""


def _elapsed_ms(started_at: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(started_at)).total_seconds() * 1000
