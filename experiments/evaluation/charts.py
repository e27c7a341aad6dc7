"""Plotly figures (plain dicts, no Django) of an evaluation: quality against strong share and against cost.

Each swept policy is a line through its thresholds, the random router a dashed line, the two single
models a marker each, and each policy's own operating point a cross. Labels (policy and model names)
are HTML-escaped, since Plotly reads <b>, <a href>, <span style> and <br> in trace names.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

AXES = {
    "strong_share": {
        "title": {"text": "share of calls to the strong model"},
        "tickformat": ".0%",
        "range": [-0.02, 1.02],
    },
    "cost": {"title": {"text": "mean cost per item (USD)"}, "tickformat": "$.5f"},
}
HOVER = (
    "%{fullData.name}<br>quality %{y:.4f}<br>strong share %{customdata[1]:.1%}"
    "<br>cost/item $%{customdata[2]:.6f}<br>threshold %{customdata[0]}<extra></extra>"
)
STYLES = {
    "policy": {"mode": "lines+markers", "marker": {"size": 5}},
    "random": {"mode": "lines", "line": {"dash": "dash", "color": "#8a96a3"}},
    "weak": {"mode": "markers", "marker": {"size": 12, "symbol": "square", "color": "#5d6b7a"}},
    "strong": {"mode": "markers", "marker": {"size": 12, "symbol": "diamond", "color": "#c0392b"}},
}


def _trace(curve: dict, x: str) -> dict:
    points = sorted(curve["points"], key=lambda point: (point[x], point["quality"]))
    label = html.escape(curve["label"])
    name = label if curve["series"] != "random" else "random router"
    return {
        "type": "scatter",
        "name": name if curve["series"] in ("policy", "random") else f"{curve['series']}: {label}",
        "x": [point[x] for point in points],
        "y": [point["quality"] for point in points],
        "customdata": [
            [_threshold(point["threshold"]), point["strong_share"], point["cost"]] for point in points
        ],
        "hovertemplate": HOVER,
        **STYLES[curve["series"]],
    }


def _threshold(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _operating_points(policies: Sequence[dict], x: str) -> list[dict]:
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "name": f"{html.escape(policy['label'])} as configured",
            "x": [policy[x]],
            "y": [policy["quality"]],
            "customdata": [[_threshold(policy.get("threshold")), policy["strong_share"], policy["cost"]]],
            "hovertemplate": HOVER,
            "marker": {"size": 11, "symbol": "x"},
        }
        for policy in policies
        if not policy.get("error") and policy.get("strong_share") is not None
    ]


def curve_figure(curves: Sequence[dict], policies: Sequence[dict], *, x: str = "strong_share") -> dict:
    """One figure: every curve and operating point, quality on the y axis and `x` (strong_share or cost)."""
    if x not in AXES:
        raise ValueError(f"x must be one of {', '.join(AXES)}, not {x!r}")
    return {
        "data": [*(_trace(curve, x) for curve in curves), *_operating_points(policies, x)],
        "layout": {
            "xaxis": AXES[x],
            "yaxis": {"title": {"text": "mean quality"}},
            "legend": {"orientation": "h", "y": -0.3},
            "margin": {"t": 30, "r": 20},
            "height": 500,
        },
    }
