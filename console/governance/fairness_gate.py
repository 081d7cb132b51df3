"""The ``fairness`` promotion gate (docs/governance.md, 'Promotion gates'): owns judging the
challenger's fairness gaps (console/analytics/fairness.py, over the slices report of all its
traffic in the store) against the ``[alerts]`` thresholds ``fairness_parity_max`` and
``fairness_equal_opportunity_max`` of the model.

Failed when a gap exceeds its threshold; ``not_evaluated`` (never passed) when no threshold is
set, the challenger has no traffic or no slice (sensitive) feature, or a thresholded gap cannot
be computed for some feature (fewer than two values with enough rows); passed otherwise.
"""

from __future__ import annotations

from typing import Any

from console.analytics.config import config_for
from console.analytics.fairness import GAPS, fairness_on, gaps_over
from console.analytics.slices import slices_report


def fairness_gate(db, model: str, version: str, make) -> dict[str, Any]:
    """The gate's dict (``make``: gates._gate)."""
    a = config_for(db, model).alerts
    if not fairness_on(a):
        return make("fairness", "not_evaluated",
                    "not evaluated: no fairness threshold set ([alerts] fairness_parity_max, "
                    "fairness_equal_opportunity_max)")
    limits = {gap: getattr(a, th) for _, gap, th, _ in GAPS if getattr(a, th) is not None}
    report = slices_report(db, model=model, version=version)
    if report.get("overall") is None:
        return make("fairness", "not_evaluated",
                    f"not evaluated: no traffic of version {version} (run it in shadow or canary)", thresholds=limits)
    feats = report.get("fairness") or []
    if not feats:
        return make("fairness", "not_evaluated",
                    f"not evaluated: version {version} has no slice (sensitive) feature with fairness gaps "
                    f"(registry slices; binary or multiclass)", thresholds=limits)
    gaps = [{"feature": f["feature"], **{gap: f.get(key) for key, gap, _, _ in GAPS if gap in limits},
             "parity_groups": f.get("parity_groups"), "equal_opportunity_groups": f.get("equal_opportunity_groups"),
             "parity_class": f.get("parity_class"), "equal_opportunity_class": f.get("equal_opportunity_class")}
            for f in feats]
    breaches = gaps_over(report, a)
    ev = {"thresholds": limits, "gaps": gaps, "breaches": breaches}
    if breaches:
        text = "; ".join(f"{b['label']} {b['feature']} {b['value']:.3f} > {b['threshold']:g} "
                         f"({b['groups'][0]} vs {b['groups'][1]})" for b in breaches[:3])
        return make("fairness", "failed", f"{len(breaches)} fairness gap(s) above threshold: {text}", **ev)
    missing = [f"{g['feature']} {gap}" for g in gaps for gap in limits if g[gap] is None]
    if missing:
        return make("fairness", "not_evaluated",
                    f"not evaluated: gap not computable (fewer than two groups with enough rows): "
                    f"{', '.join(missing[:5])}", **ev)
    return make("fairness", "passed", f"every fairness gap within its threshold over {len(gaps)} feature(s)", **ev)
