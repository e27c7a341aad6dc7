"""Reads of trained routers: by reference (`name` for the latest version, `name@vN` for one), and the
fitted predictor of a version, loaded once per process (a version never changes)."""

from __future__ import annotations

import io
import re
from functools import lru_cache

import numpy as np
from django.db.models import QuerySet

from routing.learning.families import Predictor, predictor_from_state
from routing.models import TrainedRouter

ROUTER_REF = re.compile(r"^(?P<name>[-a-zA-Z0-9_]+)(?:@v(?P<version>[0-9]+))?$")


class UnknownRouter(LookupError):
    """No trained router answers to the reference; the message says what was asked."""


def trained_router_list() -> QuerySet[TrainedRouter]:
    return TrainedRouter.objects.defer("state", "heldout_hashes").select_related("created_by")


def trained_router_get(*, ref: str) -> TrainedRouter:
    """The version `ref` names; raises UnknownRouter, naming the reference, when there is none."""
    match = ROUTER_REF.match(ref.strip()) if isinstance(ref, str) else None
    if match is None:
        raise UnknownRouter(f"{ref!r} is not a router reference; write NAME or NAME@vN")
    routers = TrainedRouter.objects.filter(name=match["name"])
    if match["version"]:
        routers = routers.filter(version=int(match["version"]))
    router = routers.order_by("-version").first()
    if router is None:
        raise UnknownRouter(f"no trained router {ref!r}; train one with manage.py train_router")
    return router


def predictor_of(router: TrainedRouter) -> Predictor:
    return _predictor(router.id)


@lru_cache(maxsize=32)
def _predictor(router_id: int) -> Predictor:
    router = TrainedRouter.objects.only("family", "model_names", "hyperparameters", "state").get(id=router_id)
    with np.load(io.BytesIO(bytes(router.state)), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    state = {"family": router.family, "models": router.model_names, "hyperparameters": router.hyperparameters}
    return predictor_from_state(state, arrays)
