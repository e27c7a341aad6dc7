"""Building the call record of a live request (step 6 of DESIGN.md) from what the gateway knows."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from routing.executor import Execution, ExecutionFailed
from routing.gateway import Routed
from routing.live import record_spend
from routing.recorder import CallRecord, call_record_aenqueue


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

    def _base(self) -> dict:
        fields = {
            "id": self.id,
            "source": self.source,
            "started_at": self.started_at,
            "completed_at": now_iso(),
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

    async def finish_ok(self, execution: Execution) -> CallRecord:
        result = execution.result
        record = CallRecord(
            **self._base(),
            status="ok",
            model_id=execution.model.id,
            model_key=execution.model.key,
            attempts=list(execution.attempts),
            fallbacks_used=execution.fallbacks_used,
            escalations=execution.escalations,
            input_tokens=execution.total_input_tokens,
            output_tokens=execution.total_output_tokens,
            cost=str(execution.total_cost),
            latency_ms=result.latency_ms if not execution.escalations else _elapsed_ms(self.started_at),
            ttft_ms=result.ttft_ms,
            prompt=_clip(self.prompt),
            answer=_clip(result.text),
            provider_quality=result.quality,
        )
        self.finished = True
        await record_spend(record.route_id, float(execution.total_cost))
        await call_record_aenqueue(record)
        return record

    async def finish_failed(self, error: ExecutionFailed | Exception, kind: str, message: str) -> CallRecord:
        self.finished = True
        attempts = list(getattr(error, "attempts", []))
        record = CallRecord(
            **self._base(),
            status="error",
            prompt=_clip(self.prompt),
            error_kind=kind,
            error_message=message[:1000],
            attempts=attempts,
            fallbacks_used=max(len([a for a in attempts if a.get("status") != "ok"]) - 1, 0),
            latency_ms=_elapsed_ms(self.started_at),
        )
        await call_record_aenqueue(record)
        return record

    async def finish_disconnected(self) -> None:
        """The client hung up before its answer was complete. The call is still recorded, once, since the
        provider may already have been paid, as "cancelled": not an error of the policy, so it stays out
        of the error rate. Shielded, since it runs inside a task being cancelled."""
        if self.finished:
            return
        self.finished = True
        record = CallRecord(
            **self._base(),
            status="cancelled",
            prompt=_clip(self.prompt),
            error_kind="client_disconnected",
            error_message="the client closed the connection before the answer was complete",
            latency_ms=_elapsed_ms(self.started_at),
        )
        await asyncio.shield(call_record_aenqueue(record))

    async def finish_decided(self) -> CallRecord:
        record = CallRecord(**self._base(), status="decided", latency_ms=_elapsed_ms(self.started_at))
        await call_record_aenqueue(record)
        return record


def _clip(text: str) -> str:
    return text[: settings.CALL_TEXT_MAX_CHARS] if text else ""


def _elapsed_ms(started_at: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(started_at)).total_seconds() * 1000
