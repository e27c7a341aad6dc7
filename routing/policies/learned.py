"""`learned`: a trained router predicts each listed model's quality for the prompt, and the policy chooses.

    {"kind": "learned", "router": "gsm8k-knn@v1", "models": ["p/weak", "p/strong"], "threshold": 0.1}
    {"kind": "learned", "router": "support@v3", "models": ["p/a", "p/b", "p/c"], "min_quality": 0.8}
    {"kind": "learned", "router": "support@v3", "models": ["p/a", "p/b", "p/c"], "cost_weight": 200}

Exactly one of:
- `threshold` (two models, weak first): the strong model serves when its predicted gain,
  q(strong) - q(weak), is at least the threshold (in [-1, 1]); the gain is the decision's score, which an
  offline evaluation sweeps;
- `min_quality` (in [0, 1]): the cheapest model (estimated cost of this request) whose predicted quality
  reaches it, else the highest predicted quality;
- `cost_weight` (per USD): the model maximising q(model) - cost_weight x its estimated cost.

The caller injects the router (`RoutingContext.router`: an object with `models`, the names it predicts,
and `predict_one(vector)`) and the embedder. A model key matches a router model with the same name, else
the one named like the key's part after its provider (`replay/gpt-4` matches `gpt-4`), so a router
trained on a dataset's model names routes to the registry's replay models. With no router, no embedder or
a failing one, the last listed model (the strongest, by the spec's order) serves. The fallbacks are the
other listed models by predicted quality, then `fallbacks`; never a model the spec does not name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from routing.policies.base import Choice, Eligibility, Policy, call_cost
from routing.policies.cost_aware import money
from routing.policies.semantic import MAX_QUERY_CHARS
from routing.policies.spec import Field, optional
from routing.policies.types import RouteRequest, RoutingContext, SpecError

MODES = ("threshold", "min_quality", "cost_weight")


def router_model_for(key: str, router_models: Sequence[str]) -> str | None:
    """The router's model a registry key stands for (see the module's text), or None."""
    if key in router_models:
        return key
    suffix = key.partition("/")[2]
    return suffix if suffix in router_models else None


class LearnedPolicy(Policy):
    kind = "learned"
    required_keys = ("router", "models")
    optional_keys = (*MODES, "fallbacks", "expected_output_tokens")

    def __init__(
        self,
        router: str,
        models: tuple[str, ...],
        mode: str,
        value: float,
        fallbacks: tuple[str, ...] = (),
        expected_output_tokens: int = 300,
        **common: Any,
    ):
        super().__init__(**common)
        self.router, self.models, self.mode, self.value = router, models, mode, value
        self.fallbacks, self.expected_output_tokens = fallbacks, expected_output_tokens

    @property
    def threshold(self) -> float | None:
        return self.value if self.mode == "threshold" else None

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> LearnedPolicy:
        models = fields["models"].models(min_items=2)
        given = [mode for mode in MODES if mode in fields]
        if len(given) != 1:
            raise SpecError("threshold", "give exactly one of threshold, min_quality or cost_weight")
        mode = given[0]
        bounds = {"threshold": (-1.0, 1.0), "min_quality": (0.0, 1.0), "cost_weight": (0.0, 1e9)}
        value = fields[mode].number(*bounds[mode])
        if mode == "threshold" and len(models) != 2:
            raise fields["models"].error(
                f"a threshold chooses between two models (weak, strong), not {len(models)}; "
                "for more, give min_quality or cost_weight"
            )
        return cls(
            fields["router"].text(),
            models,
            mode,
            value,
            fallbacks=optional(fields, "fallbacks", Field.models, ()),
            expected_output_tokens=optional(fields, "expected_output_tokens", lambda f: f.integer(1), 300),
            **common,
        )

    def models_referenced(self) -> set[str]:
        return {*self.models, *self.fallbacks}

    def unmatched_models(self, router_models: Sequence[str]) -> list[str]:
        """The listed models the router does not predict (a policy naming one cannot be published)."""
        return [key for key in self.models if router_model_for(key, router_models) is None]

    def predictions(self, text: str, context: RoutingContext) -> dict[str, float]:
        """Each listed model's predicted quality for the text."""
        router = context.router
        vector = context.embed([text[:MAX_QUERY_CHARS]])[0]
        predicted = router.predict_one(vector)
        return {key: predicted[router_model_for(key, router.models)] for key in self.models}

    def _default(self, trace: list[str], why: str) -> Choice:
        trace.append(f"{why}: the last listed model {self.models[-1]}")
        return Choice((self.models[-1], *reversed(self.models[:-1]), *self.fallbacks), escalate=False)

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        if context.router is None or context.embed is None:
            return self._default(trace, "no router or embedder given")
        try:
            quality = self.predictions(request.text, context)
        except Exception as exc:  # noqa: BLE001 - a failing embedder or router must degrade, not fail the call
            return self._default(trace, f"prediction failed ({type(exc).__name__}: {exc})")
        listed = ", ".join(f"{key} {value:.2f}" for key, value in quality.items())
        chosen, why, score = self._pick(quality, request, eligibility)
        trace.append(f"predicted quality ({self.router}): {listed} -> {why}")
        others = sorted((key for key in self.models if key != chosen), key=lambda key: -quality[key])
        return Choice((chosen, *others, *self.fallbacks), escalate=False, score=score)

    def _pick(self, quality: dict[str, float], request: RouteRequest, eligibility: Eligibility):
        if self.mode == "threshold":
            weak, strong = self.models
            gain = quality[strong] - quality[weak]
            chosen = strong if gain >= self.value else weak
            sign = ">=" if gain >= self.value else "<"
            return chosen, f"gain {gain:+.3f} {sign} threshold {self.value}: {chosen}", gain
        pool = [key for key in self.models if key in eligibility.eligible] or list(self.models)
        costs = {
            key: call_cost(eligibility.everyone[key], request, self.expected_output_tokens)
            if key in eligibility.everyone
            else 0.0
            for key in pool
        }
        if self.mode == "min_quality":
            reaching = sorted(
                (key for key in pool if quality[key] >= self.value), key=lambda k: (costs[k], k)
            )
            if reaching:
                chosen = reaching[0]
                return chosen, f"cheapest reaching {self.value}: {chosen} (est. {money(costs[chosen])})", None
            chosen = max(pool, key=lambda key: (quality[key], -costs[key]))
            return chosen, f"none reaches {self.value}: the highest, {chosen}", None
        value = {key: quality[key] - self.value * costs[key] for key in pool}
        chosen = max(pool, key=lambda key: (value[key], -costs[key]))
        return chosen, f"best quality - {self.value:g} x cost: {chosen} ({value[chosen]:.3f})", None
