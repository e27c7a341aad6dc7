import json

from experiments.evaluation.charts import curve_figure

HOSTILE = '<b>big</b><a href="http://x">l</a>'
POINT = {"threshold": 0.5, "strong_share": 0.4, "cost": 0.001, "quality": 0.8}


def test_policy_and_model_labels_are_escaped_so_plotly_draws_them_as_typed():
    curves = [
        {"series": "policy", "label": HOSTILE, "points": [POINT]},
        {"series": "strong", "label": HOSTILE, "points": [POINT]},
    ]
    policies = [{"label": HOSTILE, "quality": 0.8, "strong_share": 0.4, "cost": 0.001, "threshold": 0.5}]

    figure = curve_figure(curves, policies)

    names = [trace["name"] for trace in figure["data"]]
    assert names == [
        "&lt;b&gt;big&lt;/b&gt;&lt;a href=&quot;http://x&quot;&gt;l&lt;/a&gt;",
        "strong: &lt;b&gt;big&lt;/b&gt;&lt;a href=&quot;http://x&quot;&gt;l&lt;/a&gt;",
        "&lt;b&gt;big&lt;/b&gt;&lt;a href=&quot;http://x&quot;&gt;l&lt;/a&gt; as configured",
    ]
    assert "<b>big" not in json.dumps(figure) and "<a " not in json.dumps(figure)
