"""Fairness gaps and the ``fairness`` alert rule (docs/analytics.md, 'Slices and fairness' and
'Alerts'). Owns: the gaps of one sensitive feature from the slices report's per-value counts,
and turning gaps above the ``[alerts]`` thresholds into alerts.

The sensitive features are the version's slice features (registry ``slices``, or ``by``). Per
feature, over the values with enough rows (``[slices] min_labelled``):

- demographic-parity difference: max − min over values of the rate of positive predictions
  (binary: ``prediction = positive`` among rows with a prediction);
- equal-opportunity difference: max − min over values of the recall among labelled positives
  (values with at least ``min_labelled`` labelled positives).

Multiclass, one-vs-rest: each class in turn is the positive one; rates and recalls are taken
over the labelled rows with a prediction (the class pairs the slices query yields); the gap of
each class is computed as above and the worst class's gap is the feature's gap (its class in
``parity_class`` / ``equal_opportunity_class``; every class's gap in ``per_class``).
``groups`` name the two values compared (the max and the min) for each gap.

The alert (``fairness``, warning): a gap above ``fairness_parity_max`` or
``fairness_equal_opportunity_max`` (unset: that gap never alerts). The same thresholds drive the
``fairness`` promotion gate (console/governance/gates.py).
"""

from __future__ import annotations

from typing import Any


def _gap(values: dict[Any, float]) -> tuple[float | None, list[Any] | None]:
    """(max − min, [value at max, value at min]) over at least two values, else (None, None)."""
    if len(values) < 2:
        return None, None
    hi = max(values, key=lambda v: (values[v], str(v)))
    lo = min(values, key=lambda v: (values[v], str(v)))
    return values[hi] - values[lo], [hi, lo]


def _binary(entries: list[dict[str, Any]], min_n: int) -> tuple[dict, dict]:
    rates: dict[Any, float] = {}
    tprs: dict[Any, float] = {}
    for e in entries:
        c = e["_counts"]
        if e["rows"] >= min_n and c.get("pred_n"):
            rates[e["value"]] = c["pred_pos"] / c["pred_n"]
        positives = c.get("tp", 0) + c.get("fn", 0)
        if positives >= min_n:
            tprs[e["value"]] = c["tp"] / positives
    return rates, tprs


def _multiclass(entries: list[dict[str, Any]], min_n: int) -> dict[str, tuple[dict, dict]]:
    """{class: (positive-prediction rate per value, recall per value)}, one-vs-rest."""
    classes = sorted({k for e in entries for y, yh, _ in e["_counts"].get("pairs", []) for k in (y, yh)})
    out: dict[str, tuple[dict, dict]] = {}
    for k in classes:
        rates: dict[Any, float] = {}
        tprs: dict[Any, float] = {}
        for e in entries:
            pairs = e["_counts"].get("pairs", [])
            scored = sum(n for _, _, n in pairs)
            if scored >= min_n and scored > 0:
                rates[e["value"]] = sum(n for _, yh, n in pairs if yh == k) / scored
            positives = sum(n for y, _, n in pairs if y == k)
            if positives >= min_n:
                tprs[e["value"]] = sum(n for y, yh, n in pairs if y == k and yh == k) / positives
        out[str(k)] = (rates, tprs)
    return out


def _gaps(rates: dict[Any, float], tprs: dict[Any, float]) -> dict[str, Any]:
    """Both gaps, the values they compare and the rates behind them (one positive class)."""
    dp, dp_groups = _gap(rates)
    eo, eo_groups = _gap(tprs)
    return {"demographic_parity_difference": dp, "equal_opportunity_difference": eo,
            "parity_groups": dp_groups, "equal_opportunity_groups": eo_groups,
            "positive_rate": rates, "true_positive_rate": tprs}


def fairness_gaps(name: str, entries: list[dict[str, Any]], min_n: int, task: str) -> dict[str, Any]:
    """The fairness entry of one sensitive feature from its values' entries (with ``_counts``)."""
    if task == "binary":
        return {"feature": name, **_gaps(*_binary(entries, min_n))}
    per_class = {k: _gaps(rates, tprs) for k, (rates, tprs) in _multiclass(entries, min_n).items()}

    def worst(key: str) -> str | None:
        have = [k for k, v in per_class.items() if v[key] is not None]
        return max(have, key=lambda k: (per_class[k][key], k)) if have else None

    kp, ke = worst("demographic_parity_difference"), worst("equal_opportunity_difference")
    return {"feature": name, "one_vs_rest": True,
            "demographic_parity_difference": per_class[kp]["demographic_parity_difference"] if kp else None,
            "parity_class": kp, "parity_groups": per_class[kp]["parity_groups"] if kp else None,
            "equal_opportunity_difference": per_class[ke]["equal_opportunity_difference"] if ke else None,
            "equal_opportunity_class": ke,
            "equal_opportunity_groups": per_class[ke]["equal_opportunity_groups"] if ke else None,
            "per_class": per_class}


GAPS = (("demographic_parity_difference", "parity", "fairness_parity_max", "demographic parity"),
        ("equal_opportunity_difference", "equal_opportunity", "fairness_equal_opportunity_max",
         "equal opportunity"))


def fairness_on(a) -> bool:
    """Whether any fairness threshold is set in these ``[alerts]`` settings."""
    return any(getattr(a, th) is not None for _, _, th, _ in GAPS)


def gaps_over(report: dict[str, Any], a) -> list[dict[str, Any]]:
    """The gaps of a slices report above their threshold; each breach: feature, gap, value,
    threshold, groups (higher, lower), class (multiclass)."""
    out = []
    for f in report.get("fairness") or []:
        for key, gap, th, label in GAPS:
            limit = getattr(a, th)
            value = f.get(key)
            if limit is None or value is None or value <= limit:
                continue
            out.append({"feature": f["feature"], "gap": gap, "label": label, "value": value, "threshold": limit,
                        "groups": f.get(f"{gap}_groups"), "class": f.get(f"{gap}_class")})
    return out


def fairness_alerts(rep: dict[str, Any], a, start, end, make) -> list[dict[str, Any]]:
    """One ``fairness`` warning per (feature, gap) above its threshold (``make``: alerts._alert)."""
    out = []
    for b in gaps_over(rep, a):
        hi, lo = b["groups"]
        cls = f" (class {b['class']} vs rest)" if b["class"] is not None else ""
        out.append(make(rep["model"], rep["version"], "fairness", "warning",
                        f"{b['label']} gap on {b['feature']}{cls}: {b['value']:.3f} > {b['threshold']:g} "
                        f"({b['feature']}={hi} vs {b['feature']}={lo})",
                        start, end, subject=f"{b['feature']}:{b['gap']}", feature=b["feature"], gap=b["gap"],
                        value=b["value"], threshold=b["threshold"], groups=[hi, lo], positive_class=b["class"]))
    return out
