"""The chart builders: plain dicts in, valid Plotly figures out, values where they belong."""

import json

import plotly.graph_objects as go
import pytest

from analytics import charts


def _report(rows):
    return {"rows": rows, "generated_at": "2025-03-09T23:59:00+00:00"}


def _row(key, variant, estimate, low, high, label=None):
    relative = {"estimate": estimate, "ci_low": low, "ci_high": high, "p_value": 0.01}
    return {"key": key, "label": label or key, "variant": variant, "relative": relative}


DAYS = [
    {"day": "2025-03-01", "results": _report([_row("cost", "treatment", -0.5, -0.8, -0.2, "cost per call")])},
    {"day": "2025-03-02", "results": _report([_row("cost", "treatment", -0.6, -0.7, -0.5, "cost per call")])},
]


def _valid(figure: dict) -> go.Figure:
    """Plotly itself accepts the figure, and it survives a JSON round trip."""
    json.loads(json.dumps(figure, cls=charts.PlotlyJSONEncoder))
    return go.Figure(figure)


def test_the_cumulative_delta_has_a_band_an_estimate_and_a_zero_line():
    figure = charts.cumulative_delta_figure(DAYS, "cost")
    _valid(figure)
    high, low, estimate = figure["data"]
    assert high["y"] == [-0.2, -0.5] and low["y"] == [-0.8, -0.7]
    assert low["fill"] == "tonexty" and "fill" not in high
    assert estimate["name"] == "treatment" and estimate["y"] == [-0.5, -0.6]
    assert estimate["x"] == ["2025-03-01", "2025-03-02"]
    zero = figure["layout"]["shapes"][0]
    assert zero["y0"] == zero["y1"] == 0
    assert "cost per call" in figure["layout"]["title"]["text"]


def test_each_treatment_gets_its_own_band_and_other_metrics_are_left_out():
    rows = [_row("cost", "cheap", -0.4, -0.5, -0.3), _row("cost", "mid", -0.2, -0.3, -0.1)]
    rows.append(_row("latency", "cheap", 0.1, 0.0, 0.2))
    figure = charts.cumulative_delta_figure([{"day": "2025-03-01", "results": _report(rows)}], "cost")
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["cheap CI high", "cheap CI", "cheap", "mid CI high", "mid CI", "mid"]
    assert figure["data"][5]["y"] == [-0.2]


def test_a_bare_report_is_placed_on_the_day_it_was_generated():
    figure = charts.cumulative_delta_figure([_report([_row("cost", "treatment", -0.5, -0.6, -0.4)])], "cost")
    assert figure["data"][2]["x"] == ["2025-03-09"]


def test_an_undefined_interval_stays_a_gap_and_encodes_as_null():
    day = {"day": "2025-03-01", "results": _report([_row("cost", "treatment", float("nan"), None, None)])}
    html = charts.figure_html(charts.cumulative_delta_figure([day], "cost"), "chart-x")
    assert "NaN" not in html and "null" in html


@pytest.mark.parametrize(
    "build",
    [
        lambda: charts.cumulative_delta_figure([], "cost"),
        lambda: charts.cumulative_delta_figure(DAYS, "quality:judge"),
        lambda: charts.routing_distribution_figure([]),
        lambda: charts.cost_breakdown_figure([], "tier"),
        lambda: charts.quality_by_tier_figure([]),
        lambda: charts.latency_percentiles_figure([]),
        lambda: charts.fallback_rate_figure([]),
        lambda: charts.spend_by_route_figure([]),
    ],
)
def test_empty_inputs_give_an_empty_but_valid_figure_with_a_note(build):
    figure = build()
    _valid(figure)
    assert figure["data"] == []
    assert figure["layout"]["annotations"][0]["text"] == "No data in this window"


def test_the_routing_distribution_stacks_one_bar_trace_per_model():
    rows = [
        {"day": "2025-03-01", "model": "sim/cheap", "calls": 5},
        {"day": "2025-03-02", "model": "sim/cheap", "calls": 7},
        {"day": "2025-03-02", "model": "sim/premium", "calls": 3},
    ]
    figure = charts.routing_distribution_figure(rows)
    _valid(figure)
    cheap, premium = figure["data"]
    assert cheap["type"] == "bar" and cheap["name"] == "sim/cheap"
    assert cheap["x"] == ["2025-03-01", "2025-03-02"] and cheap["y"] == [5, 7]
    assert premium["x"] == ["2025-03-02"] and premium["y"] == [3]
    assert figure["layout"]["barmode"] == "stack"


@pytest.mark.parametrize("by", ["model", "tier", "feature", "day"])
def test_cost_per_request_is_one_bar_per_group(by):
    a, b = ("2025-03-01", "2025-03-02") if by == "day" else ("a", "b")
    rows = [{by: a, "calls": 4, "cost_per_request": 0.02}, {by: b, "calls": 1, "cost_per_request": 0.005}]
    figure = charts.cost_breakdown_figure(rows, by)
    _valid(figure)
    (bar,) = figure["data"]
    assert bar["x"] == [a, b] and bar["y"] == [0.02, 0.005] and bar["customdata"] == [4, 1]
    assert figure["layout"]["xaxis"]["type"] == ("date" if by == "day" else "category")


def test_day_axes_tick_once_a_day_and_thin_out_over_long_windows():
    short = charts.latency_percentiles_figure(
        [{"day": f"2025-03-0{d}", "p50": 1, "p95": 2, "p99": 3} for d in (1, 7)]
    )
    assert short["layout"]["xaxis"]["dtick"] == charts.DAY_MS
    long = charts.fallback_rate_figure(
        [{"day": d, "calls": 1, "rate": 0} for d in ("2025-01-01", "2025-03-31")]
    )
    assert long["layout"]["xaxis"]["dtick"] == 8 * charts.DAY_MS


def test_cost_breakdown_refuses_an_unknown_grouping():
    with pytest.raises(ValueError, match="by must be one of"):
        charts.cost_breakdown_figure([], "colour")


def test_quality_by_tier_groups_bars_by_scorer():
    rows = [
        {"tier": "cheap", "scorer": "judge", "mean": 0.7},
        {"tier": "premium", "scorer": "judge", "mean": 0.9},
        {"tier": "cheap", "scorer": "exact", "mean": 0.6},
    ]
    figure = charts.quality_by_tier_figure(rows)
    _valid(figure)
    judge, exact = figure["data"]
    assert judge["x"] == ["cheap", "premium"] and judge["y"] == [0.7, 0.9]
    assert exact["x"] == ["cheap"] and exact["y"] == [0.6]
    assert figure["layout"]["barmode"] == "group"


def test_latency_percentiles_are_three_lines_in_order():
    rows = [{"day": "2025-03-01", "p50": 400.0, "p95": 900.0, "p99": 1500.0}]
    figure = charts.latency_percentiles_figure(rows)
    _valid(figure)
    assert [t["name"] for t in figure["data"]] == ["p50", "p95", "p99"]
    assert [t["y"][0] for t in figure["data"]] == [400.0, 900.0, 1500.0]


def test_the_fallback_rate_is_a_line_of_shares():
    rows = [{"day": "2025-03-01", "calls": 50, "rate": 0.04}, {"day": "2025-03-02", "calls": 20, "rate": 0.0}]
    figure = charts.fallback_rate_figure(rows)
    _valid(figure)
    (line,) = figure["data"]
    assert line["y"] == [0.04, 0.0] and line["customdata"] == [50, 20]
    assert figure["layout"]["yaxis"]["tickformat"] == ".0%"


def test_figure_html_draws_the_figure_into_its_div_and_cannot_close_the_script_early():
    # a figure not from a builder: the builders escape names already (see below)
    figure = {"data": [{"type": "bar", "name": "</script><b>x", "x": [1], "y": [1]}], "layout": {}}
    html = charts.figure_html(figure, "chart-routing")
    assert html.startswith('<div id="chart-routing" class="chart"></div>')
    assert 'Plotly.newPlot("chart-routing", f.data, f.layout' in html
    assert '"DOMContentLoaded", draw' in html
    assert html.count("</script>") == 1 and "<\\/script>" in html


HOSTILE = '<b>big</b><a href="http://x">l</a><span style="font-size:90px">s</span><br>'


def _texts(value):
    """Every string anywhere in a figure: names, tick values, titles, hover templates, annotations."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


@pytest.mark.parametrize(
    "build",
    [
        lambda: charts.cumulative_delta_figure(
            [{"day": "2025-03-01", "results": _report([_row("cost", HOSTILE, -0.5, -0.8, -0.2, HOSTILE)])}],
            "cost",
        ),
        lambda: charts.routing_distribution_figure([{"day": "2025-03-01", "model": HOSTILE, "calls": 3}]),
        lambda: charts.cost_breakdown_figure(
            [{"feature": HOSTILE, "calls": 3, "cost_per_request": 0.1}], "feature"
        ),
        lambda: charts.cost_breakdown_figure(
            [{"model": HOSTILE, "calls": 3, "cost_per_request": 0.1}], "model"
        ),
        lambda: charts.quality_by_tier_figure([{"tier": HOSTILE, "scorer": HOSTILE, "mean": 0.5}]),
        lambda: charts.spend_by_route_figure([{"day": "2025-03-01", "route": HOSTILE, "spend": 1.5}]),
    ],
    ids=["cumulative", "routing", "cost-feature", "cost-model", "quality", "spend"],
)
def test_names_from_the_data_are_escaped_so_plotly_draws_them_as_typed(build):
    figure = build()
    _valid(figure)
    texts = list(_texts(json.loads(json.dumps(figure, cls=charts.PlotlyJSONEncoder))))
    for markup in ("<b>", "<a", "<span", "<br>"):
        assert not any(markup in text for text in texts), markup
    assert any("&lt;b&gt;big&lt;/b&gt;&lt;a href=&quot;http://x&quot;&gt;" in text for text in texts)
