"""Writes of the experiments app: datasets, the experiment lifecycle, promotions. Import from here."""

from experiments.services.datasets import (
    DatasetFileError,
    dataset_describe,
    dataset_import,
    dataset_import_routellm,
    dataset_item_exclude,
)
from experiments.services.experiments import (
    ExperimentConflict,
    experiment_create,
    experiment_discard,
    experiment_hypothesis_set,
    experiment_pause,
    experiment_ramp,
    experiment_resume,
    experiment_set_weights,
    experiment_start,
    experiment_stop,
    experiment_update,
)
from experiments.services.promotions import experiment_promote, promotion_rollback

__all__ = [
    "DatasetFileError",
    "ExperimentConflict",
    "dataset_describe",
    "dataset_import",
    "dataset_import_routellm",
    "dataset_item_exclude",
    "experiment_create",
    "experiment_discard",
    "experiment_hypothesis_set",
    "experiment_pause",
    "experiment_promote",
    "experiment_ramp",
    "experiment_resume",
    "experiment_set_weights",
    "experiment_start",
    "experiment_stop",
    "experiment_update",
    "promotion_rollback",
]
