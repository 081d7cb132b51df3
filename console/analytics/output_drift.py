"""The ``output_drift`` alert rule (``check``, docs/analytics.md, 'Alerts'): owns turning the
``output`` entry of a drift report (the drift of the model's score or prediction, tested by the
report's own method and threshold) into an alert.

Evaluated in the same window as the ``drift`` rule, from the same report; on when
``[alerts] output_drift = true`` (default), severity ``output_drift_severity`` (warning).
Evidence: ``column``, ``method``, ``score``, ``threshold``, ``current_rows``.
"""

from __future__ import annotations

from typing import Any


def output_drift_alerts(rep: dict[str, Any], a, start, end, make) -> list[dict[str, Any]]:
    """The output-drift alert of one drift report (``make`` builds an alert, alerts._alert)."""
    if not a.output_drift:
        return []
    out = rep.get("output")
    if not out or not out.get("drifted") or out.get("score") is None:
        return []
    return [make(rep["model"], rep["version"], "output_drift", a.output_drift_severity,
                 f"model output {out['feature']} drifted: {out['method']} {out['score']:.4g} "
                 f"(threshold {out['threshold']:.4g})",
                 start, end, subject="output", column=out["feature"], method=out["method"],
                 score=out["score"], threshold=out["threshold"], current_rows=rep["current"]["rows"])]
