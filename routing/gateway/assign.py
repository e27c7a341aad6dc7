"""Steps 2 and 3 of a live request: the running experiment whose targeting matches, and the user's variant.

Routing knows experiments only through `routing.hooks.LiveExperiment`, which the experiments app
registers at start-up; its `assign` hashes the user into a variant (or none).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from routing.gateway.snapshot import PolicyEntry, RouteEntry, RoutingSnapshot

if TYPE_CHECKING:  # decide builds on this step, not the other way round
    from routing.gateway.decide import Routed


def user_hash(user: str | None) -> str:
    return hashlib.sha256(user.encode()).hexdigest() if user else ""


@dataclass(frozen=True)
class Exposure:
    """The experiment, variant and phase a request was assigned to."""

    experiment_id: int
    experiment: str
    variant: str
    phase: int


def choose_policy(
    snapshot: RoutingSnapshot, route: RouteEntry, user_id: str | None, metadata: dict[str, str]
) -> tuple[PolicyEntry, Exposure | None]:
    """Step 3: the policy of the user's variant in a running experiment, else the route's live policy."""
    if not user_id:
        return route.live, None
    for experiment in snapshot.experiments.get(route.id, ()):
        variant = experiment.variant_for(user_id, metadata)
        if variant is not None:
            exposure = Exposure(experiment.id, experiment.name, variant.key, experiment.phase)
            return snapshot.policies[variant.policy_version_id], exposure
    return route.live, None


def exposure_fields(routed: Routed) -> dict:
    """The experiment, variant and phase of a routed request, as response bodies show them."""
    exposure = routed.exposure
    if exposure is None:
        return {"experiment": None, "variant": None, "phase": None}
    return {"experiment": exposure.experiment, "variant": exposure.variant, "phase": exposure.phase}
