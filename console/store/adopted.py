"""Adopted Parquet sources: well-formed prediction files the store reads in place.

An adopted file is not rewritten into parts. ``checkpoint.json`` names it under ``adopted``
(its path → an ``Adoption``): the fingerprint of its bytes when it was adopted (size, mtime
and a hash of its footer), its row count, the batch that adopted it, how each of its columns
maps to the store's (``fields``, ``features``), and the two sidecars of its batch under
``.console/parts/adopted/`` (one per batch, ``source`` saying whose rows):
``keys/b<batch>-0.parquet`` (``_key``, ``source``: the dedupe key of every row shown, for the
ingester's key set) and ``excluded/b<batch>-0.parquet`` (``source``, ``_row``, ``batch``: the
0-based row numbers not shown — quarantined or duplicate; ``excluded`` is None when none is).

The ``predictions`` view reads adopted files with ``read_parquet(…, filename=true,
file_row_number=true)``, anti-joined with their excluded rows, every column cast to the
store's name and type (``adopted_select``). Files of one column layout are read by one
``read_parquet``. This module only describes; the ingester (``console.ingest.adopt``) decides
what is adopted and the writer (``store.writer``) commits it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.store.sql import ident, literal

# how a contract field of an adopted file is read: the Arrow type class it has there
STR, INT, FLOAT, TS_UTC, TS_NAIVE = "str", "int", "float", "ts_utc", "ts_naive"


@dataclass
class Adoption:
    """One adopted file (``checkpoint.json``'s ``adopted[path]``)."""

    sid: str  # the source stream it belongs to
    fp: str  # size:mtime_ns:sha256(footer) at adoption
    rows: int  # rows in the file
    batch: int  # the batch that adopted it
    keys: str  # sidecar of dedupe keys (relative to .console/)
    excluded: str | None  # sidecar of excluded row numbers (None: every row is shown)
    kept: int = 0
    quarantined: int = 0
    duplicates: int = 0
    fields: dict[str, str] = field(default_factory=dict)  # contract field -> STR | INT | FLOAT | TS_*
    features: dict[str, list[str]] = field(default_factory=dict)  # source column -> [store column, INT|FLOAT|STR]
    models: list[str] = field(default_factory=list)  # models of the rows it contributes
    schema: str = ""  # its columns and types: files with the same one are read together

    def to_dict(self) -> dict[str, Any]:
        d = dict(vars(self))  # as dataclasses.asdict, much faster (the checkpoint is written every batch)
        d["fields"] = dict(self.fields)
        d["features"] = {k: list(v) for k, v in self.features.items()}
        d["models"] = list(self.models)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Adoption:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def number_text(x: str) -> str:
    """SQL text of a number the way the store writes a numeric prediction or label as text
    (``normalize.canonical_number_text``: a whole number without ``.0``). DuckDB spells some
    other floats differently from polars (``1e-05``): a float column is adopted only when this
    gives polars' text for every one of its values (checked when it is adopted)."""
    d = f"{x}::DOUBLE"
    return (f"CASE WHEN isfinite({d}) AND {d} = floor({d}) AND abs({d}) < 9.2e18 "
            f"THEN CAST(CAST({d} AS BIGINT) AS VARCHAR) WHEN isfinite({d}) THEN CAST({d} AS VARCHAR) END")


def utc_naive(x: str) -> str:
    """SQL: the naive UTC time of a zoned timestamp (``timezone('UTC', x)`` for every time a
    store holds, 1900–2300, at a fraction of its cost: no time-zone lookup per value)."""
    return f"make_timestamp(epoch_us({x}))"


# DuckDB and polars both print a float's shortest round-trip digits; they differ only in when
# they switch to exponent notation (DuckDB from 1e-5 down, polars from 1e-9 down: measured on
# millions of values, and held by tests/test_ingest_adopt.py). Whole numbers are printed as
# integers by both. So only values outside this band need comparing, value by value.
SPELLED_ALIKE = (1e-3, 1e15)


def spelled_alike_sql(x: str) -> str:
    """SQL: true when ``number_text(x)`` is polars' text of ``x`` without looking (a whole
    number below 9.2e18, a magnitude inside ``SPELLED_ALIKE``, or not finite: no text)."""
    d = f"{x}::DOUBLE"
    lo, hi = SPELLED_ALIKE
    return (f"coalesce(NOT isfinite({d}) OR ({d} = floor({d}) AND abs({d}) < 9.2e18) "
            f"OR (abs({d}) >= {lo!r} AND abs({d}) < {hi!r}), true)")


def contract_exprs(a: Adoption) -> dict[str, str]:
    """Store column → SQL over the file's columns (alias ``s``) for the contract fields."""
    f = a.fields

    def col(name: str) -> str:
        return f"s.{ident(name)}"

    ts = utc_naive(col("ts")) if f.get("ts") == TS_UTC else f"{col('ts')}::TIMESTAMP"
    out = {"ts": ts, "day": f"CAST({ts} AS DATE)", "model": col("model"), "version": col("version"),
           "request_id": col("request_id")}
    for name in ("prediction", "label"):
        t = f.get(name)
        if t is None:
            out[name] = out[f"{name}_num"] = "NULL"
        elif t == STR:
            out[name], out[f"{name}_num"] = col(name), "NULL"
        else:
            out[name], out[f"{name}_num"] = number_text(col(name)), f"{col(name)}::DOUBLE"
    for name in ("score", "latency_ms", "cost_usd"):
        out[name] = f"{col(name)}::DOUBLE" if name in f else "NULL"
    out["status"] = f"coalesce({col('status')}, 'ok')" if "status" in f else "'ok'"
    out["error"] = col("error") if "error" in f else "NULL"
    return out


def feature_expr(src: str, how: str) -> str:
    c = f"s.{ident(src)}"
    if how == FLOAT:
        return f"CASE WHEN isfinite({c}) THEN {c}::DOUBLE END"
    if how == INT:
        return f"{c}::DOUBLE"
    return c


def adopted_select(group: list[tuple[str, Adoption]], cols: list[tuple[str, str]], excluded: list[str]) -> str:
    """One SELECT of the ``predictions`` columns ``cols`` (name, SQL type) over adopted files of
    one layout (``group``: (absolute path, adoption)); ``excluded``: their excluded sidecars."""
    a0 = group[0][1]
    exprs = contract_exprs(a0)
    for src, (store_col, how) in a0.features.items():
        exprs[store_col.lower()] = feature_expr(src, how)
    exprs["source"] = "s.filename"
    exprs["line"] = "s.file_row_number + 1"
    batches = {int(a.batch) for _, a in group}
    one = len(batches) == 1  # (as ``adopted_relations`` makes them: no join to find the batch)
    batch = str(batches.pop()) if one else "b.batch"
    exprs["batch"] = batch
    select = ", ".join(f"({exprs.get(n, exprs.get(n.lower(), 'NULL'))})::{t} AS {ident(n)}" for n, t in cols)
    files = "[" + ", ".join(literal(p) for p, _ in group) + "]"
    sql = f"SELECT {select} FROM read_parquet({files}, filename=true, file_row_number=true) s"
    if not one:
        values = ", ".join(f"({literal(p)}, {int(a.batch)})" for p, a in group)
        sql += f" JOIN (VALUES {values}) b(f, batch) ON b.f = s.filename"
    if excluded:
        ex = "[" + ", ".join(literal(p) for p in excluded) + "]"
        sql += (f" ANTI JOIN read_parquet({ex}) x ON x.source = s.filename "
                f"AND x._row = s.file_row_number AND x.batch = {batch}")
    return sql


def adopted_relations(root: str, adopted: dict[str, Adoption], cols: list[tuple[str, str]]) -> list[str]:
    """SELECTs (one per column layout, batch, and whether any row is excluded) of the rows of
    the adopted files that still exist: a constant batch and no anti-join where none is needed
    (a query over files without excluded rows reads them as ``read_parquet`` alone would)."""
    groups: dict[tuple, list[tuple[str, Adoption]]] = {}
    for path, a in sorted(adopted.items()):
        if not os.path.isfile(path):
            continue  # gone since: withdrawn by the next ingest; nothing to read meanwhile
        groups.setdefault((a.schema, a.batch, bool(a.excluded)), []).append((path, a))
    out = []
    for _, group in sorted(groups.items()):
        excluded = sorted({os.path.join(root, a.excluded) for _, a in group if a.excluded})
        out.append(adopted_select(group, cols, excluded))
    return out


def superseded_quarantine(select: str, withdrawn: dict[str, list[int]]) -> str:
    """``select`` (quarantine rows: ``source``, ``batch``) without the rows of withdrawn
    adoptions whose files were read again (``checkpoint.withdrawn``): each quarantined record
    is listed once, by its latest read."""
    if not withdrawn:
        return select
    pairs = ", ".join(f"({literal(path)}, {int(b)})" for path, bs in sorted(withdrawn.items()) for b in sorted(set(bs)))
    return (f"SELECT q.* FROM ({select}) q ANTI JOIN (VALUES {pairs}) w(source, batch) "
            "ON q.source = w.source AND q.batch = w.batch")


def adopted_models(adopted: dict[str, Adoption]) -> set[str]:
    return {m for a in adopted.values() for m in a.models}


def read_dirs(store_dir: str | Path | None, config: Mapping[str, Any]) -> list[str]:
    """Folders besides ``.console/`` whose files the views may read (the query sandbox allows
    them): the prediction sources', resolved as the workspace resolves them, when ``[ingest]
    adopt_parquet`` has the store read Parquet files there."""
    ingest = config.get("ingest") or {}
    if store_dir is None or not isinstance(ingest, dict) or ingest.get("adopt_parquet") is not True:
        return []
    root = Path(store_dir).parent
    sources = config.get("sources") or {}
    value = sources.get("predictions", ["logs"]) if isinstance(sources, dict) else ["logs"]
    out = []
    for v in [value] if isinstance(value, str) else list(value):
        p = Path(str(v)).expanduser()
        p = (p if p.is_absolute() else root / p).resolve()
        out.append(str(p if p.is_dir() else p.parent).rstrip("/") + "/")
    return out
