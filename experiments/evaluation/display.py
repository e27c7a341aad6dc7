"""An evaluation's results as table rows of text, the same for the web page and the CLI. Pure."""

from __future__ import annotations

RECORDED_COLUMNS = (
    ("label", "policy"),
    ("kind", "kind"),
    ("quality", "quality"),
    ("cost", "cost/item"),
    ("strong_share", "strong share"),
    ("apgr", "APGR [95% CI]"),
    ("cpt50", "CPT(50%)"),
    ("cpt80", "CPT(80%)"),
)
LIVE_COLUMNS = (
    ("label", "policy"),
    ("kind", "kind"),
    ("quality", "quality"),
    ("cost", "cost/item"),
    ("answered", "answered"),
    ("errors", "errors"),
    ("models", "share of calls per model"),
)


def number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:.6f}"


def _apgr_cell(figures: dict) -> str:
    """The APGR, with its 95% bootstrap interval where the run computed one."""
    cell = number(figures.get("apgr"), 3)
    if figures.get("apgr_low") is not None:
        cell += f" [{figures['apgr_low']:.3f}, {figures['apgr_high']:.3f}]"
    return cell


def _curve_cells(figures: dict) -> dict[str, str]:
    return {
        "apgr": _apgr_cell(figures),
        "cpt50": percent(figures.get("cpt50")),
        "cpt80": percent(figures.get("cpt80")),
    }


def _policy_row(policy: dict) -> dict[str, str]:
    head = {"label": policy["label"], "kind": policy.get("kind", "")}
    if policy.get("error"):
        return {**head, "note": f"could not be evaluated: {policy['error']}"}
    return {
        **head,
        "quality": number(policy["quality"]),
        "cost": money(policy["cost"]),
        "strong_share": percent(policy["strong_share"]),
        **_curve_cells(policy),
        "note": "" if policy.get("swept") else "one operating point, no threshold to sweep",
    }


def recorded_rows(results: dict) -> list[dict[str, str]]:
    """One row per policy (its operating point, and its curve's APGR and CPTs), then the three baselines."""
    baselines = results["baselines"]
    weak, strong = baselines["weak"], baselines["strong"]
    return [
        *(_policy_row(policy) for policy in results["policies"]),
        {"label": f"weak: {weak['model']}", "kind": "baseline", "quality": number(weak["quality"])}
        | {"cost": money(weak["cost"]), "strong_share": percent(0.0)},
        {"label": f"strong: {strong['model']}", "kind": "baseline", "quality": number(strong["quality"])}
        | {"cost": money(strong["cost"]), "strong_share": percent(1.0)},
        {"label": "random router", "kind": "baseline", **_curve_cells(baselines["random"])},
    ]


def without_excluded_rows(results: dict) -> list[dict[str, str]]:
    """The same figures over the items not marked excluded (RouteLLM's decontaminated set)."""
    figures = results.get("without_excluded")
    if not figures:
        return []
    rows = [
        {"label": policy["label"], "kind": policy["kind"], "quality": number(policy["quality"])}
        | {
            "cost": money(policy["cost"]),
            "strong_share": percent(policy["strong_share"]),
            **_curve_cells(policy),
        }
        for policy in figures["policies"]
    ]
    return [
        *rows,
        {"label": "weak model", "quality": number(figures["weak_quality"])},
        {"label": "strong model", "quality": number(figures["strong_quality"])},
        {"label": "random router", "apgr": number(figures["random_apgr"], 3)},
    ]


MANY_COLUMNS = (
    ("label", "model or policy"),
    ("kind", "kind"),
    ("quality", "quality"),
    ("cost", "cost/item"),
    ("pareto", "Pareto"),
)


def many_model_rows(results: dict) -> list[dict[str, str]]:
    """With three or more models: each model's point (Pareto-optimal or not), the best single model, the
    oracle, the random router, then each policy's point choosing among all the models."""
    many = results.get("many_models")
    if not many:
        return []
    rows = [
        {
            "label": point["name"],
            "kind": "model",
            "quality": number(point["quality"]),
            "cost": money(point["cost"]),
        }
        | {"pareto": "yes" if point["pareto"] else "no"}
        for point in many["models"]
    ]
    best = many["best_single"]
    rows.append(
        {"label": f"best single: {best['name']}", "kind": "baseline", "quality": number(best["quality"])}
    )
    rows[-1]["cost"] = money(best["cost"])
    for name in ("oracle", "random"):
        figures = many[name]
        rows.append({"label": name, "kind": "baseline", "quality": number(figures["quality"])})
        rows[-1]["cost"] = money(figures["cost"])
    for policy in many["policies"]:
        head = {"label": policy["label"], "kind": policy["kind"]}
        if policy.get("error"):
            rows.append({**head, "note": policy["error"]})
            continue
        shares = ", ".join(f"{model} {share:.0%}" for model, share in policy["model_shares"].items())
        rows.append(
            {**head, "quality": number(policy["quality"]), "cost": money(policy["cost"]), "note": shares}
        )
    return rows


def live_rows(results: dict) -> list[dict[str, str]]:
    rows = []
    for policy in results["policies"]:
        head = {"label": policy["label"], "kind": policy.get("kind", "")}
        if policy.get("error"):
            rows.append({**head, "note": f"could not be evaluated: {policy['error']}"})
            continue
        models = ", ".join(f"{model} {share:.1%}" for model, share in policy["model_shares"].items())
        rows.append(
            {**head, "quality": number(policy["quality"]), "cost": money(policy["cost"])}
            | {"answered": str(policy["answered"]), "errors": str(policy["errors"]), "models": models}
            | {"note": policy.get("first_error", "")}
        )
    return rows


def table(rows: list[dict[str, str]], columns: tuple[tuple[str, str], ...]) -> list[list[str]]:
    """The header and each row's cells in column order ("" where a row has no value)."""
    return [[title for _, title in columns], *([row.get(key, "") for key, _ in columns] for row in rows)]


JSON_FIGURES = (
    *(
        "apgr",
        "apgr_low",
        "apgr_high",
        "cpt50",
        "cpt50_low",
        "cpt50_high",
        "cpt80",
        "cpt80_low",
        "cpt80_high",
    ),
    *("quality", "cost", "strong_share"),
)


def json_summary(evaluation_id: int, results: dict) -> dict:
    """What `evaluate_policy --json` prints: per policy its APGR with the 95% interval, CPT(50%), CPT(80%),
    quality, cost per item and strong share (or why it could not be evaluated), the baselines, the same
    figures without the excluded items, and the notes."""

    def figures(policy: dict) -> dict:
        head = {"label": policy["label"], "kind": policy.get("kind", "")}
        if policy.get("error"):
            return {**head, "error": policy["error"]}
        values = {name: policy.get(name) for name in JSON_FIGURES}
        return {**head, **values, "swept": policy.get("swept", False)}

    summary = {
        "evaluation": evaluation_id,
        "mode": results.get("mode"),
        "dataset": results.get("dataset"),
        "models": results.get("models"),
        "policies": [figures(policy) for policy in results.get("policies", [])],
        "baselines": results.get("baselines"),
        "many_models": results.get("many_models"),
        "notes": results.get("notes", []),
    }
    if clean := results.get("without_excluded"):
        summary["without_excluded"] = {**clean, "policies": [figures(p) for p in clean["policies"]]}
    return summary
