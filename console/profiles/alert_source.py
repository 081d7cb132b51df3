"""``check``'s window rules from the daily profiles (``analytics.alerts.WindowSource``;
docs/analytics.md, 'Alerts'): a version's feature drift (rule ``drift``) and data quality
(``missing``, ``new_category``, ``range``) over a window of whole days are a merge of its days'
profiles — O(days), not O(rows) — instead of reading every row of the window, which on a large
store was most of ``check``'s time and of the TUI's memory.

**When.** Only when the model's profiles are fresh (``local.profiles_fresh``: profiled for the
store's current batch), the window is whole days (``[alerts] window``, 7d by default), the
production version has a registered reference, and no record of the model is stamped after
the clock (its day would be merged too); for ``drift``, also ``[alerts] multivariate`` off (the
domain classifier needs the rows). Otherwise ``None``: the rule reads the rows, as it always did.

**What differs from the rows.**

- The window is the whole UTC days that cover it: from the midnight at or before its start to
  the midnight after the version's newest record (7 or 8 days for ``7d``, never fewer rows than
  the window itself), and ``since`` walks back in windows of that many days.
- Drift: each feature is tested as ``reader`` tests it from profiles (the report's Wasserstein
  on the merged sketch within its ``score_bound``, else the reference's bins, categories by
  the report's own test). The model's output is not profiled: its drift is the exact report's
  (``output_report``: one column of the same whole-day window).
- Data quality is exact: the missing counts are the rows' (null, NaN/±inf), a numeric
  feature's values below/above the reference's ``[min, max]`` are the profile's under/over
  bins (its edges run from that min to that max), and a categorical feature's unseen values
  are its merged counts. A window where that does not hold — a day's categories pooled past
  ``core.TOP_K``, a constant reference (NumPy widens its edges) — reads its rows.
- A day file that cannot be read (``local.ProfilesUnreadable``) sends the window to the rows
  too (the newest window's: the rule as before; ``profile`` writes the file again).

The alerts' ids are the same either way. Their evidence says ``"source": "profiles"`` (else
``"exact"``), and their ``detail`` ends with "— from daily profiles"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from console import clock
from console.analytics import windows as W
from console.analytics.source import future_rows
from console.profiles import core, local

DAY = 86400
RULES = ("drift", "data_quality")


def window_source(rule: str, db: Any, model: str, version: str, config: Any, start: dt.datetime,
                  end: dt.datetime) -> tuple[dt.datetime, dt.datetime, Any] | None:
    """``(lo, hi, report_at)`` for ``rule``'s window ``[start, end)`` (its size, ending just
    after the newest record) when the profiles can answer it (module docstring), else ``None``."""
    size = round((end - start).total_seconds())
    info = db.registry.get(model, version)
    if rule not in RULES or size % DAY or info is None or info.reference is None:
        return None
    if rule == "drift" and config.alerts.multivariate:
        return None
    if future_rows(db, model) is not None or not local.profiles_fresh(db, [model]):
        return None
    # the whole days that cover the window: never fewer rows than it holds (a 1d window just
    # after midnight would otherwise be minutes of data)
    newest = end - dt.timedelta(microseconds=1)
    hi = dt.datetime.combine(newest.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    lo = dt.datetime.combine(clock.as_utc(start).date(), dt.time(), dt.UTC)
    try:  # damaged day files: the rule reads the rows, as before
        local.read_profiles(local.profiles_dir(db), model=model, version=version, start=lo.date(),
                            end=hi.date(), ordered=False)
    except local.ProfilesUnreadable:
        return None
    report = drift_at if rule == "drift" else quality_at
    return lo, hi, lambda a, b: report(db, model, version, config, a, b)


def drift_at(db: Any, model: str, version: str, config: Any, lo: dt.datetime, hi: dt.datetime) -> dict[str, Any]:
    """``drift_report``'s shape for the whole days ``[lo, hi)``: the features from the
    profiles, the output exact (only when the ``output_drift`` rule is on)."""
    from console.analytics.drift import drift_report, output_report
    from console.profiles import reader

    try:
        row = reader.windows_from_profiles(db, model, version, [W.Window(lo, hi, lo)], fresh=False)[0]
    except local.ProfilesUnreadable:  # an earlier window's damaged day: its rows
        return {**drift_report(db, model, version, lo, hi, config=config, multivariate=False), "source": "exact"}
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


def quality_at(db: Any, model: str, version: str, config: Any, lo: dt.datetime, hi: dt.datetime) -> dict[str, Any]:
    """``feature_quality``'s report for the whole days ``[lo, hi)``, its current side from the
    merged profiles (``"source": "profiles"``), or from the rows where they cannot give it
    exactly (``"exact"``)."""
    from console.analytics.data_quality import feature_quality

    used: list[bool] = []

    def current(feats, bounds):
        try:
            side = _side(db, model, version, lo, hi, feats, bounds)
        except local.ProfilesUnreadable:  # a damaged day file: the rows
            side = None
        used.append(side is not None)
        return side

    rep = feature_quality(db, model, version, lo, hi, config, current=current)
    return {**rep, "source": "profiles" if all(used) else "exact"}


def _side(db: Any, model: str, version: str, lo: dt.datetime, hi: dt.datetime, feats, bounds) -> Any:
    """The window's ``driftdata.SideData`` from the merged profiles: per column its rows,
    missing values, and numeric values outside ``bounds`` or categorical counts — ``None`` when
    the profiles cannot give one of them exactly."""
    from console.analytics.driftdata import Column, SideData

    m = core.merge(local.read_profiles(local.profiles_dir(db), model=model, version=version, start=lo.date(),
                                       end=hi.date(), ordered=False))  # the days of [lo, hi): whole days
    rows = int(m.get("rows"))
    cols: dict[str, Column] = {}
    for name, col, kind in feats:
        missing = m.get("missing", name) + m.get("type_error", name)
        if kind == "numeric":
            outside = (0, 0)
            if col in bounds:
                edges, counts = core.hist_counts(m, name)
                if len(edges) < 2 or (edges[0], edges[-1]) != tuple(bounds[col]):
                    return None  # not the reference's [min, max]: the rows say
                outside = (counts[0], counts[-1])
            cols[col] = Column("numeric", rows, missing, outside=outside)
        else:
            counts = m.keyed("category", name)
            if core.OTHER in counts:
                return None  # a day's values pooled past TOP_K: the unseen ones are not all known
            cols[col] = Column("categorical", rows, missing, counts=counts)
    return SideData(rows, cols)


__all__ = ["drift_at", "quality_at", "window_source"]
