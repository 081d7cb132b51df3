"""Data quality (docs/analytics.md, 'Data quality'): what the ``quality`` command, the TUI's
quality tab and ``check``'s rules ``missing``, ``new_category``, ``range``, ``volume``,
``no_data`` and ``quarantine`` compute — one set of functions for all three.

- **Per feature**, one model version over a window against its reference (the registered
  reference file, or a window of logs, as for drift): the missing share on both sides and its
  rise; for a categorical feature the share of current values in categories the reference
  never had (``unseen_share``); for a numeric one the share of current values outside the
  reference's ``[min, max]`` (``out_of_range_share``). The registry holds no value bounds
  (docs/formats.md, 'Registry'), so the range is always the reference's. Values are read as
  drift reads them (``driftdata``: the store's parts, else SQL), so "missing" means the same
  (null, and for numeric features NaN/±inf).
- **Volume**, per model (every version): the rows of the latest ``volume_window`` against the
  median of the earlier windows of the same length in the trailing ``volume_lookback`` (those
  that start after the model's first record). The windows end at the newest record of the
  whole workspace (not after the clock): a model that fell silent while the others kept
  logging is ``no_data`` — never a window that simply ends at its own last record.
- **Quarantine rate**, per model: the quarantine view has no model column, so a quarantined
  record belongs to a model through its source file — only when every accepted row of that file
  is the model's. A file shared by several models (or with no accepted row) is skipped and its
  reason said; the rate is then bounded (every skipped record someone else's / the model's)
  and is "not evaluated" when the bounds straddle the threshold. Quarantined records have no
  time: they count toward the window of their file (the files holding the model's rows in the
  window), over the whole file.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import numpy as np

from console import clock
from console.analytics import driftdata
from console.analytics import windows as W
from console.analytics.config import AlertsConfig, AnalyticsConfig, config_for
from console.analytics.source import (
    Scope,
    StoreLike,
    aware,
    columns_of,
    data_range,
    model_features,
    naive,
    report_range,
    resolve_version,
)
from console.errors import InputUnreadable, NotComputable, UsageError

MIN_BASELINE = 3  # earlier windows of traffic the volume rule needs
TOP_UNSEEN = 10  # unseen categories named per feature


# -- per feature ------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def feature_entry(name: str, kind: str, ref: driftdata.Column | None, cur: driftdata.Column) -> dict[str, Any]:
    """One feature's numbers from both sides' values (``ref=None``: not in the reference)."""
    out: dict[str, Any] = {
        "feature": name, "kind": kind, "reference_missing_share": None,
        "current_missing_share": cur.missing_share, "missing_rise": None,
        "current_values": None, "unseen_share": None, "unseen_values": None,
        "out_of_range_share": None, "reference_min": None, "reference_max": None, "note": None,
    }
    if ref is None:
        out["note"] = "not in the reference"
        return out
    out["reference_missing_share"] = ref.missing_share
    if ref.missing_share is not None and cur.missing_share is not None:
        out["missing_rise"] = cur.missing_share - ref.missing_share
    if kind == "numeric":
        size = cur.rows - cur.missing  # its finite values
        out["current_values"] = size
        bounds = reference_bounds(ref)
        if bounds is None:
            out["note"] = "no values in the reference"
            return out
        lo, hi = out["reference_min"], out["reference_max"] = bounds
        if cur.outside is not None:  # read against these bounds (``feature_quality``)
            below, above = cur.outside
        else:
            values = cur.values if cur.values is not None else np.empty(0)
            below = int(np.searchsorted(values, lo, side="left"))
            above = int(values.size - np.searchsorted(values, hi, side="right"))
        out["out_of_range_share"] = _share(below + above, size)
        out["below_min"], out["above_max"] = below, above
    else:
        counts = cur.counts or {}
        seen = ref.counts or {}
        total = sum(counts.values())
        out["current_values"] = total
        if not seen:
            out["note"] = "no values in the reference"
            return out
        unseen = {v: c for v, c in counts.items() if v not in seen}
        out["unseen_share"] = _share(sum(unseen.values()), total)
        top = sorted(unseen.items(), key=lambda vc: (-vc[1], vc[0]))[:TOP_UNSEEN]
        out["unseen_values"] = [{"value": v, "count": c} for v, c in top]
    return out


def reference_bounds(ref: driftdata.Column | None) -> tuple[float, float] | None:
    """The reference's ``[min, max]`` of a numeric column (``None``: no finite value)."""
    if ref is None or ref.values is None or ref.values.size == 0:
        return None
    return float(ref.values[0]), float(ref.values[-1])  # sorted finite values


def flags(entry: dict[str, Any], a: AlertsConfig, rows: int) -> list[str]:
    """The rules a feature's entry breaches (``missing``, ``new_category``, ``range``), with
    the thresholds of ``a``; none when the window has fewer than ``min_requests`` rows (or the
    feature fewer than that many values, for the shares of values)."""
    out: list[str] = []
    if rows < a.min_requests:
        return out
    rise = entry.get("missing_rise")
    if a.missing and rise is not None and rise > a.missing_rise:
        out.append("missing")
    enough = (entry.get("current_values") or 0) >= a.min_requests
    unseen = entry.get("unseen_share")
    if a.new_category and enough and unseen is not None and unseen > a.new_category_share:
        out.append("new_category")
    outside = entry.get("out_of_range_share")
    if a.range and enough and outside is not None and outside > a.range_share:
        out.append("range")
    return out


def _features(db: StoreLike, model: str, version: str) -> list[tuple[str, str, str]]:
    """``(feature, column, kind)``: the version's declared features when it declares any (as
    drift tests them), else every catalogued feature of the model; kind known only."""
    feats = [f for f in model_features(db, model, version) if f[2] in ("numeric", "categorical")]
    info = db.registry.get(model, version)
    if info is not None and info.features:
        feats = [f for f in feats if f[0] in info.features]
    return feats


def _view_columns(db: StoreLike) -> set[str]:
    """Columns of the ``predictions`` view, remembered with the snapshot."""
    return set(db.memo.compute(("columns", "predictions"), lambda: columns_of(db, "predictions")))


def _current(db: StoreLike, model: str, version: str, start, end, cols, bounds) -> driftdata.SideData:
    """The rows of ``version`` in ``[start, end)``: the store's parts, else SQL; numeric columns
    with ``bounds`` (the reference's) counted against them, not kept. A declared feature that
    was never logged (no column in the view) is all missing, as the parts read it."""
    index = driftdata.PartsIndex.of(db, model)
    if index is not None:
        try:
            return driftdata.read_windows(index, version, [(start, end)], cols, bounds)[0]
        except driftdata.Unsupported:
            pass
    have = _view_columns(db)
    cur = db.cursor()
    try:
        cond, params = Scope(model, version, start, end).where()
        side = driftdata.sql_side(cur, "predictions", cond, params, [(c, k) for c, k in cols if c in have],
                                  {c: b for c, b in bounds.items() if c in have})
    finally:
        cur.close()
    for c, k in cols:
        if c not in have:
            side.columns[c] = driftdata.Column(k, side.rows, side.rows, values=np.empty(0) if k == "numeric" else None,
                                               counts=None if k == "numeric" else {})
    return side


def feature_quality(
    db: StoreLike, model: str, version: str, start: dt.datetime, end: dt.datetime,
    config: AnalyticsConfig, reference_start: dt.datetime | None = None,
    reference_end: dt.datetime | None = None, current: Any = None,
) -> dict[str, Any]:
    """``{"reference", "current", "features"}`` of ``version`` in ``[start, end)``;
    ``UsageError`` when it has no reference (as drift), ``InputUnreadable`` when the reference
    cannot be read. ``current(feats, bounds)`` (``feats``: ``(feature, column, kind)``;
    ``bounds``: the reference's per numeric column) gives the window's side instead of reading
    its rows — a ``driftdata.SideData`` keyed by column, numeric columns with ``outside`` —
    or ``None`` when it cannot (the rows are read): the daily profiles' (console.profiles)."""
    from console.analytics.drift import load_reference, side_data

    feats = _features(db, model, version)
    kinds = {name: kind for name, _, kind in feats}
    cur = db.cursor()
    try:
        reference, ref_info = load_reference(db, cur, model, version, kinds, reference_start, reference_end)
    finally:
        cur.close()
    try:
        if reference.table is not None:
            ref_names = set(reference.table.column_names)
        elif reference.parquet is not None:
            import pyarrow.parquet as pq

            ref_names = set(pq.read_schema(reference.parquet).names)
        else:
            ref_names = _view_columns(db)  # a window of logs: the view's own columns
        ref_cols = [(c, k) for _, c, k in feats if c in ref_names]
        key = (db.memo.namespace, reference.fingerprint, "quality", tuple(ref_cols))
        ref = (driftdata.remembered(key, lambda: side_data(db, reference, ref_cols)) if config.cache
               else side_data(db, reference, ref_cols))
    finally:
        reference.ready()
    bounds = {col: b for _, col, kind in feats if kind == "numeric" and col in ref_names
              and (b := reference_bounds(ref.columns.get(col))) is not None}
    now = current(feats, bounds) if current is not None else None
    if now is None:
        now = _current(db, model, version, start, end, [(c, k) for _, c, k in feats], bounds)
    entries = [feature_entry(name, kind, ref.columns.get(col) if col in ref_names else None, now.columns[col])
               for name, col, kind in feats]
    info = dict(ref_info)
    info["rows"] = ref.rows if info.get("rows") is None else info["rows"]
    return {"reference": info, "current": {"rows": now.rows, "start": W.iso(start), "end": W.iso(end)},
            "features": entries}


# -- volume -----------------------------------------------------------------------------------


def fleet_latest(db: StoreLike) -> dt.datetime | None:
    """The newest record of the whole workspace not after ``console.clock.now()``: where the
    volume windows end (so a model that went silent has an empty window)."""
    from console.analytics.cache import per_batch

    def compute() -> dt.datetime | None:
        row = db.cursor().execute("SELECT max(ts) FROM predictions WHERE ts <= ?",
                                  [naive(clock.now())]).fetchall()[0]
        return aware(row[0])

    return per_batch(db, {"k": "fleet-latest", "now": str(clock.now())}, compute)


def volume(db: StoreLike, model: str, end: dt.datetime, a: AlertsConfig,
           size: int | None = None) -> dict[str, Any]:
    """The rows of ``model`` (every version) in ``[end - size, end)`` against the median of the
    earlier windows of that length in the trailing ``volume_lookback``:
    ``{"window", "start", "end", "rows", "baseline": {...}, "ratio", "status", "reason"}``,
    ``status`` one of ``ok``, ``drop``, ``spike``, ``no_data``, ``not_evaluated``."""
    size = size or W.parse_window(a.volume_window, "1d") or 86400
    lookback = W.parse_window(a.volume_lookback, "28d") or 28 * 86400
    n = max(1, lookback // size)
    step = dt.timedelta(seconds=size)
    start = end - step
    lo = end - (n + 1) * step
    size_us = size * 1_000_000
    rows = db.cursor().execute(
        "SELECT (epoch_us(ts) - ?) // ? AS k, count(*) FROM predictions "
        "WHERE model = ? AND ts >= ? AND ts < ? GROUP BY 1",
        [W.to_epoch_us(lo), size_us, model, naive(lo), naive(end)]).fetchall()
    counts = [0] * (n + 1)
    for k, c in rows:
        counts[int(k)] = int(c)
    current = counts[n]
    first = data_range(db, Scope(model, None))[0]
    earlier = [(lo + k * step, counts[k]) for k in range(n)]
    lifetime = [c for s, c in earlier if first is not None and s >= first]
    out: dict[str, Any] = {
        "window": W.size_label(size), "lookback": W.size_label(n * size), "start": W.iso(start),
        "end": W.iso(end), "rows": current,
        "baseline": {"windows": len(lifetime), "median": None, "with_traffic": sum(1 for _, c in earlier if c)},
        "ratio": None, "drop": a.volume_drop, "spike": a.volume_spike, "status": "not_evaluated", "reason": None,
    }
    if current == 0:
        if out["baseline"]["with_traffic"]:
            out["status"] = "no_data"
            last = data_range(db, Scope(model, None, None, end))[1]
            out["last_record"] = W.iso(last)
        else:
            out["reason"] = f"no traffic in the last {W.size_label((n + 1) * size)}"
        return out
    if len(lifetime) < MIN_BASELINE:
        out["reason"] = (f"{len(lifetime)} earlier {W.size_label(size)} window(s) of traffic "
                         f"({MIN_BASELINE} needed)")
        return out
    median = float(statistics.median(lifetime))
    out["baseline"]["median"] = median
    if median < a.min_requests:
        out["reason"] = f"baseline median {median:g} rows < min_requests {a.min_requests}"
        return out
    ratio = current / median
    out["ratio"] = ratio
    out["status"] = "drop" if ratio < a.volume_drop else "spike" if ratio > a.volume_spike else "ok"
    return out


# -- quarantine -------------------------------------------------------------------------------


def quarantine(db: StoreLike, model: str, start: dt.datetime | None, end: dt.datetime | None,
               a: AlertsConfig) -> dict[str, Any]:
    """The quarantine rate of ``model``'s source files in ``[start, end)`` (the files holding
    its accepted rows there): ``{"files", "quarantined", "rows", "rate", "rate_max", "status",
    "reason"}``; each file ``{"source", "rows", "quarantined", "models", "attributed",
    "reason"}``. ``status``: ``ok``, ``high``, ``not_evaluated``."""
    cond, params = Scope(model, None, start, end).where("p.")
    found = db.cursor().execute(f"""
        WITH files AS (SELECT DISTINCT p.source FROM predictions p WHERE {cond}),
        acc AS (SELECT p.source, p.model, count(*) AS n FROM predictions p JOIN files USING (source)
                GROUP BY 1, 2),
        q AS (SELECT source, count(*) AS n FROM quarantine WHERE kind = 'predictions' GROUP BY 1)
        SELECT f.source,
               coalesce((SELECT sum(n) FROM acc WHERE acc.source = f.source AND acc.model = ?), 0),
               coalesce((SELECT n FROM q WHERE q.source = f.source), 0),
               (SELECT list(acc.model ORDER BY acc.model) FROM acc WHERE acc.source = f.source)
        FROM files f ORDER BY 1""", [*params, model]).fetchall()
    files: list[dict[str, Any]] = []
    q_own = q_other = n_own = 0
    for source, own, quarantined, models in found:
        models = list(models or [])
        shared = [m for m in models if m != model]
        entry = {"source": source, "rows": int(own), "quarantined": int(quarantined), "models": models,
                 "attributed": True, "reason": None}
        n_own += int(own)
        if quarantined and shared:
            entry["attributed"] = False
            entry["reason"] = (f"its accepted rows belong to {len(models)} models ({', '.join(models[:4])}"
                               + (" …" if len(models) > 4 else "") + "): its quarantined records cannot be attributed")
            q_other += int(quarantined)
        else:
            q_own += int(quarantined)
        files.append(entry)
    skipped = [f for f in files if not f["attributed"]]
    out: dict[str, Any] = {
        "start": W.iso(start), "end": W.iso(end), "files": files, "quarantined": q_own, "unattributed": q_other,
        "rows": n_own, "rate": None, "rate_max": None, "threshold": a.quarantine_rate,
        "status": "not_evaluated", "reason": None,
    }
    if not files:
        out["reason"] = "no traffic in the window"
        return out
    lo = _share(q_own, n_own + q_own)
    hi = _share(q_own + q_other, n_own + q_own + q_other)
    out["rate"], out["rate_max"] = lo, hi
    if lo is not None and lo > a.quarantine_rate:
        out["status"] = "high"
    elif hi is not None and hi <= a.quarantine_rate:
        out["status"] = "ok"
    else:
        first = skipped[0]
        out["reason"] = (f"{q_other} quarantined record(s) in {len(skipped)} file(s) shared with other models "
                         f"cannot be attributed ({first['source']}: {first['reason']})")
    return out


# -- the report -------------------------------------------------------------------------------


def quality_report(
    db: StoreLike,
    model: str,
    version: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    reference_start: dt.datetime | None = None,
    reference_end: dt.datetime | None = None,
    config: AnalyticsConfig | None = None,
    volume_latest: bool = False,
) -> dict[str, Any]:
    """Data quality of one model version (default: production) in ``[start, end)`` (default:
    its data's range) against its reference, with the model's volume (the latest
    ``volume_window`` ending at ``end``, else — or with ``volume_latest``, as the TUI asks,
    whose windows end at the model's own newest data — at the workspace's newest record) and the
    quarantine rate of its files in the range. Shaped as ``quality --format json``
    (docs/formats.md). A part that cannot be computed for want of input (no reference, no
    traffic) says why in its ``note``/``reason``; an unreadable input raises."""
    start, end = aware(start), aware(end)
    reference_start, reference_end = aware(reference_start), aware(reference_end)
    version = resolve_version(db, model, version)
    if config is None:
        config = config_for(db, model)
    a = config.alerts
    rng = report_range(db, Scope(model, version, start, end))
    out: dict[str, Any] = {
        "model": model, "version": version, "start": None, "end": None,
        "thresholds": {"missing_rise": a.missing_rise, "new_category_share": a.new_category_share,
                       "range_share": a.range_share, "volume_drop": a.volume_drop, "volume_spike": a.volume_spike,
                       "quarantine_rate": a.quarantine_rate, "min_requests": a.min_requests},
        "bounds": "reference",
        "reference": None, "current": {"rows": 0, "start": None, "end": None}, "features": [], "note": None,
    }
    if rng is None:
        out["note"] = "no traffic in the range"
    else:
        lo, hi = rng
        out["start"], out["end"] = W.iso(lo), W.iso(hi)
        try:
            part = feature_quality(db, model, version, lo, hi, config, reference_start, reference_end)
        except InputUnreadable:
            raise
        except UsageError as exc:  # no reference: said, the volume and quarantine still reported
            out["note"] = str(exc)
            if isinstance(exc, NotComputable):  # the reason alone, for a screen (no CLI options)
                out["not_computed"] = exc.reason
            # the rows are there all the same: counted, never reported as 0
            out["current"] = {"rows": _current(db, model, version, lo, hi, [], {}).rows,
                              "start": W.iso(lo), "end": W.iso(hi)}
        else:
            out.update(part)
            rows = part["current"]["rows"]
            for e in out["features"]:
                e["flags"] = flags(e, a, rows)
            if rows < a.min_requests:
                out["note"] = f"{rows} rows in the range: flags need min_requests = {a.min_requests}"
    anchor = end if end is not None and not volume_latest else model_volume_anchor(db)
    if anchor is not None:
        out["volume"] = volume(db, model, anchor, a)
    else:
        out["volume"] = {"status": "not_evaluated", "reason": "no traffic in the workspace", "rows": 0}
    q_lo, q_hi = rng if rng is not None else (start, end)
    out["quarantine"] = quarantine(db, model, q_lo, q_hi, a)
    return out


def model_volume_anchor(db: StoreLike) -> dt.datetime | None:
    """Where ``check``'s volume windows end: one microsecond after the workspace's newest record."""
    hi = fleet_latest(db)
    return None if hi is None else hi + dt.timedelta(microseconds=1)


# -- check's rules (console/analytics/alerts.py) ----------------------------------------------

QUALITY_KINDS = ["missing", "new_category", "range"]  # per feature, the production version's window
VOLUME_KINDS = ["volume", "no_data"]  # per model, every version


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _named(items: list[str], most: int = 4) -> str:
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


def feature_alerts(model: str, version: str, part: dict[str, Any], a: AlertsConfig, lo, hi, alert) -> list[dict]:
    """The ``missing``, ``new_category`` and ``range`` alerts of one window's
    ``feature_quality``: one alert per kind naming its features, worst first. ``UsageError``
    (not evaluated) when the window has fewer than ``min_requests`` rows."""
    rows = part["current"]["rows"]
    if rows < a.min_requests:
        raise UsageError(f"{rows} rows in the window (the data-quality rules need min_requests = {a.min_requests})")
    flagged = {e["feature"]: flags(e, a, rows) for e in part["features"]}
    ref_rows = (part.get("reference") or {}).get("rows")
    src = part.get("source", "exact")  # "profiles": whole days merged from the daily profiles
    whence = " — from daily profiles" if src == "profiles" else ""
    out: list[dict] = []

    def hit(kind: str, key: str) -> list[dict]:
        return sorted((e for e in part["features"] if kind in flagged[e["feature"]]), key=lambda e: -e[key])

    feats = hit("missing", "missing_rise")
    if feats:
        said = [f"{e['feature']} {_pct(e['reference_missing_share'])} → {_pct(e['current_missing_share'])}"
                for e in feats]
        out.append(alert(model, version, "missing", "warning",
                         f"missing values up in {len(feats)} feature(s): {_named(said)} "
                         f"(rise > {_pct(a.missing_rise)}){whence}", lo, hi, threshold=a.missing_rise,
                         current_rows=rows, reference_rows=ref_rows, source=src,
                         features=[{k: e[k] for k in ("feature", "reference_missing_share",
                                                      "current_missing_share", "missing_rise")} for e in feats]))
    feats = hit("new_category", "unseen_share")
    if feats:
        said = [f"{e['feature']} {_pct(e['unseen_share'])}"
                + (f" ({e['unseen_values'][0]['value']!s}…)" if e.get("unseen_values") else "") for e in feats]
        out.append(alert(model, version, "new_category", "warning",
                         f"categories the reference never had in {len(feats)} feature(s): {_named(said)} of values "
                         f"(> {_pct(a.new_category_share)}){whence}", lo, hi, threshold=a.new_category_share,
                         current_rows=rows, reference_rows=ref_rows, source=src,
                         features=[{k: e[k] for k in ("feature", "unseen_share", "unseen_values", "current_values")}
                                   for e in feats]))
    feats = hit("range", "out_of_range_share")
    if feats:
        said = [f"{e['feature']} {_pct(e['out_of_range_share'])}" for e in feats]
        out.append(alert(model, version, "range", "warning",
                         f"values outside the reference's [min, max] in {len(feats)} feature(s): {_named(said)} "
                         f"(> {_pct(a.range_share)}){whence}", lo, hi, threshold=a.range_share,
                         current_rows=rows, reference_rows=ref_rows, source=src,
                         features=[{k: e[k] for k in ("feature", "out_of_range_share", "reference_min",
                                                      "reference_max", "current_values")} for e in feats]))
    return out


def volume_alerts(db: StoreLike, model: str, a: AlertsConfig, lo, hi, alert) -> list[dict]:
    """``no_data`` (critical) or a ``volume`` drop/spike (warning) of the window ``[lo, hi)``;
    ``UsageError`` (not evaluated) with the reason when the baseline is too thin."""
    v = volume(db, model, hi, a, size=int((hi - lo).total_seconds()))
    ev = dict(rows=v["rows"], window=v["window"], lookback=v["lookback"], baseline_median=v["baseline"]["median"],
              baseline_windows=v["baseline"]["windows"], ratio=v["ratio"], drop=a.volume_drop, spike=a.volume_spike)
    if v["status"] == "no_data":
        if not a.no_data:
            return []
        return [alert(model, None, "no_data", "critical",
                      f"no data in the last {v['window']} (last record {v.get('last_record')}); "
                      f"{v['baseline']['with_traffic']} earlier {v['window']} window(s) of the last {v['lookback']} "
                      "had traffic", lo, hi, last_record=v.get("last_record"),
                      windows_with_traffic=v["baseline"]["with_traffic"], **ev)]
    if v["status"] == "not_evaluated":
        raise UsageError(v["reason"])
    if v["status"] in ("drop", "spike") and a.volume:
        bound = (f"< {a.volume_drop:g}×" if v["status"] == "drop" else f"> {a.volume_spike:g}×")
        return [alert(model, None, "volume", "warning",
                      f"traffic {v['status']}: {v['rows']} rows in the last {v['window']} vs a median of "
                      f"{v['baseline']['median']:g} over the {v['baseline']['windows']} earlier windows "
                      f"({v['ratio']:.2f}× {bound})", lo, hi, subject=v["status"], **ev)]
    return []


def quarantine_alerts(db: StoreLike, model: str, a: AlertsConfig, lo, hi, alert) -> list[dict]:
    """The ``quarantine`` alert of the files of ``model``'s rows in ``[lo, hi)``; ``UsageError``
    (not evaluated) when the records that cannot be attributed could decide it."""
    q = quarantine(db, model, lo, hi, a)
    if q["status"] == "not_evaluated":
        raise UsageError(q["reason"])
    if q["status"] != "high":
        return []
    skipped = [f["source"] for f in q["files"] if not f["attributed"]]
    return [alert(model, None, "quarantine", "warning",
                  f"{_pct(q['rate'])} of the records of its {len(q['files'])} source file(s) quarantined "
                  f"({q['quarantined']} of {q['rows'] + q['quarantined']}; > {_pct(a.quarantine_rate)})"
                  + (f"; {len(skipped)} shared file(s) not attributed" if skipped else ""),
                  lo, hi, rate=q["rate"], rate_max=q["rate_max"], quarantined=q["quarantined"], rows=q["rows"],
                  threshold=a.quarantine_rate, files=[f["source"] for f in q["files"] if f["quarantined"]],
                  skipped_files=skipped)]


def summary_rows(rep: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows for table/csv output: one per feature."""
    return [{"feature": e["feature"], "kind": e["kind"], "missing_ref": e["reference_missing_share"],
             "missing_cur": e["current_missing_share"], "unseen": e["unseen_share"],
             "out_of_range": e["out_of_range_share"], "flags": ",".join(e.get("flags") or []) or None,
             "note": e.get("note")} for e in rep.get("features", [])]


__all__ = ["quality_report", "feature_quality", "volume", "quarantine", "flags", "fleet_latest",
           "model_volume_anchor", "summary_rows", "feature_alerts", "volume_alerts", "quarantine_alerts",
           "QUALITY_KINDS", "VOLUME_KINDS"]
