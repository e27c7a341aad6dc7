"""Chart builders for the dashboard: plain lists of dicts in, Plotly figure dicts out. No Django here.

Every builder returns `{"data": [...], "layout": {...}}` (plotly.graph_objects, then `to_plotly_json`),
with a small template of our own so a figure does not carry Plotly's default theme in every page.
An empty input gives a valid figure with no traces and a "no data" note, so a page never breaks.

Plotly reads a subset of HTML (<b>, <a href>, <span style>, <br>) in every text it draws: titles, tick
labels, legend names, hover text. Names in the rows (a client's metadata.feature, variant, model and
route names) pass through `_label` on the way in, so they show as typed and never as markup.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from datetime import date

import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder

COLORS = ["#2f6fde", "#e0823d", "#1f8a4c", "#8e5bd6", "#c0392b", "#17a2b8", "#6c7a89", "#d4a017"]
BAND = ["rgba(47,111,222,0.18)", "rgba(224,130,61,0.18)", "rgba(31,138,76,0.18)", "rgba(142,91,214,0.18)"]
TEMPLATE = go.layout.Template(
    layout=go.Layout(
        colorway=COLORS,
        font={"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12, "color": "#1d232b"},
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        xaxis={"gridcolor": "#eef2f7", "linecolor": "#dde3ea", "automargin": True},
        yaxis={
            "gridcolor": "#eef2f7",
            "linecolor": "#dde3ea",
            "zerolinecolor": "#dde3ea",
            "automargin": True,
        },
        hovermode="x unified",
        # below the plot: above it, a legend that wraps to two lines would run into the title
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
    )
)
PERCENTILE_KEYS = ("p50", "p95", "p99")
DAY_MS = 24 * 3600 * 1000
MAX_TICKS = 12
COST_AXIS = {"model": "model", "tier": "model tier", "feature": "feature", "day": "day"}


def _figure(traces: list, title: str, *, empty: bool = False, **layout) -> dict:
    fig = go.Figure(
        data=traces,
        layout=go.Layout(
            title={"text": title, "x": 0, "font": {"size": 14}},
            template=TEMPLATE,
            height=320,
            margin={"l": 50, "r": 20, "t": 50, "b": 40},
            **layout,
        ),
    )
    if empty:
        fig.add_annotation(
            text="No data in this window", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig.to_plotly_json()


def _label(value):
    """A name from the data as Plotly text: HTML-escaped, so `<b>` shows as typed; others as they are."""
    return html.escape(value) if isinstance(value, str) else value


def _ordered(values: Iterable) -> list:
    """Distinct values in the order first seen."""
    return list(dict.fromkeys(values))


def _stacked_bars(rows: list[dict], x: str, group: str, y: str) -> list[go.Bar]:
    traces = []
    for name in _ordered(row[group] for row in rows):
        mine = [row for row in rows if row[group] == name]
        bar = go.Bar(name=_label(str(name)), x=[_label(row[x]) for row in mine], y=[row[y] for row in mine])
        traces.append(bar)
    return traces


def _day_axis(days: Iterable[str]) -> dict:
    """A date axis with one tick per day (or per few days over long windows) and no hours."""
    parsed = sorted(date.fromisoformat(str(day)[:10]) for day in days)
    span = (parsed[-1] - parsed[0]).days + 1 if parsed else 1
    return {"type": "date", "tickformat": "%b %-d", "dtick": DAY_MS * math.ceil(span / MAX_TICKS)}


def _day_of(item: dict) -> str:
    """A cumulative-delta point's day: `day` when given, else the date the report was generated."""
    return str(item.get("day") or _results(item).get("generated_at", "")[:10])


def _results(item: dict) -> dict:
    return item.get("results", item)


def _relative_series(days: list[dict], metric_key: str) -> dict[str, dict[str, list]]:
    """Per treatment variant: the days and the relative estimate with its interval on each day."""
    series: dict[str, dict[str, list]] = {}
    for item in days:
        for row in _results(item).get("rows", []):
            if row["key"] != metric_key:
                continue
            points = series.setdefault(_label(row["variant"]), {"x": [], "y": [], "low": [], "high": []})
            relative = row["relative"]
            points["x"].append(_day_of(item))
            points["y"].append(relative["estimate"])
            points["low"].append(relative["ci_low"])
            points["high"].append(relative["ci_high"])
    return series


def _metric_label(days: list[dict], metric_key: str) -> str:
    rows = (row for item in days for row in _results(item).get("rows", []) if row["key"] == metric_key)
    return _label(next((row.get("label", metric_key) for row in rows), metric_key))


def _band_traces(variant: str, points: dict, index: int) -> list[go.Scatter]:
    """The interval as a shaded band (upper edge, then lower edge filled up to it) and the estimate."""
    color, fill = COLORS[index % len(COLORS)], BAND[index % len(BAND)]
    edge = {"mode": "lines", "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"}
    return [
        go.Scatter(name=f"{variant} CI high", x=points["x"], y=points["high"], **edge),
        go.Scatter(
            name=f"{variant} CI", x=points["x"], y=points["low"], fill="tonexty", fillcolor=fill, **edge
        ),
        go.Scatter(
            name=variant,
            x=points["x"],
            y=points["y"],
            mode="lines+markers",
            line={"color": color, "width": 2},
            customdata=list(zip(points["low"], points["high"], strict=True)),
            hovertemplate="%{y:+.1%} [%{customdata[0]:+.1%}, %{customdata[1]:+.1%}]",
        ),
    ]


def cumulative_delta_figure(days: list[dict], metric_key: str) -> dict:
    """Each treatment's relative delta on one metric, day by day, with its confidence band and zero line.

    `days` are DailyResult rows ordered by day, each `{"day": ..., "results": report.as_json()}`
    (a bare `results` dict works too: its generation date is the day).
    """
    series = _relative_series(days, metric_key)
    traces = [t for i, (variant, pts) in enumerate(series.items()) for t in _band_traces(variant, pts, i)]
    title = f"Cumulative relative delta: {_metric_label(days, metric_key)}"
    if not traces:
        return _figure([], title, empty=True)
    days_seen = [day for points in series.values() for day in points["x"]]
    yaxis = {"tickformat": "+.0%", "title": {"text": "treatment vs control"}}
    figure = _figure(traces, title, xaxis=_day_axis(days_seen), yaxis=yaxis)
    figure["layout"]["shapes"] = [_zero_line()]
    return figure


def _zero_line() -> dict:
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": 0,
        "y1": 0,
        "line": {"color": "#5d6b7a", "width": 1, "dash": "dash"},
    }


def routing_distribution_figure(rows: list[dict]) -> dict:
    """Calls per model per day as stacked bars; rows are `{"day", "model", "calls"}`."""
    title = "Routing distribution: calls per model per day"
    if not rows:
        return _figure([], title, empty=True)
    traces = _stacked_bars(rows, "day", "model", "calls")
    return _figure(traces, title, barmode="stack", xaxis=_day_axis(row["day"] for row in rows))


def cost_breakdown_figure(rows: list[dict], by: str) -> dict:
    """Cost per request by model, tier, feature or day; rows are `{by, "calls", "cost_per_request"}`."""
    if by not in COST_AXIS:
        raise ValueError(f"by must be one of {', '.join(COST_AXIS)}, not {by!r}")
    title = f"Cost per request by {COST_AXIS[by]}"
    if not rows:
        return _figure([], title, empty=True)
    bar = go.Bar(
        name="cost per request",
        x=[_label(str(row[by])) for row in rows],
        y=[row["cost_per_request"] for row in rows],
        customdata=[row["calls"] for row in rows],
        hovertemplate="$%{y:.5f} per request over %{customdata} calls<extra></extra>",
        marker={"color": COLORS[0]},
    )
    xaxis = _day_axis(row["day"] for row in rows) if by == "day" else {"type": "category"}
    return _figure([bar], title, xaxis=xaxis, yaxis={"tickprefix": "$", "title": {"text": "USD per request"}})


def quality_by_tier_figure(rows: list[dict]) -> dict:
    """Mean quality score per model tier, one bar group per scorer; rows are `{"tier", "scorer", "mean"}`."""
    title = "Quality by model tier"
    if not rows:
        return _figure([], title, empty=True)
    traces = _stacked_bars(rows, "tier", "scorer", "mean")
    return _figure(traces, title, barmode="group", yaxis={"range": [0, 1], "title": {"text": "mean score"}})


def latency_percentiles_figure(rows: list[dict]) -> dict:
    """p50, p95 and p99 latency per day as lines; rows are `{"day", "p50", "p95", "p99"}` in ms."""
    title = "Latency percentiles per day"
    if not rows:
        return _figure([], title, empty=True)
    traces = [
        go.Scatter(
            name=key, x=[row["day"] for row in rows], y=[row[key] for row in rows], mode="lines+markers"
        )
        for key in PERCENTILE_KEYS
    ]
    xaxis = _day_axis(row["day"] for row in rows)
    return _figure(traces, title, xaxis=xaxis, yaxis={"ticksuffix": " ms", "rangemode": "tozero"})


def fallback_rate_figure(rows: list[dict]) -> dict:
    """The share of calls that used a fallback, per day; rows are `{"day", "calls", "rate"}`."""
    title = "Fallback rate per day"
    if not rows:
        return _figure([], title, empty=True)
    line = go.Scatter(
        name="fallback rate",
        x=[row["day"] for row in rows],
        y=[row["rate"] for row in rows],
        customdata=[row["calls"] for row in rows],
        mode="lines+markers",
        hovertemplate="%{y:.1%} of %{customdata} calls<extra></extra>",
    )
    xaxis = _day_axis(row["day"] for row in rows)
    return _figure([line], title, xaxis=xaxis, yaxis={"tickformat": ".0%", "rangemode": "tozero"})


def spend_by_route_figure(rows: list[dict]) -> dict:
    """Spend per day, stacked by route; rows are `{"day", "route", "spend"}` in USD."""
    title = "Spend per day by route"
    if not rows:
        return _figure([], title, empty=True)
    traces = _stacked_bars(rows, "day", "route", "spend")
    xaxis = _day_axis(row["day"] for row in rows)
    return _figure(traces, title, barmode="stack", xaxis=xaxis, yaxis={"tickprefix": "$"})


def figure_html(figure: dict, div_id: str) -> str:
    """A `<div>` and the `<script>` that draws the figure in it (Plotly must be loaded before)."""
    payload = json.dumps(figure, cls=PlotlyJSONEncoder).replace("</", "<\\/")
    target = json.dumps(div_id)
    config = '{"responsive": true, "displaylogo": false}'
    # Drawn once the page is parsed, so the chart takes the width its grid cell finally has.
    draw = f"function () {{ Plotly.newPlot({target}, f.data, f.layout, {config}); }}"
    return (
        f'<div id="{html.escape(div_id)}" class="chart"></div>\n'
        f"<script>(function () {{ var f = {payload}; var draw = {draw}; "
        'if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); '
        "else draw(); })();</script>"
    )
