"""An evaluation's results as table rows of text, the same for the web page and the CLI. Pure."""

from __future__ import annotations

RECORDED_COLUMNS = (
    ("label", "policy"),
    ("kind", "kind"),
    ("quality", "quality"),
    ("cost", "cost/item"),
    ("strong_share", "strong share"),
    ("apgr", "APGR"),
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


def _curve_cells(figures: dict) -> dict[str, str]:
    return {
        "apgr": number(figures.get("apgr"), 3),
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
