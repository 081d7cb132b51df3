"""The local profile engine: DuckDB over the store (or over a folder of prediction-log Parquet),
written under ``.console/profiles/``. Every day of a ``(model, version)`` is computed by one
DuckDB aggregate statement (``console.profiles.aggregate``, equal to ``core.profile_group``
of each group); a column type the statements do not derive is profiled group by group with
``core.profile_group``.

**Store** (``profile_store``): one Parquet file per model and day,
``profiles/model=<model>/day=<YYYY-MM-DD>.parquet``, written with the console's atomic replace
(``console.fsio``); ``edges.json`` keeps each reference file's edges (by path, size and
modification time), so an up-to-date store is checked without reading the references. It is *incremental by day*: ``manifest.json`` keeps, per model and day, a
fingerprint of what the day was computed from — the names and sizes of the day's prediction
parts, the label parts (labels join across days, so a new label batch recomputes every day of
every model: simple and correct), and the versions' specs (features, reference edges, task).
A day whose fingerprint is unchanged is not read again. The store's views hold numeric
features as DOUBLE: a value that was not a number was counted at ingest (``features.type_errors``,
per model, not per day) and is null in the view, so a store profile counts it as ``missing``
and its ``type_error`` is 0; a lake profile counts it as a ``type_error``.

**Lake** (``profile_source``): every ``*.parquet`` under a path, flat records in the ingest's
format (docs/formats.md: reserved columns ``ts`` (a timestamp), ``model``, ``version``,
``prediction``, ``score``, ``label``, ``latency_ms``, ``status``, ``cost_usd``…; every other
column a feature — numeric when its Parquet type is a number, else categorical). The label is
the inline one. The Spark engine reads the same specs (``lake_specs``) and groups the same
way, so both give the same table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import duckdb
import numpy as np
import pyarrow as pa

from console.errors import InputUnreadable
from console.profiles import aggregate
from console.profiles.core import (
    COST,
    LATENCY,
    SCHEMA,
    SUMMED,
    Merged,
    VersionSpec,
    merged,
    profile_group,
    reference_edges,
    to_table,
)

RESERVED = ("ts", "model", "version", "request_id", "features", "prediction", "score", "label",
            "latency_ms", "status", "error", "cost_usd")
BASE_COLUMNS = ("status", "prediction", "score", "label", "latency_ms", "cost_usd")


# -- specs ------------------------------------------------------------------------------------


_EDGES: dict[tuple, dict[str, tuple[float, ...]]] = {}  # reference file identity -> edges, this process


def version_spec(registry: Any, model: str, version: str, features: list[tuple[str, str, str]],
                 saved: dict[str, Any] | None = None) -> VersionSpec:
    """A version's spec: ``features`` and, when the registry has the version's reference file,
    each numeric feature's reference edges (``core.reference_edges``; remembered per file path,
    size and modification time, and features — in the process, and in ``saved``, a dict the
    store engine keeps next to its manifest)."""
    info = registry.get(model, version) if registry is not None else None
    edges: dict[str, tuple[float, ...]] = {}
    if info is not None and info.reference is not None and Path(info.reference).is_file():
        st = Path(info.reference).stat()
        memo = (str(info.reference), st.st_size, st.st_mtime_ns, tuple(features))
        key = hashlib.sha256(repr(memo).encode()).hexdigest()[:24]
        if memo in _EDGES:
            edges = dict(_EDGES[memo])
        elif saved is not None and isinstance(saved.get(key), dict):
            edges = {k: tuple(float(x) for x in v) for k, v in saved[key].items()}
            _EDGES[memo] = dict(edges)
        else:
            edges = _reference_edges(Path(info.reference), features)
            _EDGES[memo] = dict(edges)
        if saved is not None and key not in saved:
            saved[key] = {k: list(v) for k, v in edges.items()}
    task = info.task if info is not None else None
    pos = info.positive_label if info is not None else None
    thr = info.threshold if info is not None else None
    return VersionSpec(tuple(features), edges, task, None if pos is None else str(pos), thr)


def _reference_edges(path: Path, features: list[tuple[str, str, str]]) -> dict[str, tuple[float, ...]]:
    """Each numeric feature's Sturges edges over the reference file (none when unreadable)."""
    from console.ingest.reader import read_records  # reading log files is ingest's job

    kinds = {name: kind for name, _, kind in features}
    try:
        ref = read_records(path, kinds)
    except Exception:  # noqa: BLE001 - an unreadable reference: no histograms, as none
        return {}
    edges: dict[str, tuple[float, ...]] = {}
    for name, _, kind in features:
        col = next((c for c in (f"f_{name}", f"f_{name}__numeric", name) if c in ref.column_names), None)
        if kind == "numeric" and col is not None:
            vals = ref.column(col).cast(pa.float64()).to_numpy(zero_copy_only=False)
            e = reference_edges(np.asarray(vals, dtype=np.float64))
            if e:
                edges[name] = e
    return edges


def spec_fingerprint(spec: VersionSpec) -> str:
    from console.profiles.core import FORMAT

    return hashlib.sha256(repr((FORMAT, spec.features, sorted(spec.edges.items()), spec.task, spec.positive_label,
                                spec.threshold)).encode()).hexdigest()[:16]


def lake_files(source: Path) -> list[Path]:
    """Every Parquet file under ``source`` (a file or a folder), sorted; a one-line error when none."""
    from console.errors import InputUnreadable

    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise InputUnreadable(f"no such lake path: {source}")
    files = sorted(p for p in source.rglob("*.parquet") if not p.name.startswith("."))
    if not files:
        raise InputUnreadable(f"no Parquet files under {source}")
    return files


def lake_groups(files: list[Path]) -> list[list[Path]]:
    """The lake's files grouped by identical Parquet schema, each group read on its own (a
    column typed differently in two files — a model's integer predictions, another's text —
    is never unified by a cast that would change its text). A ``(model, version, day)`` must
    come from one group."""
    import pyarrow.parquet as pq

    groups: dict[str, list[Path]] = {}
    for f in files:
        sch = pq.read_schema(f).remove_metadata()
        groups.setdefault(str(sch), []).append(f)
    return list(groups.values())


def check_groups(keys: list[set]) -> None:
    """One line when a ``(model, version, day)`` has rows in files of two schemas."""
    from console.errors import InputUnreadable

    seen: set = set()
    for k in keys:
        both = seen & k
        if both:
            m, v, d = sorted(both)[0]
            raise InputUnreadable(f"{m} version {v} on {d} is in lake files of different column types; "
                                  "rewrite them with one schema")
        seen |= k


def lake_features(files: list[Path]) -> list[tuple[str, str, str]]:
    """``(name, column, kind)`` of every non-reserved column of the lake's files."""
    import pyarrow.parquet as pq

    found: dict[str, str] = {}
    for f in files:
        for fld in pq.read_schema(f):
            if fld.name in RESERVED or fld.name in found:
                continue
            t = fld.type
            numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            found[fld.name] = "numeric" if numeric else "categorical"
    return [(n, n, k) for n, k in sorted(found.items())]


def lake_specs(source: Path, pairs: list[tuple[str, str]], registry: Any = None) -> dict[tuple[str, str], VersionSpec]:
    """The spec of each ``(model, version)`` in a lake: the lake's feature columns, the
    registry's reference edges and task when the workspace registers the version."""
    feats = lake_features(lake_files(source))
    return {(m, v): version_spec(registry, m, v, feats) for m, v in pairs}


def _arrow(con: Any, sql: str, params: list) -> pa.Table:
    """A query's rows as one Arrow table, through a relation (``execute``'s result would copy
    them once more)."""
    return con.sql(sql, params=params).to_arrow_table()


# -- the lake with DuckDB ---------------------------------------------------------------------


def _lake_select(files: list[Path], feats: list[tuple[str, str, str]]) -> str:
    from console.store.sql import ident, literal

    present = set()
    import pyarrow.parquet as pq

    for f in files:
        present |= set(pq.read_schema(f).names)
    cols = [f"{ident(c)}" if c in present else f"NULL AS {ident(c)}" for c in BASE_COLUMNS]
    cols += [ident(src) if src in present else f"NULL AS {ident(src)}" for _, src, _ in feats]
    paths = "[" + ", ".join(literal(str(p)) for p in files) + "]"
    return (f"SELECT model::VARCHAR AS model, version::VARCHAR AS version, CAST(ts AS DATE) AS day, "
            f"{', '.join(cols)} FROM read_parquet({paths}, union_by_name=true)")


def profile_source(source: Path, registry: Any = None, model: str | None = None,
                   limit: str | None = None) -> pa.Table:
    """The profiles of a lake path with DuckDB (the reference the Spark engine is checked against),
    its memory bounded by ``limit`` (``console.store.duck``; None: its default)."""
    from console.store import duck

    files = lake_files(source)
    feats = lake_features(files)
    con = duck.connect(limit or duck.DEFAULT_LIMIT)
    where = " WHERE model = ?" if model else ""
    params = [model] if model else []
    specs: dict[tuple[str, str], VersionSpec] = {}
    rows: list[tuple] = []
    keys: list[set] = []
    for group in lake_groups(files):
        sql = _lake_select(group, feats)
        groups = con.execute(f"SELECT DISTINCT model, version, day FROM ({sql}){where} ORDER BY 1, 2, 3",
                             params).fetchall()
        keys.append(set(groups))
        kinds = aggregate.relation_kinds(con, sql)

        def one(m: str, v: str, d: Any, sql: str = sql) -> list[tuple]:
            t = _arrow(con, f"SELECT * FROM ({sql}) WHERE model = ? AND version = ? AND day = ?", [m, v, d])
            return profile_group(m, v, d, t, specs[(m, v)])

        for m, v in sorted({(m, v) for m, v, _ in groups}):
            if (m, v) not in specs:
                specs[(m, v)] = version_spec(registry, m, v, feats)
            got = aggregate.profile_relation(con, sql, m, v, specs[(m, v)], one, kinds)
            if got is None:  # a column type the aggregates do not derive: group by group
                got = [r for mm, vv, d in groups if (mm, vv) == (m, v) for r in one(m, v, d)]
            rows += got
    check_groups(keys)
    return to_table(rows)


# -- the store --------------------------------------------------------------------------------


def profiles_dir(db: Any) -> Path:
    """``<workspace>/.console/profiles``."""
    return Path(db.store_dir) / "profiles"


def day_path(out: Path, model: str, day: str) -> Path:
    return out / f"model={quote(model, safe='')}" / f"day={day}.parquet"


def write_day(out: Path, model: str, day: str, table: pa.Table) -> Path:
    """One model-day's profile, replaced atomically."""
    import pyarrow.parquet as pq

    from console.fsio import make_dirs, replacing

    path = day_path(out, model, day)
    make_dirs(path.parent)
    with replacing(path) as tmp:
        pq.write_table(table, tmp.target)
    return path


def write_table(out: Path, table: pa.Table) -> list[Path]:
    """A profile table (any engine) split into its model-day files under ``out``."""
    written = []
    d = table.to_pydict()
    keys = sorted(set(zip(d["model"], d["day"], strict=True)))
    import pyarrow.compute as pc

    for m, day in keys:
        mask = pc.and_(pc.equal(table["model"], m), pc.equal(table["day"], pa.scalar(day, pa.date32())))
        written.append(write_day(out, m, day.isoformat(), table.filter(mask)))
    return written


_DAYS: dict[str, tuple[tuple[int, int], pa.Table]] = {}  # day file -> (its size and mtime, table)
_DAYS_MAX = 20_000


class ProfilesUnreadable(InputUnreadable):
    """A stored profile file cannot be read (truncated, not Parquet, not ours, gone): the
    readers that have an exact path fall back to it; ``profile`` writes the file again."""


def unreadable(where: Any, exc: BaseException) -> ProfilesUnreadable:
    """The one-line error for a profile file that could not be read."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ProfilesUnreadable(f"daily profiles unreadable ({where}): {text}; `mlops-console profile` writes them again")


# what reading a damaged day file raises (Arrow, the OS, DuckDB's Parquet reader)
READ_ERRORS = (OSError, pa.ArrowException, duckdb.IOException, duckdb.InvalidInputException)


def _footer_ok(f: Path) -> bool:
    """Whether ``f`` is a Parquet file whose footer reads (``profile`` writes a day again when
    not: a damaged file would otherwise be kept for as long as its day does not change)."""
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(f)
        return True
    except READ_ERRORS:
        return False


def _read_day(f: Path) -> pa.Table:
    """One day file, remembered in the process until its size or modification time changes
    (``ProfilesUnreadable`` when it cannot be read)."""
    import pyarrow.parquet as pq

    try:
        st = f.stat()
        ident = (st.st_size, st.st_mtime_ns)
        hit = _DAYS.get(str(f))
        if hit is not None and hit[0] == ident:
            return hit[1]
        table = pq.read_table(f, schema=SCHEMA)
    except READ_ERRORS as exc:
        raise unreadable(f"{f.parent.name}/{f.name}", exc) from exc
    if len(_DAYS) >= _DAYS_MAX:
        _DAYS.clear()
    _DAYS[str(f)] = (ident, table)
    return table


def day_files(out: Path, model: str | None = None, start: dt.date | None = None,
              end: dt.date | None = None) -> list[Path]:
    """The stored day files of ``model`` (every model when ``None``) whose day is in ``[start,
    end)``, by model and day."""
    out = Path(out)
    files = []
    for folder in sorted(out.glob("model=*")) if out.is_dir() else []:
        if model is not None and unquote(folder.name[len("model="):]) != model:
            continue
        for f in sorted(folder.glob("day=*.parquet")):
            day = dt.date.fromisoformat(f.name[4:14])
            if (start is not None and day < start) or (end is not None and day >= end):
                continue
            files.append(f)
    return files


def read_profiles(out: Path, model: str | None = None, version: str | None = None,
                  start: dt.date | None = None, end: dt.date | None = None, ordered: bool = True) -> pa.Table:
    """The stored profiles (a model, a version, days in ``[start, end)``) as one table, in
    ``core.to_table``'s order (``ordered=False``: in file order, enough for a merge)."""
    import pyarrow.compute as pc

    tables = [_read_day(f) for f in day_files(out, model, start, end)]
    t = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    if version is not None:
        t = t.filter(pc.equal(t["version"], version))
    if not ordered:
        return t
    return t.sort_by([(c, "ascending") for c in ("model", "version", "day", "stat", "column", "key")])


# -- grouped in DuckDB: what the fleet's first paint waits for ---------------------------------
# The store's own DuckDB reads a model's day files and groups them, without building an Arrow
# table in Python: pyarrow imports pandas (0.3-0.45 s, when it is installed) on its first
# conversion of a Python value, and DuckDB reads the small files side by side.


def _query_days(db: Any, files: list[Path], stats: tuple[str, ...], columns: tuple[str, ...] | None,
                sql: str) -> list[tuple]:
    """``sql`` over the day files' rows of ``stats`` (and ``columns``), named ``days`` in it and
    read once (``read_parquet`` of the paths, or the files read by Arrow when a path holds a
    character DuckDB would take for a glob)."""
    if not files:
        return []
    cond = f"stat IN ({', '.join('?' * len(stats))})"
    params: list[Any] = list(stats)
    if columns is not None:
        cond += f' AND "column" IN ({", ".join("?" * len(columns))})'
        params += list(columns)
    cur = db.cursor()
    try:
        names = [str(f) for f in files]
        if any(c in n for n in names for c in "*?[{"):
            cur.register("days_arrow", pa.concat_tables([_read_day(f) for f in files]))
            source, first = "days_arrow", []
        else:
            source, first = "read_parquet(?)", [names]
        try:
            return cur.execute(f"WITH days AS MATERIALIZED (SELECT * FROM {source} WHERE {cond}) {sql}",
                               first + params).fetchall()
        except READ_ERRORS as exc:
            raise unreadable(f"{len(files)} day file(s)", exc) from exc
    finally:
        cur.close()


def sums_by(db: Any, model: str, by: tuple[str, ...], stats: tuple[str, ...],
            columns: tuple[str, ...] | None = None, start: dt.date | None = None,
            end: dt.date | None = None, out: Path | None = None) -> list[tuple]:
    """``(*by, sum of count, sum of value)`` for each group of ``model``'s profile rows of
    ``stats`` (and ``columns``) on days in ``[start, end)`` (of the store's profiles, or
    ``out``): a sum over no value is None, the values' sum is DuckDB's ``fsum``. ``by`` names
    columns of the profile schema."""
    if not by or not set(by) <= set(SCHEMA.names):
        raise ValueError(f"cannot group profiles by {by}: the columns are {SCHEMA.names}")
    cols = ", ".join(f'"{c}"' for c in by)
    return _query_days(db, day_files(out or profiles_dir(db), model, start, end), stats, columns,
                       f"SELECT {cols}, sum(count), fsum(value) FROM days GROUP BY {cols}")


def merge_days(db: Any, model: str, stats: tuple[str, ...], columns: tuple[str, ...] | None = None,
               start: dt.date | None = None, end: dt.date | None = None, out: Path | None = None) -> Merged:
    """``core.merge`` of ``model``'s profile rows of ``stats`` (and ``columns``) on days in
    ``[start, end)`` (of the store's profiles, or ``out``), the rows grouped by DuckDB in one
    pass (with the ``SUMMED`` stats' values, to be added with ``math.fsum``) and merged by
    ``core.merged``'s rules."""
    summed = ", ".join(f"'{s}'" for s in SUMMED)
    groups = _query_days(db, day_files(out or profiles_dir(db), model, start, end), stats, columns, f"""
        SELECT stat, "column", key, sum(count), min(value), max(value),
               list(value) FILTER (WHERE stat IN ({summed})),
               (SELECT count(*) FROM (SELECT DISTINCT model, version, day FROM days))
        FROM days GROUP BY stat, "column", key""")
    return merged({(s, c, k): int(n) for s, c, k, n, *_ in groups if n is not None},
                  [(s, c, k, lo, hi) for s, c, k, _, lo, hi, *_ in groups if lo is not None],
                  [(s, c, k, v) for s, c, k, *_, vs, _ in groups for v in vs or []],
                  groups[0][7] if groups else 0)


def _store_features(db: Any, model: str, version: str) -> list[tuple[str, str, str]]:
    from console.analytics.source import model_features

    return model_features(db, model, version)


def _remember_ranges(db: Any, model: str, spans: list[tuple]) -> dict[str, list[str]]:
    """The first and last ``ts`` of the model and of each version, from ``(version, day, min,
    max)`` rows, handed to ``data_range``'s memory (skipped for a store without one); returned
    for the manifest (``_recall_ranges``): version (``""``: the model) -> ISO times."""
    from console.analytics.source import Scope, remember_range

    by: dict[str | None, list] = {}
    for v, _d, lo, hi in spans:
        for k in (v, None):
            got = by.setdefault(k, [lo, hi])
            got[0], got[1] = min(got[0], lo), max(got[1], hi)
    if getattr(db, "memo", None) is not None:
        for v, (lo, hi) in by.items():
            remember_range(db, Scope(model, v), lo, hi)
    return {v or "": [lo.isoformat(), hi.isoformat()] for v, (lo, hi) in by.items()}


def _recall_ranges(db: Any, model: str, ranges: Any) -> None:
    """Hand ``data_range`` the model's ranges the manifest holds for the store's current batch
    (``_remember_ranges``' scan): with the analytics cache deleted, the fleet's first numbers
    need no scan of every row's ``ts`` (2 s on 100M rows). Kept in memory only."""
    from console.analytics.source import Scope, recall_range

    if not isinstance(ranges, dict) or getattr(db, "memo", None) is None:
        return
    for v, pair in ranges.items():
        try:
            lo, hi = (dt.datetime.fromisoformat(t) for t in pair)
        except (TypeError, ValueError):
            continue  # (a manifest edited by hand: data_range scans)
        recall_range(db, Scope(model, v or None), lo, hi)


def recall_ranges(db: Any, out: Path | None = None) -> None:
    """Hand ``data_range`` every model's and version's range the profiles' manifest holds for
    the store's current batch (``_recall_ranges``), without checking the profiles themselves:
    for a console opening a store whose analytics cache is gone (its header's newest record,
    then the fleet's ranges). Nothing when the manifest is of another batch or unreadable."""
    if getattr(db, "memo", None) is None:
        return
    manifest = _read_manifest((Path(out) if out is not None else profiles_dir(db)) / "manifest.json")
    ranges = _batch_state(manifest, getattr(db, "batch", None)).get("ranges")
    for model, of_model in (ranges.items() if isinstance(ranges, dict) else ()):
        _recall_ranges(db, model, of_model)


def _read_manifest(path: Path) -> dict:
    """The profiles' manifest (``{}`` when missing or unreadable)."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _batch_state(manifest: dict, batch: Any) -> dict:
    """The manifest's ``_batch`` state (models, versions, days, ranges) when it was written for the store's
    committed ``batch``, else ``{}``."""
    state = manifest.get("_batch")
    return state if isinstance(state, dict) and batch is not None and state.get("batch") == batch else {}


def profiles_fresh(db: Any, models: list[str] | None = None, out: Path | None = None) -> bool:
    """Whether the profiles of ``models`` (every logged model when ``None``) are known to be up
    to date, without computing or writing anything and without reading a row: the manifest
    was written for the store's current batch and no model-day's fingerprint changed. False
    when that cannot be told without a scan (a batch committed since the last ``profile``)."""
    return profile_store(db, models, out=out, check=True)["fresh"]


def profile_store(db: Any, models: list[str] | None = None, out: Path | None = None,
                  check: bool = False) -> dict[str, Any]:
    """Bring the store's profiles up to date: recompute the model-days whose fingerprint changed
    (module docstring). Returns ``{"computed": [...], "kept": n, "out": path}``.

    ``check=True`` only looks (``profiles_fresh``): nothing is read from the store's rows,
    computed or written, and the answer is ``{"fresh": bool, "stale": [model/day...], ...}``;
    ``fresh`` is False as soon as the models, versions or days are not known for the store's
    current batch."""
    from console.analytics.source import check_model, logged_models
    from console.fsio import make_dirs, write_atomic
    from console.store.sql import ident, literal

    out = Path(out) if out is not None else profiles_dir(db)
    if not check:
        make_dirs(out)
    manifest_path = out / "manifest.json"
    manifest = _read_manifest(manifest_path)
    unknown = {"fresh": False, "stale": None, "computed": [], "kept": 0, "out": str(out)}
    edges_path = out / "edges.json"  # reference edges per reference file (version_spec)
    try:
        saved = json.loads(edges_path.read_text())
    except (OSError, ValueError):
        saved = {}
    saved = saved if isinstance(saved, dict) else {}
    n_saved = len(saved)
    cur = db.cursor()
    label_parts = sorted(str(p.name) + ":" + str(p.stat().st_size)
                         for p in (Path(db.store_dir) / "parts" / "labels").rglob("*.parquet")) if db.store_dir else []
    labels_fp = hashlib.sha256("\n".join(label_parts).encode()).hexdigest()[:16]
    computed, kept = [], 0
    for model in models or []:
        check_model(db, model)  # an unknown model is one line
    # the store's models, versions and days as of its committed batch (``_batch`` in the
    # manifest): while the batch is the same, no DISTINCT scan of every row is needed
    batch = getattr(db, "batch", None)
    state = _batch_state(manifest, batch)
    fresh = {"batch": batch, "models": state.get("models"), "versions": dict(state.get("versions") or {}),
             "days": dict(state.get("days") or {}), "ranges": dict(state.get("ranges") or {})}
    if fresh["models"] is None:
        if check and models is None:
            return unknown
        fresh["models"] = logged_models(db) if models is None else None
    stale: list[str] = []
    for model in models or fresh["models"] or []:
        versions = fresh["versions"].get(model)
        if versions is None or fresh["days"].get(model) is None:
            if check:
                return unknown
            # one scan for the versions, the days and the time ranges (which the readers'
            # ``report_range`` would otherwise scan every row again for)
            spans = cur.execute("SELECT version, day, min(ts), max(ts) FROM predictions WHERE model = ? "
                                "GROUP BY ALL ORDER BY 1, 2", [model]).fetchall()
            versions = fresh["versions"][model] = sorted({r[0] for r in spans})
            fresh["days"][model] = sorted({r[1].isoformat() for r in spans})
            fresh["ranges"][model] = _remember_ranges(db, model, spans)
        else:
            _recall_ranges(db, model, fresh["ranges"].get(model))
        specs = {v: version_spec(db.registry, model, v, _store_features(db, model, v), saved) for v in versions}
        specs_fp = hashlib.sha256("|".join(f"{v}={spec_fingerprint(s)}" for v, s in specs.items()).encode()).hexdigest()[:16]
        parts = db.parts(model)
        by_day: dict[str, list[str]] = {}
        if parts is not None:
            for p in parts:
                by_day.setdefault(p.day.isoformat(), []).append(f"{p.rel}:{p.size}")
        days = fresh["days"][model]
        fcols = sorted({src for s in specs.values() for _, src, _ in s.features})
        select = ", ".join(["model", "version", "day", *BASE_COLUMNS, "labelled", *(ident(c) for c in fcols)])
        todo: list[str] = []
        fps: dict[str, str] = {}
        for day in days:
            key = f"{model}/{day}"
            fp = hashlib.sha256(f"{by_day.get(day)}|{labels_fp}|{specs_fp}|{db.batch if parts is None else ''}".encode()).hexdigest()
            if manifest.get(key) == fp and (_footer_ok(day_path(out, model, day)) if not check
                                            else day_path(out, model, day).is_file()):
                kept += 1
                continue
            todo.append(day)
            fps[day] = fp
        if check:
            stale += [f"{model}/{d}" for d in todo]
            continue
        if not todo:
            continue
        rel = (f"SELECT {select} FROM predictions_labelled WHERE model = {literal(model)} AND day IN "
               f"({', '.join(literal(d) + '::DATE' for d in todo)})")
        kinds = aggregate.relation_kinds(cur, rel)

        def one(m: str, v: str, d: Any, rel: str = rel, specs: dict = specs) -> list[tuple]:
            t = _arrow(cur, f"SELECT * FROM ({rel}) WHERE version = ? AND day = ?", [v, d])
            return profile_group(m, v, d, t, specs[v])

        rows: list[tuple] = []
        for v in versions:
            got = aggregate.profile_relation(cur, rel, model, v, specs[v], one, kinds)
            if got is None:  # a column type the aggregates do not derive: day by day
                got = [r for d in todo for r in one(model, v, dt.date.fromisoformat(d))]
            rows += got
        by: dict[str, list[tuple]] = {}
        for r in rows:
            by.setdefault(r[2].isoformat(), []).append(r)
        for day in todo:
            write_day(out, model, day, to_table(by.get(day, [])))
            manifest[f"{model}/{day}"] = fps[day]
            computed.append(f"{model}/{day}")
    if check:
        return {**unknown, "fresh": not stale, "stale": stale, "kept": kept}
    if batch is not None and fresh != {**state, "versions": state.get("versions") or {}, "days": state.get("days") or {},
                                       "ranges": state.get("ranges") or {}}:
        manifest["_batch"] = fresh
        computed_or_state = True
    else:
        computed_or_state = bool(computed)
    if computed_or_state or not manifest_path.is_file():
        write_atomic(manifest_path, json.dumps(manifest, sort_keys=True, indent=1).encode())
    if len(saved) != n_saved:
        write_atomic(edges_path, json.dumps(saved, sort_keys=True).encode())
    return {"computed": computed, "kept": kept, "out": str(out)}


__all__ = ["COST", "LATENCY", "day_files", "lake_specs", "merge_days", "profile_source", "profile_store",
           "profiles_fresh", "read_profiles", "recall_ranges", "sums_by", "write_table"]
