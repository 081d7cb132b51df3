"""Data drift (docs/analytics.md, 'Drift'): per feature the Evidently-0.7-compatible default test, extra
statistics, the model's output drift, the dataset-drift share, and (optionally) the multivariate
domain classifier — for one window (``drift_report``) or many (``drift_windows``).

Data movement (``driftdata``): every tested column of a side comes out at once — from the
store's Parquet parts of the window's days, else in one SQL query — as sorted arrays of finite
values (numeric) and value counts (categorical); every statistic reuses them. The reference is
read once per process. Each window's report is cached whole, keyed by the parts its days hold
(no query needed to tell that a cached window is still right), the reference's fingerprint and
the rules; late data in a day recomputes that day's windows only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from console import allocators
from console.analytics import bins, driftdata, stats
from console.analytics import windows as W
from console.analytics.cache import Cache, cache_for
from console.analytics.config import AnalyticsConfig, DriftConfig, FeatureDriftRule, config_for
from console.analytics.driftdata import Column, SideData
from console.analytics.source import (
    Scope,
    StoreLike,
    aware,
    model_features,
    report_range,
    resolve_version,
)
from console.analytics.windows import iso
from console.errors import InputUnreadable, NotComputable, UsageError
from console.store.sql import literal

OUTPUT = "__output__"
DRIFT_THREADS = 2


@dataclass
class Side:
    """One side of a comparison: a SQL relation (with a WHERE), its identity for caching, and
    where its rows can be read faster (a Parquet file, an Arrow table, or the store's parts)."""

    relation: str
    where: str
    params: list[Any]
    fingerprint: str
    rows: int | None
    parquet: Path | None = None
    table: Any = None
    parts: tuple[Any, str, dt.datetime, dt.datetime] | None = None  # (PartsIndex, version, start, end)
    writer: Any = None  # the thread still writing ``parquet`` (the relation's file)

    def ready(self) -> Side:
        """Wait until the relation's file is written (a reference's Parquet copy)."""
        if self.writer is not None:
            self.writer.join()
            self.writer = None
        return self

    def sql(self, select: str, extra: str = "") -> tuple[str, list[Any]]:
        cond = self.where + (f" AND {extra}" if extra else "")
        return f"SELECT {select} FROM {self.relation} WHERE {cond}", self.params


# -- one column's entry -----------------------------------------------------------------------


def column_entry(
    name: str, kind: str, ref: Column | None, cur: Column, rule_method: str, rule_threshold: float | None,
) -> dict[str, Any]:
    """One feature's (or the output's) drift entry from both sides' values (``ref=None``: the
    reference has no such column)."""
    numeric = kind == "numeric"
    entry: dict[str, Any] = {"feature": name, "kind": kind, "method": None, "score": None,
                             "threshold": None, "drifted": False, "stats": {}}
    if ref is None:
        entry["note"] = "not in the reference"
        return entry
    st: dict[str, Any] = {"missing_share_reference": ref.missing_share, "missing_share_current": cur.missing_share}
    entry["stats"] = st
    a = b = None
    if numeric:
        a, b = ref.values, cur.values
        st.update({"reference_values": int(a.size), "current_values": int(b.size)})
        if a.size == 0 or b.size == 0:
            entry["note"] = "no values in the " + ("reference" if a.size == 0 else "current data")
            return entry
        ref_std = ref.memo("std", lambda: float(np.std(a)))
        comp = stats.compare_numeric(a, b, ref_std=ref_std)
        n_distinct = comp.distinct
        ref_distinct = ref.memo("distinct", lambda: stats.n_distinct_sorted(a))
        ref_counts = cur_counts = None
        if ref_distinct > stats.BINNING_DISTINCT_MIN:
            edges = stats.sturges_edges(a, b)
            r_sh = stats.histogram_sorted(a, edges) / a.size
            c_sh = stats.histogram_sorted(b, edges) / b.size
            st["histogram"] = {"labels": [float(e) for e in edges[:-1]], "edges": [float(e) for e in edges],
                               "reference": [float(x) for x in r_sh], "current": [float(x) for x in c_sh]}
            st["plot_bins"] = bins.plot_bins(a, b)
        else:
            ref_counts = ref.memo("counts", lambda: stats.counts_from_sorted(a))
            cur_counts = stats.counts_from_sorted(b)
            _, r_sh, c_sh = stats.category_shares(ref_counts, cur_counts)
            st["histogram"] = distribution(ref_counts, cur_counts)
        st.update({
            "ks": comp.ks, "ks_pvalue": comp.ks_pvalue, "wasserstein": comp.wasserstein,
            "wasserstein_normed": comp.wasserstein_normed, "psi": stats.psi(r_sh, c_sh),
            "jensenshannon": stats.jensenshannon(r_sh, c_sh),
            "reference_mean": ref.memo("mean", lambda: float(a.mean())), "current_mean": float(b.mean()),
            "distinct": n_distinct,
        })
        if n_distinct <= 5:
            if ref_counts is None:
                ref_counts = ref.memo("counts", lambda: stats.counts_from_sorted(a))
                cur_counts = stats.counts_from_sorted(b)
            st["chisquare_pvalue"] = stats.chisquare_test(ref_counts, cur_counts)
            if n_distinct <= 2:
                st["z_pvalue"] = stats.z_test(ref_counts, cur_counts)
        n_ref = int(a.size)
    else:
        ref_counts, cur_counts = ref.counts or {}, cur.counts or {}
        n_ref = sum(ref_counts.values())
        st.update({"reference_values": n_ref, "current_values": sum(cur_counts.values())})
        if not ref_counts or not cur_counts:
            entry["note"] = "no values in the " + ("reference" if not ref_counts else "current data")
            return entry
        n_distinct = len(set(ref_counts) | set(cur_counts))
        st.update(stats.compare_categorical(ref_counts, cur_counts))
        st["histogram"] = distribution(ref_counts, cur_counts)
        st["distinct"] = n_distinct
        st["new_categories"] = sorted(set(cur_counts) - set(ref_counts))[:20]
    method = rule_method
    if method == "auto":
        method = stats.default_method(kind, n_ref, n_distinct)
    score = _score(method, st, numeric, a, b, ref_counts, cur_counts)
    threshold = rule_threshold if rule_threshold is not None else stats.DEFAULT_THRESHOLDS[method]
    entry.update({"method": method, "score": score, "threshold": threshold,
                  "drifted": bool(stats.is_drift(method, score, threshold))})
    return entry


def distribution(ref_counts, cur_counts, max_bars: int = 12) -> dict[str, Any]:
    """Reference and current shares of the most common values (categories, or the values of a
    numeric feature with few distinct ones) for the TUI's distribution plot."""
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


def _predictions_columns(db: StoreLike, cur) -> dict[str, str]:
    """Columns of the ``predictions`` view, remembered with the snapshot."""
    return db.memo.compute(("columns", "predictions"), lambda: columns_of_cursor(cur, "predictions"))


def _logs_side(db: StoreLike, cur, model: str, version: str, start, end, prefix: str) -> Side:
    """Rows of ``version`` in ``[start, end)``: the store's parts when it has them, else SQL."""
    cond, params = Scope(model, version, start, end).where()
    index = driftdata.PartsIndex.of(db, model) if start is not None and end is not None else None
    if index is not None:
        fp = f"{prefix}:{version}:{iso(start)}:{iso(end)}:{index.fingerprint(start, end)}"
        return Side("predictions", cond, params, fp, None, parts=(index, version, start, end))
    rows, fp = _side_fingerprint(cur, "predictions", cond, params)
    return Side("predictions", cond, params, f"{prefix}:{fp}", rows)


def load_reference(
    db: StoreLike, cur, model: str, version: str, kinds: dict[str, str],
    reference_start: dt.datetime | None, reference_end: dt.datetime | None,
) -> tuple[Side, dict[str, Any]]:
    """The reference side: a window of logs when asked, else the registered reference file.
    ``info["rows"]`` is filled in when the rows are known (a window of logs: once read)."""
    if reference_start is not None or reference_end is not None:
        side = _logs_side(db, cur, model, version, reference_start, reference_end, "logs")
        info = {"source": "logs", "start": iso(reference_start), "end": iso(reference_end), "rows": side.rows}
        return side, info
    vinfo = db.registry.get(model, version)
    if vinfo is None or vinfo.reference is None:
        raise NotComputable(f"{model} version {version} has no registered reference",
                            "pass --reference-start/--reference-end to use a window of logs")
    path = Path(vinfo.reference)
    if not path.is_file():
        raise InputUnreadable(f"reference file of {model} version {version} not found: {path}")
    kinds_id = hashlib.sha256(repr(sorted(kinds.items())).encode()).hexdigest()[:12]
    fingerprint = f"file:{_file_fingerprint(path)}:kinds={kinds_id}"  # kinds shape the columns
    info: dict[str, Any] = {"source": str(vinfo.reference)}
    cached = _reference_cache_path(db, fingerprint)
    if cached is not None and cached.is_file():
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(cached).metadata.num_rows
        info["rows"] = rows
        return Side(f"read_parquet({literal(str(cached))})", "true", [], fingerprint, rows, parquet=cached), info
    from console.ingest.reader import read_records  # reading log files is ingest's job

    try:
        table = read_records(path, kinds)
    except Exception as exc:  # noqa: BLE001 - any unreadable reference is one clear line
        raise InputUnreadable(f"cannot read reference {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    info["rows"] = table.num_rows
    if cached is not None:
        # keep a Parquet copy: later reports read it instead of re-parsing the file. It is written
        # in the background (this report reads the table in memory); ``Side.ready()`` waits for it
        # before any SQL reads the file, and every report waits for it before returning.
        try:
            import threading

            import pyarrow.parquet as pq

            from console.fsio import TempFile

            tmp = TempFile(cached)
        except OSError:
            pass
        else:
            def write() -> None:
                try:
                    pq.write_table(table, tmp.target)
                    tmp.publish(sync=False)  # a cache: lost on a power cut, it is rebuilt
                except Exception:  # noqa: BLE001 - a copy that cannot be written is only slower
                    tmp.discard()

            writer = threading.Thread(target=write, name="drift-reference-copy")
            writer.start()
            return (Side(f"read_parquet({literal(str(cached))})", "true", [], fingerprint, info["rows"],
                         parquet=cached, table=table, writer=writer), info)
    name = "ref_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    cur.register(name, table)
    return Side(name, "true", [], fingerprint, table.num_rows, table=table), info


def _reference_cache_path(db: StoreLike, fingerprint: str) -> Path | None:
    """Where the Parquet copy of a reference file is kept (``None``: a store without files)."""
    if db.cache_dir is None:
        return None
    h = hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
    return Path(db.cache_dir) / "reference" / f"{h}.parquet"


def side_data(db: StoreLike, side: Side, cols: list[tuple[str, str]]) -> SideData:
    """Every column of ``cols`` on one side, from the fastest source that reads as the views do."""
    if side.parts is not None:
        index, version, start, end = side.parts
        try:
            return driftdata.read_windows(index, version, [(start, end)], cols)[0]
        except driftdata.Unsupported:
            pass
    elif side.table is not None or side.parquet is not None:
        try:
            table = side.table
            if table is None:
                import pyarrow.parquet as pq

                names = set(pq.read_schema(side.parquet).names)
                table = pq.read_table(side.parquet, columns=[c for c, _ in cols if c in names],
                                      read_dictionary=[c for c, k in cols if k != "numeric" and c in names] or None)
            return driftdata.from_table(table, cols)
        except driftdata.Unsupported:
            pass
    side.ready()
    cur = db.cursor()
    try:
        return driftdata.sql_side(cur, side.relation, side.where, side.params, cols)
    finally:
        cur.close()


# -- planning and computing windows ---------------------------------------------------------


@dataclass
class Plan:
    """Everything a window's drift depends on besides its rows, resolved once per call."""

    db: Any
    model: str
    version: str
    config: AnalyticsConfig
    feats: list[tuple[str, str, str, FeatureDriftRule, str | None]]  # name, column, kind, rule, ref column
    output: tuple[str, str, FeatureDriftRule, bool] | None  # column, kind, rule, in the reference
    reference: Side
    ref_info: dict[str, Any]
    cache: Cache
    all_feats: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def cur_cols(self) -> list[tuple[str, str]]:
        cols = [(c, k) for _, c, k, _, _ in self.feats]
        if self.output is not None:
            cols.append(self.output[:2])
        return _unique(cols)

    @property
    def ref_cols(self) -> list[tuple[str, str]]:
        cols = [(rc, k) for _, _, k, _, rc in self.feats if rc is not None]
        if self.output is not None and self.output[3]:
            cols.append(self.output[:2])
        return _unique(cols)

    def key(self, start, end, fingerprint: str) -> dict[str, Any]:
        return {"k": "drift-window", "m": self.model, "v": self.version, "ref": self.reference.fingerprint,
                "cur": fingerprint, "start": iso(aware(start)), "end": iso(aware(end)),
                "feats": [[n, c, k, r.method, r.threshold, rc] for n, c, k, r, rc in self.feats],
                "output": [self.output[0], self.output[1], self.output[2].method, self.output[2].threshold,
                           self.output[3]] if self.output else None,
                "share": self.config.drift.share, "plot_bins": bins.RULE}

    def reference_data(self) -> SideData:
        load = lambda: side_data(self.db, self.reference, self.ref_cols)  # noqa: E731
        if not self.config.cache:
            return load()
        key = (self.cache.namespace, self.reference.fingerprint, tuple(self.ref_cols))
        return driftdata.remembered(key, load)


def _unique(cols: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for c, k in cols:
        seen.setdefault(c, k)
    return list(seen.items())


def plan_drift(
    db: StoreLike, model: str, version: str | None, config: AnalyticsConfig | None,
    features: list[str] | None, reference_start: dt.datetime | None, reference_end: dt.datetime | None,
) -> Plan:
    """Resolve version, config, features, output and reference once (``UsageError`` for bad input)."""
    reference_start, reference_end = aware(reference_start), aware(reference_end)
    version = resolve_version(db, model, version)
    if config is None:
        config = config_for(db, model)
    dcfg: DriftConfig = config.drift
    cur = db.cursor()
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
    cur_cols = _predictions_columns(db, cur)
    if reference.relation == "predictions":
        ref_cols = cur_cols
    elif reference.table is not None:
        ref_cols = dict.fromkeys(reference.table.column_names, "")
    elif reference.parquet is not None:
        import pyarrow.parquet as pq

        ref_cols = dict.fromkeys(pq.read_schema(reference.parquet).names, "")
    else:
        ref_cols = columns_of_cursor(cur, reference.relation)
    planned = []
    for name, col, kind in feats:
        rule = dcfg.rule(name, kind)
        if not rule.enabled or col not in cur_cols:
            continue
        planned.append((name, col, kind, rule, col if col in ref_cols else None))
    output = None
    if dcfg.output:
        vinfo = db.registry.get(model, version)
        task = vinfo.task if vinfo is not None else None
        if task == "binary" or (task is None and "score" in ref_cols):
            col, kind = "score", "numeric"
        elif task == "regression":
            col, kind = "prediction_num", "numeric"
        else:
            col, kind = "prediction", "categorical"
        if col in cur_cols and col in ref_cols:
            output = (col, kind, dcfg.rule(OUTPUT, kind), True)
    cache = cache_for(db, config.cache)
    return Plan(db, model, version, config, planned, output, reference, ref_info, cache, feats)


Item = tuple[str, str, str, str | None, FeatureDriftRule]  # name, column, kind, ref column, rule

# a window whose two sides hold more values than this is done a few columns at a time (memory)
BIG_VALUES = 8_000_000


def _items(plan: Plan) -> list[Item]:
    items: list[Item] = [(n, c, k, rc, r) for n, c, k, r, rc in plan.feats]
    if plan.output is not None:
        col, kind, rule, _ = plan.output
        items.append((col, col, kind, col, rule))
    return items


def _entries(items: list[Item], ref: SideData, cur: SideData, parallel: bool) -> list[dict[str, Any]]:
    def one(item: Item) -> dict[str, Any]:
        name, col, kind, ref_col, rule = item
        rc = ref.columns.get(ref_col) if ref_col is not None else None
        return column_entry(name, kind, rc, cur.columns[col], rule.method, rule.threshold)

    if parallel and len(items) > 1 and DRIFT_THREADS > 1:
        from concurrent.futures import ThreadPoolExecutor

        # sorting and merging release the GIL: two columns at a time use both cores
        with ThreadPoolExecutor(max_workers=DRIFT_THREADS) as pool:
            return list(pool.map(one, items))
    return [one(i) for i in items]


def _window_report(plan: Plan, ref_rows: int, cur_rows: int, entries: list[dict[str, Any]],
                   start, end) -> dict[str, Any]:
    """The report of one window (without ``multivariate``) from its entries (features, output)."""
    results = entries[: len(plan.feats)]
    output = entries[-1] if plan.output is not None else None
    tested = [e for e in results if e["method"] is not None]
    drifted = sum(1 for e in tested if e["drifted"])
    share = drifted / len(tested) if tested else 0.0
    dcfg = plan.config.drift
    ref_info = dict(plan.ref_info)
    if ref_info.get("rows") is None:
        ref_info["rows"] = ref_rows
    out: dict[str, Any] = {
        "model": plan.model,
        "version": plan.version,
        "reference": ref_info,
        "current": {"rows": cur_rows, "start": iso(aware(start)), "end": iso(aware(end))},
        "features": results,
        "dataset_drift": {
            "share": share, "threshold": dcfg.share, "drifted": bool(tested) and share >= dcfg.share,
            "drifted_features": drifted, "tested_features": len(tested),
        },
    }
    if dcfg.output:
        out["output"] = output
    return out


def _side_rows(side: Side) -> int:
    """Rows a side will have (an upper bound for store parts: the parts' row counts)."""
    if side.parts is not None:
        index, _, start, end = side.parts
        return index.rows(start, end)
    return side.rows or 0


def _reports(plan: Plan, wins: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """One report per ``(start, end)`` window (sorted, not overlapping), from the cache where
    the window's rows, the reference and the rules are unchanged; the rest computed together."""
    db, model, version = plan.db, plan.model, plan.version
    bounded = all(s is not None and e is not None for s, e in wins)
    index = driftdata.PartsIndex.of(db, model) if bounded else None
    out: list[dict[str, Any] | None] = [None] * len(wins)
    keys: list[dict[str, Any] | None] = [None] * len(wins)
    cur_rows: dict[int, int] = {}
    todo: list[int] = []
    empty: list[int] = []  # no parts in the window's days: nothing to read (nor to cache)
    cur = None
    for i, (s, e) in enumerate(wins):
        if index is not None:
            fp = index.fingerprint(s, e)
            if not index.files(s, e):
                empty.append(i)
                continue
        else:
            cur = cur or db.cursor()
            cond, params = Scope(model, version, s, e).where()
            cur_rows[i], fp = _side_fingerprint(cur, "predictions", cond, params)
        keys[i] = plan.key(s, e, fp)
        hit = plan.cache.get(keys[i]) if plan.reference.rows != 0 else None
        if hit is not None:
            out[i] = hit
        else:
            todo.append(i)
    if not todo and not empty:
        return out  # type: ignore[return-value]
    allocators.for_drift()
    if index is not None:
        cur_rows.update((i, index.rows(*wins[i])) for i in todo)
    items = _items(plan)
    ncols = max(1, len(plan.cur_cols))
    ref_rows = _side_rows(plan.reference)
    big = [i for i in todo if (ref_rows + cur_rows[i]) * ncols > BIG_VALUES]
    small = [i for i in todo if i not in big]

    def put(i: int, rep: dict[str, Any]) -> None:
        if rep["current"]["rows"] and rep["reference"]["rows"]:
            plan.cache.put(keys[i], rep)
        out[i] = rep

    def current(i: int, cols: list[tuple[str, str]], group: list[int] | None = None) -> list[SideData]:
        wanted = group or [i]
        if index is not None:
            try:
                return driftdata.read_windows(index, version, [wins[j] for j in wanted], cols)
            except driftdata.Unsupported:
                pass
        out_: list[SideData] = []
        for j in wanted:
            c = db.cursor()
            try:
                cond, params = Scope(model, version, *wins[j]).where()
                out_.append(driftdata.sql_side(c, "predictions", cond, params, cols))
            finally:
                c.close()
        return out_

    for i in big:  # a few columns at a time; the two sides read side by side
        from concurrent.futures import ThreadPoolExecutor

        per = max(1, BIG_VALUES // max(1, ref_rows + cur_rows[i]))
        entries: list[dict[str, Any]] = []
        rows = (0, 0)
        for k in range(0, len(items), per):
            batch = items[k:k + per]
            rcols = _unique([(rc, kind) for _, _, kind, rc, _ in batch if rc is not None])
            ccols = _unique([(c, kind) for _, c, kind, _, _ in batch])
            with ThreadPoolExecutor(max_workers=1) as pool:
                fut = pool.submit(side_data, db, plan.reference, rcols)
                cur_part = current(i, ccols)[0]
                ref_part = fut.result()
            entries += _entries(batch, ref_part, cur_part, True)
            rows = (ref_part.rows, cur_part.rows)
            del ref_part, cur_part
        if plan.ref_info.get("rows") is None:
            plan.ref_info["rows"] = rows[0]
        put(i, _window_report(plan, rows[0], rows[1], entries, *wins[i]))
    if not small and not empty:
        return out  # type: ignore[return-value]

    ref = plan.reference_data()
    if plan.ref_info.get("rows") is None:
        plan.ref_info["rows"] = ref.rows
    for i in empty:
        nothing = driftdata.SideBuilder(plan.cur_cols).finish()
        out[i] = _window_report(plan, ref.rows, 0, _entries(items, ref, nothing, False), *wins[i])

    def group_job(group: list[int], parallel: bool) -> None:
        for i, data in zip(group, current(group[0], plan.cur_cols, group), strict=True):
            put(i, _window_report(plan, ref.rows, data.rows, _entries(items, ref, data, parallel), *wins[i]))

    groups = _groups(small, wins, index)
    if len(groups) == 1 or DRIFT_THREADS <= 1:
        for g in groups:
            group_job(g, len(groups) == 1)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=DRIFT_THREADS) as pool:
            list(pool.map(lambda g: group_job(g, False), groups))
    return out  # type: ignore[return-value]


def _groups(todo: list[int], wins, index) -> list[list[int]]:
    """Windows that share a day's parts go together (each part is read once)."""
    if index is None:
        return [[i] for i in todo]
    groups: list[list[int]] = []
    last_day = None
    for i in todo:
        days = index.days(*wins[i])
        if groups and days and last_day is not None and days[0] <= last_day:
            groups[-1].append(i)
        else:
            groups.append([i])
        if days:
            last_day = days[-1] if last_day is None else max(last_day, days[-1])
    return groups


# -- the reports ----------------------------------------------------------------------------


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
    """Drift of one model version: current = its logs in ``[start, end)``."""
    start, end = aware(start), aware(end)
    plan = plan_drift(db, model, version, config, features, reference_start, reference_end)
    scope = Scope(model, plan.version, start, end)
    rng = report_range(db, scope)
    c_start, c_end = rng if rng else (start, end)
    try:
        out = dict(_reports(plan, [(c_start, c_end)])[0])
    finally:
        plan.reference.ready()
    config = plan.config
    use_mv = config.multivariate.enabled if multivariate is None else multivariate
    tested = [e for e in out["features"] if e["method"] is not None]
    if use_mv and tested:
        from console.analytics.multivariate import domain_classifier

        tested_names = {e["feature"] for e in tested}
        cols = [(n, c, k) for n, c, k in plan.all_feats if n in tested_names]
        current = _logs_side(db, db.cursor(), model, plan.version, c_start, c_end, "cur")
        current.rows = out["current"]["rows"]
        reference = plan.reference
        if reference.rows is None:
            reference.rows = out["reference"]["rows"]
        key = {"k": "drift-multivariate", "m": model, "v": plan.version, "ref": reference.fingerprint,
               "cur": current.fingerprint, "cols": cols, "cfg": repr(config.multivariate)}
        mv = plan.cache.get(key)
        if mv is None:
            mv = domain_classifier(db.cursor(), reference, current, cols, config.multivariate)
            plan.cache.put(key, mv)
        out["multivariate"] = mv
    return out


def output_report(db: StoreLike, model: str, version: str | None, start: dt.datetime, end: dt.datetime,
                  config: AnalyticsConfig | None = None) -> dict[str, Any] | None:
    """The ``output`` entry of ``drift_report`` for ``[start, end)`` — the same test on the same
    rows, reading only the output column (and cached apart from the full report) — or ``None``
    when the report has none (``[drift] output = false``, no score/prediction on either side).
    For the alerts whose features' drift comes from the daily profiles, which hold no output."""
    start, end = aware(start), aware(end)
    plan = plan_drift(db, model, version, config, None, None, None)
    try:
        if plan.output is None:
            return None
        plan.feats = []
        return _reports(plan, [(start, end)])[0].get("output")
    finally:
        plan.reference.ready()


def drift_windows(
    db: StoreLike,
    model: str,
    version: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    window: str | None = "1d",
    reference_start: dt.datetime | None = None,
    reference_end: dt.datetime | None = None,
    config: AnalyticsConfig | None = None,
    features: list[str] | None = None,
    bounds: list[tuple[dt.datetime, dt.datetime]] | None = None,
) -> dict[str, Any]:
    """Drift of every ``window`` of ``[start, end)`` (windows as in ``performance_report``:
    epoch-aligned, clipped to given bounds) — or of the explicit ``bounds`` ``[(start, end), ...]``
    (sorted, not overlapping; ``start``/``end``/``window`` are then ignored):
    ``{"model", "version", "window", "start", "end", "windows": [report, ...]}``, each report
    exactly what ``drift_report`` gives for that window with ``multivariate=False``. The
    reference is read once, every store part once, and each window is cached."""
    start, end = aware(start), aware(end)
    plan = plan_drift(db, model, version, config, features, reference_start, reference_end)
    if bounds is not None:
        wins = [(aware(s), aware(e)) for s, e in bounds]
        for (s, e), nxt in zip(wins, wins[1:] + [None], strict=True):
            if s is None or e is None or e <= s or (nxt is not None and nxt[0] < e):
                raise UsageError("drift windows must be non-empty, sorted and not overlapping")
        out: dict[str, Any] = {"model": model, "version": plan.version, "window": None,
                               "start": iso(wins[0][0]) if wins else None,
                               "end": iso(wins[-1][1]) if wins else None, "windows": []}
    else:
        size = W.parse_window(window)
        rng = report_range(db, Scope(model, plan.version, start, end))
        out = {"model": model, "version": plan.version, "window": window or "1d",
               "start": None, "end": None, "windows": []}
        wins = []
        if rng is not None:
            lo, hi = W.align_range(rng[0], rng[1], size, start is not None, end is not None)
            wins = [(w.start, w.end) for w in W.split(lo, hi, size)]
            out.update(start=iso(lo), end=iso(hi))
    try:
        out["windows"] = _reports(plan, wins) if wins else []
    finally:
        plan.reference.ready()
    return out


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
