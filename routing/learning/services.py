"""Writes of trained routers: each training saves the next immutable version under the router's name."""

from __future__ import annotations

import io

import numpy as np
from django.db import transaction
from django.db.models import Max

from routing.audit import audit_record
from routing.learning.families import Predictor
from routing.models import TrainedRouter
from routing.policies.embeddings import EMBEDDING_MODEL


def predictor_bytes(predictor: Predictor) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **predictor.arrays())
    return buffer.getvalue()


@transaction.atomic
def trained_router_save(
    *,
    name: str,
    predictor: Predictor,
    source: dict,
    split: dict,
    metrics: dict,
    heldout_hashes: list[str],
    user=None,
) -> TrainedRouter:
    """The next version of router `name`, holding the fitted predictor and its training summary."""
    TrainedRouter.objects.select_for_update().filter(name=name).exists()  # serialises versions of one name
    number = (TrainedRouter.objects.filter(name=name).aggregate(top=Max("version"))["top"] or 0) + 1
    router = TrainedRouter.objects.create(
        name=name,
        version=number,
        family=predictor.family,
        hyperparameters=predictor.hyperparameters,
        model_names=list(predictor.models),
        embedding_model=EMBEDDING_MODEL,
        source=source,
        split=split,
        metrics=metrics,
        heldout_hashes=heldout_hashes,
        state=predictor_bytes(predictor),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    audit_record(
        actor=user,
        action="router.train",
        target=router,
        changes={"family": router.family, "models": router.model_names, "source": source},
        note=f"trained {router.label}",
    )
    return router
