"""Turn parsed records into *tagged* columns, the one shape validation works on.

Every field ``F`` of a record becomes three columns: ``F|t`` (Int8 tag: 0 missing/null,
1 number, 2 string, 3 bool, 4 other — an object or a list), ``F|n`` (Float64, the number) and
``F|s`` (String: the string, ``"true"``/``"false"`` for a bool, the exact text of an integer, the
cell text of a CSV number). Features are tagged the same way under ``f:<name>``. Parsers
that produce Arrow tables (pyarrow's JSON reader, Parquet) are tagged column by column,
vectorised; the careful per-line parser tags Python values one by one. ``ts`` parsed by Arrow
as a timestamp also fills ``ts|d``. Rows that could not be parsed at all carry ``_reason``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

T_NULL, T_NUM, T_STR, T_BOOL, T_OTHER = 0, 1, 2, 3, 4
FEATURE_PREFIX = "f:"


class NeedsSlowPath(Exception):
    """The fast path met something it cannot represent faithfully (re-parse line by line)."""


def tag_arrow_column(name: str, arr: pa.Array | pa.ChunkedArray, *, allow_ts: bool) -> dict[str, pa.Array]:
    """Tagged columns for one Arrow column (see the module docstring)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n = len(arr)
    typ = arr.type
    if pa.types.is_dictionary(typ):
        arr = arr.cast(typ.value_type)
        typ = arr.type
    valid = pc.is_valid(arr) if arr.null_count else None
    null_f = pa.nulls(n, pa.float64())
    null_s = pa.nulls(n, pa.string())

    def tag(code: int) -> pa.Array:
        t = pa.repeat(pa.scalar(code, pa.int8()), n)
        if valid is not None:
            t = pc.if_else(valid, t, pa.scalar(0, pa.int8()))
        return t

    out: dict[str, pa.Array] = {}
    if pa.types.is_null(typ):
        out = {"t": pa.repeat(pa.scalar(0, pa.int8()), n), "n": null_f, "s": null_s}
    elif pa.types.is_integer(typ):
        out = {"t": tag(T_NUM), "n": pc.cast(arr, pa.float64()), "s": pc.cast(arr, pa.string())}
    elif pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        out = {"t": tag(T_NUM), "n": pc.cast(arr, pa.float64()), "s": null_s}
    elif pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        out = {"t": tag(T_STR), "n": null_f, "s": pc.cast(arr, pa.string())}
    elif pa.types.is_boolean(typ):
        out = {
            "t": tag(T_BOOL),
            "n": null_f,
            "s": pc.if_else(arr, pa.scalar("true"), pa.scalar("false")),
        }
    elif pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        if not allow_ts:
            raise NeedsSlowPath(f"column {name!r} was read as a timestamp")
        ts = arr
        if pa.types.is_date(typ):
            ts = pc.cast(arr, pa.timestamp("us"))
        elif typ.tz is not None:
            ts = pc.cast(arr, pa.timestamp(typ.unit, "UTC"))
            ts = pa.Array.from_buffers(pa.timestamp(typ.unit), len(ts), ts.buffers(), ts.null_count, ts.offset)
        ts = pc.cast(ts, pa.timestamp("us"))
        out = {"t": tag(T_STR), "n": null_f, "s": null_s, "d": ts}
    elif pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        raise NeedsSlowPath(f"column {name!r} is binary")
    else:
        out = {"t": tag(T_OTHER), "n": null_f, "s": null_s}
    return {f"{name}|{k}": v for k, v in out.items()}


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


def frame_from_arrow_columns(columns: dict[str, pa.Array], lines: Iterable[int], offsets: Iterable[int | None]) -> pl.DataFrame:
    """A tagged polars frame from tagged Arrow columns plus line numbers and byte offsets."""
    table = pa.table(columns) if columns else None
    df = pl.from_arrow(table) if table is not None else pl.DataFrame()
    assert isinstance(df, pl.DataFrame)
    meta = pl.DataFrame(
        {
            "_line": pl.Series(list(lines) if not isinstance(lines, pl.Series) else lines, dtype=pl.Int64),
            "_offset": pl.Series(list(offsets) if not isinstance(offsets, pl.Series) else offsets, dtype=pl.Int64),
        }
    )
    meta = meta.with_columns(pl.lit(None, pl.String).alias("_reason"))
    return pl.concat([meta, df], how="horizontal") if df.width else meta


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
