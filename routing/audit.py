"""The audit log's one write: every service that changes routes, policies, keys or experiments calls it."""

from __future__ import annotations

from typing import Any

from routing.models import AuditEntry


def audit_record(
    *, actor, action: str, target, changes: dict[str, Any] | None = None, note: str = ""
) -> AuditEntry:
    """Record `action` on `target` (any model row) by `actor` (a user, or None for the system)."""
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:300],
        changes=changes or {},
        note=note,
    )
