"""The ``check`` drift rule's reports from the daily profiles (``analytics.alerts.DriftSource``;
docs/analytics.md, 'Alerts'): a version's feature drift over a window of whole days is a merge
of its days' profiles — O(days), not O(rows) — instead of reading and sorting every row of the
window, which on a large store was most of ``check``'s time and of the TUI's memory.

**When.** Only when the model's profiles are fresh (``local.profiles_fresh``: profiled for the
store's current batch), the window is whole days (``[alerts] window``, 7d by default), the
production version has a registered reference, no record of the model is stamped after the
clock (its day would be merged too), and ``[alerts] multivariate`` is off (the domain
classifier needs the rows). Otherwise ``None``: the rule runs exactly, as it always did.

**What differs from the exact rule.**

- The window is the ``window``'s whole UTC days up to and including the day of the version's
  newest record (not ``window`` back from that record), and ``since`` walks back in windows of
  the same days.
- Each feature is tested as ``reader`` tests it from profiles (the report's Wasserstein on
  the merged sketch within its ``score_bound``, else the reference's bins, categories by the
  report's own test).
- The model's output is not profiled: its drift is the exact report's (``output_report``: one
  column of the same whole-day window).

The alerts' ids are the same either way. A drift alert's evidence says ``"source":
"profiles"`` (else ``"exact"``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from console.analytics import windows as W
from console.analytics.source import future_rows
from console.profiles import local

DAY = 86400


def drift_source(db: Any, model: str, version: str, config: Any, start: dt.datetime,
                 end: dt.datetime) -> tuple[dt.datetime, dt.datetime, Any] | None:
    """``(lo, hi, report_at)`` for the drift rule's window ``[start, end)`` (its size, ending
    just after the newest record) when the profiles can answer it (module docstring), else
    ``None``."""
    size = round((end - start).total_seconds())
    info = db.registry.get(model, version)
    if config.alerts.multivariate or size % DAY or info is None or info.reference is None:
        return None
    if future_rows(db, model) is not None or not local.profiles_fresh(db, [model]):
        return None
    newest = end - dt.timedelta(microseconds=1)
    hi = dt.datetime.combine(newest.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return hi - dt.timedelta(seconds=size), hi, lambda lo, up: report_at(db, model, version, config, lo, up)


def report_at(db: Any, model: str, version: str, config: Any, lo: dt.datetime, hi: dt.datetime) -> dict[str, Any]:
    """``drift_report``'s shape for the whole days ``[lo, hi)``: the features from the
    profiles, the output exact (only when the ``output_drift`` rule is on)."""
    from console.analytics.drift import output_report
    from console.profiles import reader

    row = reader.windows_from_profiles(db, model, version, [W.Window(lo, hi, lo)], fresh=False)[0]
    drift = row.get("drift") or {}
    rows = int(row.get("requests") or 0)
    dd = drift.get("dataset_drift") or {"share": 0.0, "threshold": config.drift.share, "drifted": False,
                                        "drifted_features": 0, "tested_features": 0}
    rep: dict[str, Any] = {"model": model, "version": version, "current": {"rows": rows, "start": W.iso(lo),
                                                                           "end": W.iso(hi)},
                           "features": drift.get("features") or [], "dataset_drift": dd, "source": "profiles"}
    if config.alerts.output_drift and rows:
        rep["output"] = output_report(db, model, version, lo, hi, config)
    return rep


__all__ = ["drift_source", "report_at"]
