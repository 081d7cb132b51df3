"""Adopting well-formed Parquet prediction files in place (``[ingest] adopt_parquet``).

A Parquet prediction file whose columns map onto the store's one to one (``plan``: ``ts`` a
timestamp, ``model``/``version``/``request_id`` strings, the other contract fields numbers or
strings of their kind, every other column a flat number or string feature) is not rewritten:

1. ``check_group`` (a worker thread) reads a group of files of one layout with one DuckDB
   statement: the key columns and each record's quarantine reason (``reason_sql``: the rules of
   ``normalize.validate_predictions``, in their order, for the types a well-formed file can
   hold — tests/test_ingest_adopt.py holds both to the same records and reasons); it hashes
   the valid records' keys with polars (``keys.key_expr``) and notes which feature columns
   hold nulls;
2. ``handle`` (the main thread, in source order) drops the keys already stored or seen
   earlier in the file (duplicates), gives the features their store columns
   (``FeatureCatalog``), and hands the writer the file's ``Adoption`` with its sidecars (keys;
   excluded row numbers) and its quarantined rows, committed with the batch like any part.

Anything that cannot be mapped exactly — another type, a nested column, a feature whose kind
contradicts its column type, a float the store would spell differently, too many features —
is not adopted: the file is read and rewritten as before (the reason, a string, from
``plan``/``handle``), at its place in source order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from console import clock
from console.ingest import formats
from console.ingest.blocks import parquet_raw
from console.ingest.normalize import (
    IN_THE_FUTURE,
    MAX_MODEL_BYTES,
    FeatureCatalog,
    canonical_number_text,
)
from console.ingest.tagging import T_NUM, T_STR
from console.store import duck
from console.store.adopted import (
    FLOAT,
    INT,
    STR,
    TS_NAIVE,
    TS_UTC,
    Adoption,
    number_text,
    spelled_alike_sql,
    utc_naive,
)
from console.store.keys import KeySet, distinct_first, key_expr
from console.store.schema import KEY_COLUMN, RESERVED_PREDICTION_FIELDS
from console.store.sql import ident, literal

CONTRACT = ("ts", "model", "version", "request_id", "prediction", "score", "label", "latency_ms", "status",
            "error", "cost_usd")
_TEXT = ("model", "version", "request_id", "status", "error")
_NUMBER = ("score", "latency_ms", "cost_usd")
_VALUE = ("prediction", "label")


def file_fingerprint(path: str | Path) -> str:
    """``size:mtime_ns:sha256(footer)`` of a Parquet file: what says it is the file adopted."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        size = st.st_size
        digest = hashlib.sha256()
        if size >= 12:
            fh.seek(size - 8)
            tail = fh.read(8)
            n = int.from_bytes(tail[:4], "little")
            fh.seek(max(size - 8 - n, 0))
            digest.update(fh.read(min(n, size - 8)) + tail)
    return f"{size}:{st.st_mtime_ns}:{digest.hexdigest()}"


def _how(t: pa.DataType) -> str | None:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return STR
    if pa.types.is_integer(t):
        return INT
    if pa.types.is_float32(t) or pa.types.is_float64(t):
        return FLOAT
    return None


@dataclass
class Plan:
    """How a file's columns map to the store's (from its schema alone)."""

    fields: dict[str, str]
    features: dict[str, str]  # source column -> INT | FLOAT | STR
    schema: str


def plan(schema: pa.Schema) -> Plan | str:
    """The mapping of a well-formed prediction file's columns, or why it is not one."""
    names = schema.names
    if len(set(names)) != len(names):
        return "a column appears twice"
    fields: dict[str, str] = {}
    features: dict[str, str] = {}
    for fld in schema:
        name, t = fld.name, fld.type
        if formats._CONTROL.search(name):
            return f"column {name!r}: a control character in its name"
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            continue  # bytes are not a contract type: ignored, as when rewritten
        if name == "ts":
            if not pa.types.is_timestamp(t) or t.unit == "ns":
                return f"'ts' is {t}, not a timestamp in s, ms or µs"
            fields["ts"] = TS_UTC if t.tz else TS_NAIVE
            continue
        how = _how(t)
        if name in _TEXT:
            if how != STR:
                return f"{name!r} is {t}, not a string"
        elif name in _NUMBER:
            if how not in (INT, FLOAT):
                return f"{name!r} is {t}, not a number"
        elif name in _VALUE:
            if how is None:
                return f"{name!r} is {t}, not a number or a string"
        elif name in RESERVED_PREDICTION_FIELDS:  # features: a nested object
            return f"{name!r} is {t}: nested features are rewritten"
        else:
            if how is None:
                return f"feature {name!r} is {t}, not a number or a string"
            features[name] = how
            continue
        fields[name] = how
    for need in ("ts", "model", "version", "request_id"):
        if need not in fields:
            return f"no {need!r} column"
    sig = json.dumps([[f.name, str(f.type)] for f in schema] + [fields, features], sort_keys=True)
    return Plan(fields, features, hashlib.sha256(sig.encode()).hexdigest()[:24])


def row_numbers(n: int) -> type:
    """The NumPy type of row numbers below ``n``: 4 bytes where they fit (a checked file waiting to be
    handled holds two arrays of them — 9 MB less a file of 1.1M records)."""
    return np.uint32 if n <= 1 << 32 else np.int64


@dataclass
class Checked:
    """What ``check`` found in a file (before dedupe against the store)."""

    path: str
    plan: Plan
    rows: int
    bad: pl.DataFrame  # _line, _offset, reason
    good_rows: np.ndarray  # 0-based row numbers of valid records, in order (``row_numbers``)
    keys: np.ndarray  # their dedupe keys
    models: pl.Series  # their models
    nulls: dict[str, np.ndarray] = field(default_factory=dict)  # feature -> is-valid of valid rows (when it has nulls)
    why: str | None = None  # not adopted after all (then read the usual way)
    uniq: np.ndarray | None = None  # ``keys`` sorted and distinct (``keys.distinct_first``) ...
    first: np.ndarray | None = None  # ... and the first record of each key within the file (None: no key repeats)

    def sort_keys(self) -> None:
        """``uniq`` and ``first`` (in the worker: they do not depend on the store's keys)."""
        self.uniq, self.first = distinct_first(self.keys)


@dataclass
class Facts:
    """What the footers of some files say of one column over all their row groups (None:
    unknown — a row group without statistics, or values Python cannot hold)."""

    nulls: int | None = 0
    lo: object = None
    hi: object = None


def column_facts(mds: list, names: list[str]) -> dict[str, Facts]:
    """``Facts`` of the columns ``names`` over the files whose footers are ``mds``."""
    out = {}
    for name in names:
        fa = Facts()
        los, his = [], []
        try:
            for md in mds:
                cols = [md.schema.column(i).path for i in range(md.num_columns)]
                i = cols.index(name)
                for g in range(md.num_row_groups):
                    st = md.row_group(g).column(i).statistics
                    if st is None or not st.has_null_count:
                        fa.nulls = None
                    elif fa.nulls is not None:
                        fa.nulls += st.null_count
                    if st is not None and st.has_min_max:
                        los.append(st.min)
                        his.append(st.max)
                    elif md.row_group(g).num_rows > (st.null_count if st is not None and st.has_null_count else -1):
                        los = his = None  # values without statistics
                        raise LookupError
            if los:
                fa.lo, fa.hi = min(los), max(his)
        except Exception:  # noqa: BLE001 - statistics Python cannot read (or compare): unknown
            fa.nulls, fa.lo, fa.hi = None, None, None
        out[name] = fa
    return out


_TS_LO, _TS_HI = dt.datetime(1900, 1, 1), dt.datetime(2300, 1, 1)
_SHORT = 64  # strings in statistics shorter than this are taken as whole (writers cut longer ones)


def reason_sql(p: Plan, ts_max: dt.datetime | None, facts: dict[str, Facts] | None = None) -> str:
    """The quarantine reason of a record of a well-formed file (NULL: valid), as DuckDB SQL over
    its columns: ``normalize.validate_predictions``' rules, in its order, for the types a
    well-formed file can hold (a string is never a number here, a timestamp never text). The
    tests hold it to the rewrite path, record for record and reason for reason. ``facts``
    (``column_facts`` of the files read): a rule the footers' statistics show no record can
    break is left out (no nulls; a least string that is not empty; a range of times, scores or
    latencies inside the rule's; one model, checked here) — which record breaks which rule
    first does not change."""
    f = p.fields
    facts = facts or {}

    def known(name: str) -> Facts:
        return facts.get(name) or Facts(nulls=None)

    def no_nulls(name: str) -> bool:
        return known(name).nulls == 0

    def in_range(name: str, lo, hi) -> bool:
        k = known(name)
        try:
            return k.lo is not None and k.hi is not None and k.lo >= lo and k.hi <= hi
        except TypeError:
            return False

    def q(text: str) -> str:
        return literal(text)

    def has(name: str) -> bool:
        return name in f

    def c(name: str) -> str:
        return ident(name)

    def missing(name: str) -> str:
        if not has(name):
            return "true"
        null = "false" if no_nulls(name) else f"{c(name)} IS NULL"
        if f[name] != STR:
            return null
        lo = known(name).lo
        if isinstance(lo, str) and lo != "":
            return null  # every value is at least a non-empty string
        return f"({c(name)} = '')" if null == "false" else f"({null} OR {c(name)} = '')"

    model = known("model")
    one_model = (model.lo if isinstance(model.lo, str) and model.lo == model.hi
                 and len(model.lo.encode()) < _SHORT else None)

    # a zoned ``ts`` is compared as it is (a conversion per record costs more than the rest of
    # the rules); the naive UTC time (``adopted.utc_naive``) only for the future check
    utc = f["ts"] == TS_UTC
    ts = f"{c('ts')}::TIMESTAMP" if not utc else c("ts")
    lo, hi = ("TIMESTAMPTZ '1900-01-01 00:00:00+00'", "TIMESTAMPTZ '2300-01-01 00:00:00+00'") if utc else (
        "TIMESTAMP '1900-01-01'", "TIMESTAMP '2300-01-01'")
    when = [
        (missing("ts"), "missing required field 'ts'"),
        (missing("model"), "missing required field 'model'"),
    ]
    if one_model is None or len(one_model.encode()) > MAX_MODEL_BYTES:
        when.append((f"strlen({c('model')}) > {MAX_MODEL_BYTES}", f"'model' longer than {MAX_MODEL_BYTES} bytes"))
    if one_model is None or re.search(r"[\x00-\x1f\x7f]", one_model):
        when.append((f"regexp_matches({c('model')}, '[\\x00-\\x1f\\x7f]')", "'model' holds a control character"))
    when += [
        (missing("version"), "missing required field 'version'"),
        (missing("request_id"), "missing required field 'request_id'"),
    ]
    status = f"coalesce({c('status')}, 'ok')" if has("status") else "'ok'"
    if has("status"):
        when.append((f"{c('status')} IS NOT NULL AND {c('status')} NOT IN ('ok', 'error')",
                     "'status' must be \"ok\" or \"error\""))
    when.append((f"{missing('prediction')} AND {status} <> 'error'", "missing required field 'prediction'"))
    if f.get("prediction") == FLOAT:
        when.append((f"NOT isfinite({c('prediction')})", "'prediction' must be a number or a string"))
    tz = dt.UTC if utc else None
    if not in_range("ts", _TS_LO.replace(tzinfo=tz), (_TS_HI - dt.timedelta(microseconds=1)).replace(tzinfo=tz)):
        when.append((f"{ts} < {lo} OR {ts} >= {hi}", "unreadable 'ts'"))
    if ts_max is not None and not in_range("ts", _TS_LO.replace(tzinfo=tz), clock.naive_utc(ts_max).replace(tzinfo=tz)):
        when.append((f"{utc_naive(c('ts')) if utc else ts} > {literal(ts_max)}", IN_THE_FUTURE))
    if has("score"):
        # NaN is outside [0, 1]; but statistics leave NaN out, and DuckDB folds comparisons
        # (even ``isnan``) that a file's statistics decide — ``isfinite`` it does not fold
        nan = f"NOT isfinite({c('score')}) OR " if f["score"] == FLOAT else ""
        if not in_range("score", 0, 1):
            when.append((f"{c('score')} IS NOT NULL AND ({nan}NOT ({c('score')} >= 0 AND {c('score')} <= 1))",
                         "'score' outside [0, 1]"))
        elif nan:
            when.append((f"NOT isfinite({c('score')})", "'score' outside [0, 1]"))
    for name in ("latency_ms", "cost_usd"):
        if has(name):
            if f[name] == FLOAT:
                when.append((f"NOT isfinite({c(name)})", f"'{name}' must be a number"))
            k = known(name)
            try:
                nonneg = k.lo is not None and k.lo >= 0
            except TypeError:
                nonneg = False
            if not nonneg:
                when.append((f"{c(name)} < 0", f"negative '{name}'"))
    if f.get("label") == FLOAT:
        when.append((f"NOT isfinite({c('label')})", "'label' must be a number or a string"))
    when = [(cond, why) for cond, why in when if not cond.startswith("false")]
    if not when:
        return "CAST(NULL AS VARCHAR)"
    return "CASE " + " ".join(f"WHEN {cond} THEN {q(why)}" for cond, why in when) + " END"


def check_group(paths: list[str], rows: list[int], p: Plan, ts_max: dt.datetime | None,
                limit: str = duck.DEFAULT_LIMIT) -> dict[str, Checked]:
    """Validate the records of files of one layout together and hash their keys (a worker
    thread). DuckDB reads every file in one statement (in parallel, without a per-file cost),
    only the columns the rules and the keys need, and gives each record its quarantine reason
    (``reason_sql``); polars hashes the keys of the valid ones. ``rows``: each file's row count
    (its footer's): DuckDB returns the files' rows in the order of ``paths`` (insertion order
    is preserved), so a record's file and row number follow from its position. ``limit``: DuckDB's
    memory (``console.store.duck``)."""
    files = "[" + ", ".join(literal(x) for x in paths) + "]"
    # numbers as text: the views spell them with ``number_text``; the store, as polars does
    # (an integer column needs no check below 9.2e18: both print its digits)
    texts = [n for n in ("prediction", "label") if p.fields.get(n) == FLOAT]
    ints = [n for n in ("prediction", "label") if p.fields.get(n) == INT]
    # (only values outside the band where both spell alike: ``adopted.SPELLED_ALIKE``)
    spelled = [f"CASE WHEN NOT {spelled_alike_sql(ident(n))} THEN {ident(n)}::DOUBLE END AS {ident('_x_' + n)}, "
               f"CASE WHEN NOT {spelled_alike_sql(ident(n))} THEN {number_text(ident(n))} END AS {ident('_t_' + n)}"
               for n in texts] + [f"abs({ident(n)}::DOUBLE) >= 9.2e18 AS {ident('_big_' + n)}" for n in ints]
    select = ", ".join([*(ident(c) for c in ("model", "version", "request_id")), *spelled])
    mds = [pq.read_metadata(x) for x in paths]
    reason = reason_sql(p, ts_max, column_facts(mds, list(p.fields)))
    con = duck.connect(limit)
    try:
        con.execute("SET preserve_insertion_order = true")
        tbl = con.sql(f"SELECT {select}, {reason} AS reason FROM read_parquet({files})").to_arrow_table()
    finally:
        con.close()
    if tbl.num_rows != sum(rows):
        raise OSError(f"{tbl.num_rows} records read where the footers say {sum(rows)}: a file changed meanwhile")
    names = list(paths)
    counts = np.asarray(rows, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    reason = pl.from_arrow(tbl.column("reason"))
    assert isinstance(reason, pl.Series)
    bad_mask = reason.is_not_null().to_numpy()
    b = np.flatnonzero(bad_mask)
    g = np.flatnonzero(~bad_mask)
    base = pl.from_arrow(tbl.select(["model", "version", "request_id"]))
    assert isinstance(base, pl.DataFrame)
    good = base.filter(pl.Series(~bad_mask)) if len(b) else base
    keys = good.select(key_expr()).to_series().to_numpy()
    bad_reason = reason.gather(b) if len(b) else reason.clear()
    why = {}
    for name in ints:
        if pc.any(tbl.column(f"_big_{name}")).as_py():
            why = dict.fromkeys(range(len(names)), f"{name!r}: integers beyond 9.2e18")
    for name in texts:
        spelling = pl.from_arrow(tbl.select([f"_x_{name}", f"_t_{name}"]))
        assert isinstance(spelling, pl.DataFrame)
        spelling = spelling.filter(pl.Series(~bad_mask) & pl.col(f"_x_{name}").is_not_null())
        ours = spelling.select(canonical_number_text(pl.col(f"_x_{name}"))).to_series()
        if not ours.equals(spelling[f"_t_{name}"], check_names=False, check_dtypes=False):
            text = f"{name!r}: numbers whose text the store spells differently"
            why = dict.fromkeys(range(len(names)), text)  # (a value of which file: not worth knowing)
    out: dict[str, Checked] = {}
    # records come file after file, in order: each file's valid and bad ones are one slice
    bounds = np.concatenate([starts, [tbl.num_rows]])
    g_at = np.searchsorted(g, bounds)
    b_at = np.searchsorted(b, bounds)
    models = good["model"]
    for i, name in enumerate(names):
        g0, g1, b0, b1 = int(g_at[i]), int(g_at[i + 1]), int(b_at[i]), int(b_at[i + 1])
        bad = pl.DataFrame({"_line": pl.Series(b[b0:b1] - starts[i] + 1, dtype=pl.Int64),
                            "_offset": pl.Series([None] * (b1 - b0), dtype=pl.Int64),
                            "reason": bad_reason.slice(b0, b1 - b0).cast(pl.String)})
        out[name] = Checked(name, p, 0, bad, (g[g0:g1] - starts[i]).astype(row_numbers(rows[i])), keys[g0:g1],
                            models.slice(g0, g1 - g0), why=why.get(i))
    for c in out.values():
        _feature_nulls(c)
        c.sort_keys()
    return out


def _feature_nulls(c: Checked) -> None:
    """The rows of ``c``'s file; which of its feature columns hold nulls (the footer's statistics say when none does),
    and for those, which valid records have a value."""
    pf = pq.ParquetFile(c.path)
    md = pf.metadata
    c.rows = md.num_rows
    if c.why:
        return
    with_nulls = []
    names = [md.schema.column(i).path for i in range(md.num_columns)]
    for feat in c.plan.features:
        i = names.index(feat)
        for g in range(md.num_row_groups):
            st = md.row_group(g).column(i).statistics
            if st is None or not st.has_null_count or st.null_count:
                with_nulls.append(feat)
                break
    if with_nulls:
        valid = pf.read(columns=with_nulls)
        idx = pa.array(c.good_rows)
        for feat in with_nulls:
            c.nulls[feat] = valid.column(feat).take(idx).is_valid().to_numpy(zero_copy_only=False)


@dataclass
class Adopted:
    """An adoption ready for the writer, and what it adds to the counters."""

    path: str
    adoption: Adoption
    keys: pl.DataFrame
    excluded: pl.DataFrame
    quarantine: pl.DataFrame | None
    kept: int
    duplicates: int
    quarantined: int
    new_keys: np.ndarray  # sorted and distinct: ``KeySet.add(..., presorted=True)``


def handle(c: Checked, sid: str, keyset: KeySet, catalog: FeatureCatalog, known: dict,
           max_features: int | None) -> Adopted | str:
    """Dedupe a checked file against ``keyset`` and map its features (``catalog``, mutated only
    when the file is adopted); the adoption, or why the file is read the usual way."""
    if c.why:
        return c.why
    hashes = c.keys
    if c.uniq is None:
        c.sort_keys()
    assert c.uniq is not None
    keep, fresh = keyset.probe(hashes, c.uniq, c.first)
    models = c.models.filter(pl.Series(keep)) if not keep.all() else c.models
    model_order = models.unique(maintain_order=True).to_list()
    # features per model among the kept rows: every feature without nulls, the others when valid
    present: dict[str, list[str]] = {}
    for model in model_order:
        sel = (c.models == model).to_numpy() & keep
        present[model] = sorted(f for f in c.plan.features if f not in c.nulls or bool(c.nulls[f][sel].any()))
    registry_kind = catalog.registry_kind
    for model in model_order:
        have = known.get(model, {})
        new = [f for f in present[model] if f not in have]
        if max_features is not None and len(have) + len(new) > max_features:
            return "too many features for the store's limit"
        for f in present[model]:
            st = have.get(f)
            kind = st.kind if st is not None and st.kind else registry_kind(model, f)
            how = c.plan.features[f]
            if kind is None:
                kind = "numeric" if how in (INT, FLOAT) else "categorical"
            if (kind == "numeric") != (how in (INT, FLOAT)):
                return f"feature {f!r} is {kind} but its column holds {'text' if how == STR else 'numbers'}"
    quar = None
    if c.bad.height:
        raw_of = parquet_raw(pq.ParquetFile(c.path).read(), 0)
        quar = c.bad.select(
            pl.lit("predictions").alias("kind"), pl.lit(c.path, pl.String).alias("source"),
            pl.col("_line").cast(pl.Int64).alias("line"), pl.col("_offset").cast(pl.Int64).alias("byte_offset"),
            pl.col("reason"),
        ).with_columns(pl.Series("raw", raw_of(c.bad["_line"]), dtype=pl.String))
    mapping: dict[str, list[str]] = {}
    for model in model_order:
        for f in present[model]:
            how = c.plan.features[f]
            # (``written`` stays as it is: it says a *part* holds the column — the views read
            # an adopted file's through ``features`` below, and a part's SELECT must not name
            # a column no part has)
            st = catalog.state(model, f, T_NUM if how in (INT, FLOAT) else T_STR)
            prev = mapping.setdefault(f, [st.column, how])
            if prev[0] != st.column:  # cannot happen: one kind per column type (see above)
                raise ValueError(f"feature {f!r} maps to two columns")
    kept = int(keep.sum())
    good_excluded = c.good_rows[~keep]
    bad_rows = (c.bad["_line"].to_numpy() - 1).astype(np.int64)
    excluded_rows = np.sort(np.concatenate([bad_rows, good_excluded.astype(np.int64)]))
    # (the path categorical, not a string per row: a file re-read whole as duplicates excludes every row)
    excluded = pl.DataFrame({"_row": pl.Series(excluded_rows, dtype=pl.Int64)}).select(
        pl.lit(c.path, pl.String).cast(pl.Categorical).alias("source"), "_row")
    new_keys = hashes[keep]  # (in the file's order, for its key file; ``fresh``: sorted, for the key set)
    a = Adoption(sid=sid, fp="", rows=c.rows, batch=0, keys="", excluded=None, kept=kept,
                 quarantined=c.bad.height, duplicates=len(hashes) - kept, fields=dict(c.plan.fields),
                 features=mapping, models=model_order, schema=c.plan.schema)
    return Adopted(c.path, a, pl.DataFrame({KEY_COLUMN: pl.Series(new_keys, dtype=pl.UInt64)}), excluded, quar,
                   kept, len(hashes) - kept, c.bad.height, fresh)
