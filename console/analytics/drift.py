"""Data drift (CONTRACT §7): per feature the Evidently-0.7-compatible default test, extra
statistics, the model's output drift, the dataset-drift share, and (optionally) the multivariate
domain classifier.

Data movement: numeric columns come out of DuckDB as one NumPy array per feature and side (nulls
and ±inf dropped in SQL), are sorted once, and every numeric statistic reuses the sorted arrays;
categorical columns come back as ``GROUP BY`` counts. Per-feature results are cached by the
data fingerprint of both sides (see ``cache``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from console.analytics import stats
from console.analytics.cache import cache_for
from console.analytics.config import AnalyticsConfig, DriftConfig, config_for
from console.analytics.source import (
    Scope,
    StoreLike,
    aware,
    model_features,
    quote,
    report_range,
    resolve_version,
)
from console.analytics.windows import iso
from console.errors import UsageError

OUTPUT = "__output__"
DRIFT_THREADS = 2


@dataclass
class Side:
    """One side of a comparison: a SQL relation (with a WHERE) and its identity for caching."""

    relation: str
    where: str
    params: list[Any]
    fingerprint: str
    rows: int

    def sql(self, select: str, extra: str = "") -> tuple[str, list[Any]]:
        cond = self.where + (f" AND {extra}" if extra else "")
        return f"SELECT {select} FROM {self.relation} WHERE {cond}", self.params


def _numeric_values(cur, side: Side, col: str) -> np.ndarray:
    sql, params = side.sql(f"{quote(col)}::DOUBLE AS v", f"isfinite({quote(col)}::DOUBLE)")
    arr = cur.execute(sql, params).fetchnumpy()["v"]
    arr = np.asarray(arr, dtype=np.float64)
    arr.sort(kind="quicksort")
    return arr


def _counts(cur, side: Side, col: str) -> dict[str, int]:
    sql, params = side.sql(f"{quote(col)}::VARCHAR AS v, count(*) AS n", f"{quote(col)} IS NOT NULL")
    rows = cur.execute(sql + " GROUP BY 1", params).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def missing_shares(cur, side: Side, cols: list[tuple[str, str]]) -> dict[str, float | None]:
    """Share of null (and, for numeric columns, NaN/±inf) values per column, in one scan."""
    if side.rows == 0 or not cols:
        return {c: None for c, _ in cols}
    parts = []
    for col, kind in cols:
        test = f" OR NOT isfinite({quote(col)}::DOUBLE)" if kind == "numeric" else ""
        parts.append(f"count(*) FILTER (WHERE {quote(col)} IS NULL{test})")
    sql, params = side.sql(", ".join(parts))
    row = cur.execute(sql, params).fetchall()[0]
    return {c: int(n) / side.rows for (c, _), n in zip(cols, row, strict=True)}


def feature_drift(
    cur, ref: Side, curr: Side, name: str, col: str, kind: str, ref_col: str | None,
    rule_method: str, rule_threshold: float | None,
    missing: tuple[float | None, float | None] | None = None,
) -> dict[str, Any]:
    """One feature's (or the output's) drift entry."""
    numeric = kind == "numeric"
    entry: dict[str, Any] = {"feature": name, "kind": kind, "method": None, "score": None,
                             "threshold": None, "drifted": False, "stats": {}}
    if ref_col is None:
        entry["note"] = "not in the reference"
        return entry
    if missing is None:
        ref_missing = missing_shares(cur, ref, [(ref_col, kind)])[ref_col]
        cur_missing = missing_shares(cur, curr, [(col, kind)])[col]
    else:
        ref_missing, cur_missing = missing
    st: dict[str, Any] = {"missing_share_reference": ref_missing, "missing_share_current": cur_missing}
    entry["stats"] = st
    if numeric:
        a = _numeric_values(cur, ref, ref_col)
        b = _numeric_values(cur, curr, col)
        st.update({"reference_values": int(a.size), "current_values": int(b.size)})
        if a.size == 0 or b.size == 0:
            entry["note"] = "no values in the " + ("reference" if a.size == 0 else "current data")
            return entry
        comp = stats.compare_numeric(a, b)
        n_distinct = comp.distinct
        r_sh, c_sh = stats.binned_shares_numeric(a, b)
        st["histogram"] = distribution(a, b, None, None)
        st.update({
            "ks": comp.ks, "ks_pvalue": comp.ks_pvalue, "wasserstein": comp.wasserstein,
            "wasserstein_normed": comp.wasserstein_normed, "psi": stats.psi(r_sh, c_sh),
            "jensenshannon": stats.jensenshannon(r_sh, c_sh),
            "reference_mean": float(a.mean()), "current_mean": float(b.mean()),
            "distinct": n_distinct,
        })
        ref_counts = cur_counts = None
        if n_distinct <= 5:
            ref_counts, cur_counts = stats.counts_from_sorted(a), stats.counts_from_sorted(b)
            st["chisquare_pvalue"] = stats.chisquare_test(ref_counts, cur_counts)
            if n_distinct <= 2:
                st["z_pvalue"] = stats.z_test(ref_counts, cur_counts)
        n_ref = int(a.size)
    else:
        ref_counts = _counts(cur, ref, ref_col)
        cur_counts = _counts(cur, curr, col)
        n_ref = sum(ref_counts.values())
        st.update({"reference_values": n_ref, "current_values": sum(cur_counts.values())})
        if not ref_counts or not cur_counts:
            entry["note"] = "no values in the " + ("reference" if not ref_counts else "current data")
            return entry
        n_distinct = len(set(ref_counts) | set(cur_counts))
        st.update(stats.compare_categorical(ref_counts, cur_counts))
        st["histogram"] = distribution(None, None, ref_counts, cur_counts)
        st["distinct"] = n_distinct
        st["new_categories"] = sorted(set(cur_counts) - set(ref_counts))[:20]
    method = rule_method
    if method == "auto":
        method = stats.default_method(kind, n_ref, n_distinct)
    score = _score(method, st, numeric, a if numeric else None, b if numeric else None,
                   ref_counts, cur_counts)
    threshold = rule_threshold if rule_threshold is not None else stats.DEFAULT_THRESHOLDS[method]
    entry.update({"method": method, "score": score, "threshold": threshold,
                  "drifted": bool(stats.is_drift(method, score, threshold))})
    return entry


def distribution(a, b, ref_counts, cur_counts, max_bars: int = 12) -> dict[str, Any]:
    """Reference and current shares for display (the TUI's distribution plot): Sturges bins
    of numeric values (labelled by their lower edge), else the most common categories."""
    if a is not None:
        if stats.n_distinct_sorted(a) > stats.BINNING_DISTINCT_MIN:
            edges = stats.sturges_edges(a, b)
            ref = stats.histogram_sorted(a, edges) / a.size
            cur = stats.histogram_sorted(b, edges) / b.size
            return {"labels": [float(e) for e in edges[:-1]], "edges": [float(e) for e in edges],
                    "reference": [float(x) for x in ref], "current": [float(x) for x in cur]}
        ref_counts, cur_counts = stats.counts_from_sorted(a), stats.counts_from_sorted(b)
    keys, ref, cur = stats.category_shares(ref_counts, cur_counts)
    order = sorted(range(len(keys)), key=lambda i: -(ref[i] + cur[i]))[:max_bars]
    return {"labels": [str(keys[i]) for i in order], "reference": [float(ref[i]) for i in order],
            "current": [float(cur[i]) for i in order]}


def _score(method, st, numeric, a, b, ref_counts, cur_counts) -> float:
    if method == "ks":
        if not numeric:
            raise UsageError("drift method 'ks' needs a numeric feature")
        return st["ks_pvalue"]
    if method == "wasserstein":
        if not numeric:
            raise UsageError("drift method 'wasserstein' needs a numeric feature")
        return st["wasserstein_normed"]
    if method in ("jensenshannon", "psi"):
        return st[method]
    if ref_counts is None:  # chisquare / z asked for a numeric feature with many values
        ref_counts, cur_counts = stats.counts_from_sorted(a), stats.counts_from_sorted(b)
    if method == "chisquare":
        return stats.chisquare_test(ref_counts, cur_counts)
    return stats.z_test(ref_counts, cur_counts)


# -- reference ------------------------------------------------------------------------------


def _file_fingerprint(path: Path) -> str:
    s = path.stat()
    return f"{path}:{s.st_size}:{s.st_mtime_ns}"


def _side_fingerprint(cur, relation: str, where: str, params: list[Any]) -> tuple[int, str]:
    cols = columns_of_cursor(cur, relation)
    batch = "max(batch)" if "batch" in cols else "NULL"
    row = cur.execute(f"SELECT count(*), {batch}, max(ts) FROM {relation} WHERE {where}", params).fetchall()[0]
    return int(row[0]), f"{row[0]}:{row[1]}:{row[2]}"


def columns_of_cursor(cur, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in cur.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def load_reference(
    db: StoreLike, cur, model: str, version: str, kinds: dict[str, str],
    reference_start: dt.datetime | None, reference_end: dt.datetime | None,
) -> tuple[Side, dict[str, Any]]:
    """The reference side: a window of logs when asked, else the registered reference file."""
    if reference_start is not None or reference_end is not None:
        scope = Scope(model, version, reference_start, reference_end)
        cond, params = scope.where()
        rows, fp = _side_fingerprint(cur, "predictions", cond, params)
        info = {"source": "logs", "start": iso(reference_start), "end": iso(reference_end), "rows": rows}
        return Side("predictions", cond, params, "logs:" + fp, rows), info
    vinfo = db.registry.get(model, version)
    if vinfo is None or vinfo.reference is None:
        raise UsageError(
            f"{model} version {version} has no registered reference; "
            "pass --reference-start/--reference-end to use a window of logs"
        )
    path = Path(vinfo.reference)
    if not path.is_file():
        raise UsageError(f"reference file of {model} version {version} not found: {path}")
    kinds_id = hashlib.sha256(repr(sorted(kinds.items())).encode()).hexdigest()[:12]
    fingerprint = f"file:{_file_fingerprint(path)}:kinds={kinds_id}"  # kinds shape the columns
    info = {"source": str(vinfo.reference)}
    cached = _reference_cache_path(db, fingerprint)
    if cached is not None and cached.is_file():
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(cached).metadata.num_rows
        info["rows"] = rows
        return Side(f"read_parquet('{_sql_text(cached)}')", "true", [], fingerprint, rows), info
    from console.ingest.reader import read_records  # reading §2 files is ingest's job

    try:
        table = read_records(path, kinds)
    except Exception as exc:  # noqa: BLE001 - any unreadable reference is one clear line
        raise UsageError(f"cannot read reference {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    info["rows"] = table.num_rows
    if cached is not None:
        # keep a Parquet copy: later reports scan it with DuckDB instead of re-parsing the file
        try:
            import os
            import tempfile

            import pyarrow.parquet as pq

            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".tmp-", suffix=".parquet")
            os.close(fd)
            pq.write_table(table, tmp)
            os.replace(tmp, cached)
            del table
            return (Side(f"read_parquet('{_sql_text(cached)}')", "true", [], fingerprint, info["rows"]), info)
        except OSError:
            pass
    name = "ref_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    cur.register(name, table)
    return Side(name, "true", [], fingerprint, table.num_rows), info


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def _reference_cache_path(db: StoreLike, fingerprint: str) -> Path | None:
    ws = getattr(db, "ws", None)
    if ws is None:
        return None
    h = hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
    return Path(ws.store_dir) / "cache" / "analytics" / "reference" / f"{h}.parquet"


# -- the report -----------------------------------------------------------------------------


def drift_report(
    db: StoreLike,
    model: str,
    version: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    reference_start: dt.datetime | None = None,
    reference_end: dt.datetime | None = None,
    config: AnalyticsConfig | None = None,
    multivariate: bool | None = None,
    features: list[str] | None = None,
) -> dict[str, Any]:
    """CONTRACT §7 drift of one model version: current = its logs in ``[start, end)``."""
    start, end = aware(start), aware(end)
    reference_start, reference_end = aware(reference_start), aware(reference_end)
    version = resolve_version(db, model, version)
    if config is None:
        config = config_for(db, model)
    dcfg: DriftConfig = config.drift
    cur = db.cursor()
    scope = Scope(model, version, start, end)
    rng = report_range(db, scope)
    c_start, c_end = rng if rng else (start, end)
    cscope = Scope(model, version, c_start, c_end)
    cond, params = cscope.where()
    c_rows, c_fp = _side_fingerprint(cur, "predictions", cond, params)
    current = Side("predictions", cond, params, "cur:" + c_fp, c_rows)

    feats = model_features(db, model, version)
    if features:
        unknown = sorted(set(features) - {f[0] for f in feats})
        if unknown:
            raise UsageError(f"unknown feature {unknown[0]!r} of model {model!r}")
        feats = [f for f in feats if f[0] in features]
    else:
        # A version that declares its inputs is tested on those; other logged fields (another
        # version's inputs, request metadata) are not its features. `--feature` still reaches them.
        info = db.registry.get(model, version) if version is not None else None
        if info is not None and info.features:
            feats = [f for f in feats if f[0] in info.features]
    kinds = {f[0]: f[2] for f in feats}
    reference, ref_info = load_reference(db, cur, model, version, kinds, reference_start, reference_end)
    ref_cols = columns_of_cursor(cur, reference.relation)
    cur_cols = columns_of_cursor(cur, "predictions")

    cache = cache_for(db, config.cache)
    results: list[dict[str, Any] | None] = []
    todo: list[tuple[int, str, str, str, str | None, Any, dict[str, Any]]] = []
    for name, col, kind in feats:
        rule = dcfg.rule(name, kind)
        if not rule.enabled or col not in cur_cols:
            continue
        ref_col = col if col in ref_cols else None
        key = {"k": "drift-feature", "m": model, "v": version, "f": name, "kind": kind,
               "ref": reference.fingerprint, "cur": current.fingerprint,
               "rule": [rule.method, rule.threshold], "rows": [reference.rows, current.rows]}
        entry = cache.get(key) if current.rows and reference.rows else None
        if entry is None:
            todo.append((len(results), name, col, kind, ref_col, rule, key))
        results.append(entry)
    if todo:
        ref_missing = missing_shares(cur, reference, [(rc, k) for _, _, _, k, rc, _, _ in todo if rc is not None])
        cur_missing = missing_shares(cur, current, [(c, k) for _, _, c, k, _, _, _ in todo])

        def one(item) -> tuple[int, dict[str, Any]]:
            i, name, col, kind, ref_col, rule, key = item
            c = cur if shared_only else db.cursor()  # a cursor per thread
            entry = feature_drift(c, reference, current, name, col, kind, ref_col, rule.method,
                                  rule.threshold, (ref_missing.get(ref_col) if ref_col else None, cur_missing[col]))
            cache.put(key, entry)
            return i, entry

        # sorting, merging and DuckDB scans release the GIL: two features at a time use both
        # cores; a reference registered on this cursor only (no workspace) stays sequential
        shared_only = reference.relation.startswith("ref_")
        if shared_only or len(todo) < 2:
            done = [one(item) for item in todo]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=DRIFT_THREADS) as pool:
                done = list(pool.map(one, todo))
        for i, entry in done:
            results[i] = entry
    tested = [e for e in results if e["method"] is not None]
    tested_names = {e["feature"] for e in tested}
    drifted = sum(1 for e in tested if e["drifted"])
    share = drifted / len(tested) if tested else 0.0
    out: dict[str, Any] = {
        "model": model,
        "version": version,
        "reference": ref_info,
        "current": {"rows": current.rows, "start": iso(aware(c_start)), "end": iso(aware(c_end))},
        "features": results,
        "dataset_drift": {
            "share": share, "threshold": dcfg.share, "drifted": bool(tested) and share >= dcfg.share,
            "drifted_features": drifted, "tested_features": len(tested),
        },
    }
    if dcfg.output:
        out["output"] = _output_drift(db, cur, model, version, reference, current, ref_cols, cur_cols, dcfg, cache)
    use_mv = config.multivariate.enabled if multivariate is None else multivariate
    if use_mv and tested:
        from console.analytics.multivariate import domain_classifier

        cols = [(n, c, k) for n, c, k in feats if n in tested_names]
        key = {"k": "drift-multivariate", "m": model, "v": version, "ref": reference.fingerprint,
               "cur": current.fingerprint, "cols": cols, "cfg": repr(config.multivariate)}
        mv = cache.get(key)
        if mv is None:
            mv = domain_classifier(cur, reference, current, cols, config.multivariate)
            cache.put(key, mv)
        out["multivariate"] = mv
    return out


def _output_drift(db, cur, model, version, reference, current, ref_cols, cur_cols, dcfg, cache):
    """Drift of the model's output: ``score`` for binary models, else the prediction."""
    info = db.registry.get(model, version)
    task = info.task if info is not None else None
    if task == "binary" or (task is None and "score" in ref_cols):
        col, kind = "score", "numeric"
    elif task == "regression":
        col, kind = "prediction_num", "numeric"
    else:
        col, kind = "prediction", "categorical"
    if col not in cur_cols or col not in ref_cols:
        return None
    rule = dcfg.rule(OUTPUT, kind)
    key = {"k": "drift-output", "m": model, "v": version, "col": col,
           "ref": reference.fingerprint, "cur": current.fingerprint, "rule": [rule.method, rule.threshold]}
    entry = cache.get(key)
    if entry is None:
        entry = feature_drift(cur, reference, current, col, col, kind, col, rule.method, rule.threshold)
        cache.put(key, entry)
    return entry


def drift_features_summary(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows for table/csv output."""
    rows = []
    for e in report["features"] + ([report["output"]] if report.get("output") else []):
        s = e.get("stats", {})
        rows.append({
            "feature": e["feature"] if e is not report.get("output") else f"(output) {e['feature']}",
            "kind": e["kind"], "method": e["method"], "score": e["score"], "threshold": e["threshold"],
            "drifted": e["drifted"], "psi": s.get("psi"), "jensenshannon": s.get("jensenshannon"),
            "missing_ref": s.get("missing_share_reference"), "missing_cur": s.get("missing_share_current"),
        })
    return rows

