"""Quality predictors over prompt embeddings, one per family. Pure: numpy and scikit-learn, no Django.

Training data is a matrix X (n prompts x d, unit-length embeddings) and a matrix Y (n x m) of each model's
quality in [0, 1], NaN where the model's quality for that prompt is unknown (a route's own calls tell only
the quality of the model that served each prompt). Every family learns each model from the rows that hold
its quality and predicts a quality in [0, 1] for every model:

- `knn`: the similarity-weighted mean quality of the k nearest prompts (cosine) that hold the model's
  quality;
- `linear`: per model a logistic regression on the embedding when its qualities are 0/1, a ridge
  regression clipped to [0, 1] otherwise;
- `mf`: RouteLLM-style matrix factorisation: q(m, x) = sigmoid(v_m . (W x) + b_m), a learned projection W
  of the prompt embedding and one learned embedding v_m per model, fitted by Adam on the observed entries.

A fitted predictor's state is a dict of numpy arrays and JSON scalars (`state()`), stored with numpy's
own format and loaded without pickle (`from_state`), so a stored artifact can never run code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

FAMILIES = ("knn", "linear", "mf")
DEFAULTS: dict[str, dict[str, Any]] = {
    "knn": {"k": 100},
    "linear": {"c": 1.0},
    "mf": {"dim": 64, "epochs": 300, "learning_rate": 0.01, "l2": 1e-4, "seed": 0},
}
LIMITS: dict[str, dict[str, tuple[type, float, float]]] = {
    "knn": {"k": (int, 1, 1000)},
    "linear": {"c": (float, 1e-6, 1e6)},
    "mf": {
        "dim": (int, 2, 512),
        "epochs": (int, 1, 5000),
        "learning_rate": (float, 1e-6, 1.0),
        "l2": (float, 0.0, 1.0),
        "seed": (int, 0, 2**31 - 1),
    },
}


class PredictorError(ValueError):
    """The data or the hyperparameters cannot make a predictor; the message says which."""


def hyperparameters_check(family: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The family's defaults overridden by `given`, each value checked against its type and bounds."""
    if family not in FAMILIES:
        raise PredictorError(f"unknown family {family!r}; choose one of: {', '.join(FAMILIES)}")
    given = dict(given or {})
    unknown = sorted(set(given) - set(DEFAULTS[family]))
    if unknown:
        raise PredictorError(
            f"{family} takes the hyperparameters {', '.join(DEFAULTS[family])}; not {', '.join(unknown)}"
        )
    values = {**DEFAULTS[family], **given}
    for name, (kind, low, high) in LIMITS[family].items():
        value = values[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and value != int(value))
        ):
            raise PredictorError(
                f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}"
            )
        if not low <= value <= high:
            raise PredictorError(f"{name} must be within [{low:g}, {high:g}]; got {value}")
        values[name] = kind(value)
    return values


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


def _observed(y: np.ndarray, column: int) -> np.ndarray:
    return ~np.isnan(y[:, column])


@dataclass
class Predictor:
    """A fitted predictor: `predict(X)` is an (n x m) matrix of predicted qualities, columns in `models`."""

    family: ClassVar[str] = ""
    models: tuple[str, ...]
    hyperparameters: dict[str, Any]

    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_one(self, vector: Sequence[float]) -> dict[str, float]:
        row = self.predict(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        return {model: float(value) for model, value in zip(self.models, row, strict=True)}

    def arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {"family": self.family, "models": list(self.models), "hyperparameters": self.hyperparameters}


@dataclass
class KnnPredictor(Predictor):
    family: ClassVar[str] = "knn"
    x: np.ndarray = None  # (n x d) training embeddings, float32
    y: np.ndarray = None  # (n x m) qualities, NaN where unknown

    @classmethod
    def fit(cls, x, y, models, hyperparameters) -> KnnPredictor:
        return cls(tuple(models), hyperparameters, x.astype(np.float32), y.astype(np.float32))

    def predict(self, x: np.ndarray) -> np.ndarray:
        similarity = np.asarray(x, dtype=np.float32) @ self.x.T  # (q x n)
        out = np.empty((similarity.shape[0], len(self.models)), dtype=np.float64)
        observed = ~np.isnan(self.y)
        groups: dict[bytes, list[int]] = {}  # columns observed on the same rows share one neighbour search
        for column in range(len(self.models)):
            groups.setdefault(observed[:, column].tobytes(), []).append(column)
        for columns in groups.values():
            mask = observed[:, columns[0]]
            sims = similarity if mask.all() else similarity[:, mask]
            values = self.y[mask][:, columns]
            k = min(self.hyperparameters["k"], sims.shape[1])
            nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            weights = np.maximum(np.take_along_axis(sims, nearest, axis=1), 1e-6)  # (q x k)
            out[:, columns] = np.einsum("qk,qkc->qc", weights, values[nearest]) / weights.sum(
                axis=1, keepdims=True
            )
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {"x": self.x, "y": self.y}


@dataclass
class LinearPredictor(Predictor):
    family: ClassVar[str] = "linear"
    weights: np.ndarray = None  # (m x d)
    bias: np.ndarray = None  # (m,)
    logistic: np.ndarray = None  # (m,) 1 where the model's column was fitted as a logistic regression

    @classmethod
    def fit(cls, x, y, models, hyperparameters) -> LinearPredictor:
        from sklearn.linear_model import LogisticRegression, Ridge

        weights = np.zeros((y.shape[1], x.shape[1]))
        bias, logistic = np.zeros(y.shape[1]), np.zeros(y.shape[1])
        for column in range(y.shape[1]):
            mask = _observed(y, column)
            target = y[mask, column]
            if np.all((target == 0) | (target == 1)) and len(np.unique(target)) == 2:
                model = LogisticRegression(C=hyperparameters["c"], max_iter=2000).fit(x[mask], target)
                weights[column], bias[column], logistic[column] = model.coef_[0], model.intercept_[0], 1
            else:
                model = Ridge(alpha=1.0 / hyperparameters["c"]).fit(x[mask], target)
                weights[column], bias[column] = model.coef_, model.intercept_
        return cls(tuple(models), hyperparameters, weights, bias, logistic)

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = np.asarray(x, dtype=np.float64) @ self.weights.T + self.bias
        return np.where(self.logistic == 1, _sigmoid(z), np.clip(z, 0.0, 1.0))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "bias": self.bias, "logistic": self.logistic}


@dataclass
class MfPredictor(Predictor):
    family: ClassVar[str] = "mf"
    projection: np.ndarray = None  # (d x k)
    model_vectors: np.ndarray = None  # (m x k)
    bias: np.ndarray = None  # (m,)

    @classmethod
    def fit(cls, x, y, models, hyperparameters) -> MfPredictor:
        h = hyperparameters
        rng = np.random.default_rng(h["seed"])
        n, d = x.shape
        m, k = y.shape[1], h["dim"]
        mask = ~np.isnan(y)
        target = np.nan_to_num(y)
        params = {
            "projection": rng.normal(0, 1 / np.sqrt(d), (d, k)),
            "model_vectors": rng.normal(0, 1 / np.sqrt(k), (m, k)),
            "bias": np.array([np.mean(y[mask[:, j], j]) for j in range(m)]),
        }
        params["bias"] = np.log(
            np.clip(params["bias"], 1e-3, 1 - 1e-3) / (1 - np.clip(params["bias"], 1e-3, 1 - 1e-3))
        )
        moments = {name: (np.zeros_like(value), np.zeros_like(value)) for name, value in params.items()}
        count = mask.sum()
        for step in range(1, h["epochs"] + 1):
            hidden = x @ params["projection"]  # (n x k)
            p = _sigmoid(hidden @ params["model_vectors"].T + params["bias"])  # (n x m)
            error = np.where(mask, p - target, 0.0) / count  # d(cross-entropy)/dz
            grads = {
                "projection": x.T @ (error @ params["model_vectors"]) + h["l2"] * params["projection"],
                "model_vectors": error.T @ hidden + h["l2"] * params["model_vectors"],
                "bias": error.sum(axis=0),
            }
            for name, grad in grads.items():
                first, second = moments[name]
                first[...] = 0.9 * first + 0.1 * grad
                second[...] = 0.999 * second + 0.001 * grad**2
                corrected = (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
                params[name] = params[name] - h["learning_rate"] * corrected
        return cls(
            tuple(models), hyperparameters, params["projection"], params["model_vectors"], params["bias"]
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        hidden = np.asarray(x, dtype=np.float64) @ self.projection
        return _sigmoid(hidden @ self.model_vectors.T + self.bias)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"projection": self.projection, "model_vectors": self.model_vectors, "bias": self.bias}


CLASSES: dict[str, type[Predictor]] = {
    cls.family: cls for cls in (KnnPredictor, LinearPredictor, MfPredictor)
}


def predictor_fit(
    family: str,
    x: np.ndarray,
    y: np.ndarray,
    models: Sequence[str],
    hyperparameters: Mapping[str, Any] | None,
) -> Predictor:
    """Fit a predictor of `family`; each model needs at least one observed quality."""
    values = hyperparameters_check(family, hyperparameters)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or y.shape[1] != len(models):
        raise PredictorError(f"expected X (n x d) and Y (n x {len(models)}), got {x.shape} and {y.shape}")
    for column, model in enumerate(models):
        if not _observed(y, column).any():
            raise PredictorError(f"no quality of {model} to learn from")
    return CLASSES[family].fit(x, y, tuple(models), values)


def predictor_from_state(state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Predictor:
    """The predictor `state()` and `arrays()` described, as stored."""
    cls = CLASSES[state["family"]]
    return cls(
        tuple(state["models"]), dict(state["hyperparameters"]), **{name: arrays[name] for name in arrays}
    )
