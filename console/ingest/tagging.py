"""Turn parsed records into *tagged* columns, the one shape validation works on.

Every field ``F`` of a record becomes three columns: ``F|t`` (Int8 tag: 0 missing/null,
1 number, 2 string, 3 bool, 4 other — an object or a list), ``F|n`` (Float64, the number) and
``F|s`` (String: the string, ``"true"``/``"false"`` for a bool, the exact text of an integer, the
cell text of a CSV number). Features are tagged the same way under ``f:<name>``. Parsers
that produce Arrow tables (pyarrow's JSON reader, Parquet) are tagged column by column,
vectorised (``tag_table``: polars expressions, one select); the careful per-line parser tags
Python values one by one. ``ts`` read as a timestamp also fills ``ts|d``. Rows that could not be parsed at all carry ``_reason``.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

T_NULL, T_NUM, T_STR, T_BOOL, T_OTHER = 0, 1, 2, 3, 4
FEATURE_PREFIX = "f:"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NeedsSlowPath(Exception):
    """The fast path met something it cannot represent faithfully (re-parse line by line)."""


def tag_python_value(value: Any) -> tuple[int, float | None, str | None]:
    """(tag, number, text) of one JSON value."""
    if value is None:
        return T_NULL, None, None
    if value is True or value is False:
        return T_BOOL, None, "true" if value else "false"
    if isinstance(value, int):
        try:
            return T_NUM, float(value), str(value)
        except OverflowError:
            return T_NUM, math.inf if value > 0 else -math.inf, str(value)
    if isinstance(value, float):
        return T_NUM, value, None
    if isinstance(value, str):
        return T_STR, None, value
    return T_OTHER, None, None


class TaggedBuilder:
    """Collects tagged values row by row (the careful path), then builds a polars frame."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {}
        self.nrows = 0
        self.lines: list[int] = []
        self.offsets: list[int] = []
        self.reasons: list[str | None] = []

    def add_row(self, line: int, offset: int, fields: dict[str, Any] | None, reason: str | None) -> None:
        i = self.nrows
        self.nrows += 1
        self.lines.append(line)
        self.offsets.append(offset)
        self.reasons.append(reason)
        if not fields:
            return
        for name, value in fields.items():
            t, num, text = tag_python_value(value)
            if t == T_NULL:
                continue
            cols = self.cols.get(name)
            if cols is None:
                cols = self.cols[name] = [[0] * i, [None] * i, [None] * i]
            tl, nl, sl = cols
            short = i - len(tl)
            if short:
                tl.extend([0] * short)
                nl.extend([None] * short)
                sl.extend([None] * short)
            tl.append(t)
            nl.append(num)
            sl.append(text)

    def add_text_row(self, line: int, offset: int, fields: dict[str, str | None] | None, reason: str | None) -> None:
        """A CSV row: every value is text (or None); numbers are recognised later, vectorised."""
        self.add_row(line, offset, fields, reason)

    def frame(self) -> pl.DataFrame:
        data: dict[str, pl.Series] = {
            "_line": pl.Series("_line", self.lines, pl.Int64),
            "_offset": pl.Series("_offset", self.offsets, pl.Int64),
            "_reason": pl.Series("_reason", self.reasons, pl.String),
        }
        n = self.nrows
        for name, (tl, nl, sl) in self.cols.items():
            short = n - len(tl)
            if short:
                tl.extend([0] * short)
                nl.extend([None] * short)
                sl.extend([None] * short)
            data[f"{name}|t"] = pl.Series(tl, dtype=pl.Int8)
            data[f"{name}|n"] = pl.Series(nl, dtype=pl.Float64)
            data[f"{name}|s"] = pl.Series(sl, dtype=pl.String)
        return pl.DataFrame(data)


def csv_text_tags(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Tag CSV text columns: an empty cell is missing, a cell that reads as a finite number is
    a number (its text kept), anything else is a string."""
    exprs = []
    for name in names:
        s = pl.col(name)
        num = s.str.strip_chars().cast(pl.Float64, strict=False)
        num = pl.when(num.is_finite()).then(num)
        exprs += [
            pl.when(s.is_null() | (s == "")).then(pl.lit(T_NULL)).when(num.is_not_null()).then(pl.lit(T_NUM)).otherwise(pl.lit(T_STR)).cast(pl.Int8).alias(f"{name}|t"),
            pl.when(s.is_null() | (s == "")).then(None).otherwise(num).alias(f"{name}|n"),
            pl.when(s.is_null() | (s == "")).then(None).otherwise(s).alias(f"{name}|s"),
        ]
    keep = [c for c in df.columns if c.startswith("_")]
    return df.select([pl.col(c) for c in keep] + exprs)


# -- typed Arrow tables, tagged with polars expressions ------------------------------------
def _tag_exprs(target: str, col: pl.Expr, dtype: pl.DataType, allow_ts: bool, text_temporal: bool) -> list[pl.Expr]:
    """Tag expressions for a typed column: one type per column, so the tag is the type or 0."""
    valid = col.is_not_null()

    def tag(code: int) -> pl.Expr:
        return pl.when(valid).then(pl.lit(code, pl.Int8)).otherwise(pl.lit(T_NULL, pl.Int8))

    none_n = pl.lit(None, pl.Float64)
    none_s = pl.lit(None, pl.String)
    out: list[pl.Expr]
    if dtype == pl.Null:
        out = [pl.lit(T_NULL, pl.Int8), none_n, none_s]
    elif dtype.is_integer():
        out = [tag(T_NUM), col.cast(pl.Float64), col.cast(pl.String)]
    elif dtype.is_float() or dtype.is_decimal():
        out = [tag(T_NUM), col.cast(pl.Float64), none_s]
    elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        out = [tag(T_STR), none_n, col.cast(pl.String)]
    elif dtype == pl.Boolean:
        out = [tag(T_BOOL), none_n, pl.when(col).then(pl.lit("true")).otherwise(pl.lit("false"))]
    elif dtype.is_temporal():
        if allow_ts and isinstance(dtype, (pl.Datetime, pl.Date)):
            d = col
            if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
                d = d.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            d = d.cast(pl.Datetime("us"))
            return [tag(T_STR).alias(f"{target}|t"), none_n.alias(f"{target}|n"), none_s.alias(f"{target}|s"), d.alias(f"{target}|d")]
        if not text_temporal:
            raise NeedsSlowPath(f"column {target!r} was read as a timestamp")
        out = [tag(T_STR), none_n, col.cast(pl.String)]
    elif dtype == pl.Binary:
        raise NeedsSlowPath(f"column {target!r} is binary")
    else:
        out = [tag(T_OTHER), none_n, none_s]
    return [e.alias(f"{target}|{k}") for e, k in zip(out, ("t", "n", "s"), strict=True)]


@functools.lru_cache(maxsize=256)
def _table_exprs(
    kind: str,
    parquet: bool,
    schema_key: tuple[tuple[str, str], ...],
    reserved: tuple[str, ...],
    label_fields: tuple[str, ...],
    has_obj: bool,
) -> list[pl.Expr]:
    """The tag expressions of a table with this schema (column names and dtype reprs).
    Built once per schema: building polars expressions costs more than running them on a
    block. ``NeedsSlowPath`` is raised (and not cached) when the schema cannot be tagged."""
    schema = {name: _DTYPES[rep] for name, rep in schema_key}
    exprs: list[pl.Expr] = []
    if kind == "labels":
        for name, dtype in schema.items():
            if name in label_fields:
                exprs += _tag_exprs(name, pl.col(name), dtype, name == "ts", parquet)
        return exprs
    nested: dict[str, tuple[pl.Expr, pl.DataType]] = {}
    flat: dict[str, tuple[pl.Expr, pl.DataType]] = {}
    for name, dtype in schema.items():
        if name == "features":
            if isinstance(dtype, pl.Struct):
                for fld in dtype.fields:
                    nested[fld.name] = (pl.col("features").struct.field(fld.name), fld.dtype)
        elif name in reserved:
            exprs += _tag_exprs(name, pl.col(name), dtype, name == "ts", parquet)
        else:
            flat[name] = (pl.col(name), dtype)
    for name in sorted(set(nested) | set(flat)):
        target = FEATURE_PREFIX + name
        if name in flat and (name not in nested or not has_obj):
            exprs += _tag_exprs(target, *flat[name], allow_ts=False, text_temporal=parquet)
            if has_obj:  # rows with a features object take their features from it only
                exprs[-3] = pl.when(pl.col("_fobj")).then(pl.lit(T_NULL, pl.Int8)).otherwise(exprs[-3]).alias(f"{target}|t")
            continue
        a = _tag_exprs(target, *nested[name], allow_ts=False, text_temporal=parquet)
        if name not in flat:
            a[0] = pl.when(pl.col("_fobj")).then(a[0]).otherwise(pl.lit(T_NULL, pl.Int8)).alias(f"{target}|t")
            exprs += a
        else:
            b = _tag_exprs(target, *flat[name], allow_ts=False, text_temporal=parquet)
            exprs += [pl.when(pl.col("_fobj")).then(x).otherwise(y).alias(x.meta.output_name()) for x, y in zip(a, b, strict=True)]
    return exprs


_DTYPES: dict[str, pl.DataType] = {}  # repr(dtype) -> dtype, for the cache key above


def tag_table(
    table: pa.Table,
    kind: str,
    lines: np.ndarray,
    offsets: np.ndarray | None,
    reserved: tuple[str, ...],
    label_fields: tuple[str, ...],
    parquet: bool,
) -> pl.DataFrame:
    """Tagged rows of a typed Arrow table (pyarrow's JSON reader, Parquet), in one polars select.

    JSON: a timestamp Arrow guessed for anything but ``ts`` sends the block to the careful
    parser (its text would be lost); Parquet: such columns are features as text.
    """
    n = table.num_rows
    feat_valid: pa.Array | None = None
    bad_features: pa.Array | None = None
    if kind == "predictions" and "features" in table.column_names:
        fcol = table.column("features")
        if pa.types.is_struct(fcol.type):
            feat_valid = pc.is_valid(fcol).combine_chunks() if isinstance(fcol, pa.ChunkedArray) else pc.is_valid(fcol)
            if fcol.type.num_fields == 0:
                table = table.drop_columns(["features"])
        elif not pa.types.is_null(fcol.type):
            bad_features = pc.is_valid(fcol)
            table = table.drop_columns(["features"])
        else:
            table = table.drop_columns(["features"])
    names = list(table.column_names)
    if "features" in names and pa.types.is_struct(table.column("features").type):
        names += [f.name for f in table.column("features").type]
    if any(_CONTROL.search(name) for name in names):
        # polars cuts names at a NUL, and such a feature name quarantines its record: the
        # careful parser decides record by record
        raise NeedsSlowPath("a column name holds a control character")
    df = pl.from_arrow(table, rechunk=False)
    assert isinstance(df, pl.DataFrame)
    schema_key = []
    for name, dtype in df.schema.items():
        rep = repr(dtype)
        _DTYPES.setdefault(rep, dtype)
        schema_key.append((name, rep))
    exprs = _table_exprs(kind, parquet, tuple(schema_key), reserved, label_fields, feat_valid is not None)
    if feat_valid is not None:
        df = df.with_columns(pl.Series("_fobj", feat_valid))
    meta = [
        pl.Series("_line", lines, dtype=pl.Int64),
        pl.Series("_offset", offsets, dtype=pl.Int64) if offsets is not None else pl.repeat(None, n, dtype=pl.Int64, eager=True).alias("_offset"),
    ]
    reason = pl.lit(None, pl.String)
    if bad_features is not None:
        df = df.with_columns(pl.Series("_fbad", bad_features))
        reason = pl.when(pl.col("_fbad")).then(pl.lit("'features' must be an object")).otherwise(reason)
    out = df.select([*meta, reason.alias("_reason"), *exprs]) if df.width else pl.DataFrame(meta).with_columns(reason.alias("_reason"))
    return out
