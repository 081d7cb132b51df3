"""Parsing blocks of complete lines (JSONL, CSV) and Parquet record batches into tagged frames.

The fast path hands a whole block to pyarrow's JSON or CSV reader (C++, multi-threaded, strict
about types) and tags its columns vectorised. When the block does not parse, or parses into
something that cannot be trusted (a different row count, a string Arrow guessed was a
timestamp), it is split in halves until the bad lines are isolated; small pieces go through
the careful per-line Python parser. Each input line becomes exactly one row: parsed fields, or
a ``_reason`` (empty line, over-long line, not UTF-8, not JSON, wrong field count).
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj

from console.ingest.normalize import too_many_features
from console.ingest.tagging import (
    FEATURE_PREFIX,
    NeedsSlowPath,
    TaggedBuilder,
    csv_text_tags,
    tag_table,
)
from console.store.schema import LABEL_FIELDS, RESERVED_PREDICTION_FIELDS

MAX_LINE = 1 << 20  # a line longer than this is quarantined without being parsed
SLOW_BELOW = 32  # blocks this small (in lines) go straight to the per-line parser
RAW_KEEP = 1024
BAD_FEATURE_NAME = "a feature name holds a control character"


class LineBlock:
    """A block of complete lines: bytes, the absolute offset of its first byte, its first line number."""

    def __init__(self, data: bytes, base_offset: int, first_line: int):
        self.data = data
        self.base = base_offset
        self.first_line = first_line
        arr = np.frombuffer(data, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
        self.starts = np.concatenate([np.zeros(1, dtype=np.int64), nl[:-1] + 1]) if len(nl) else np.zeros(0, np.int64)
        self.ends = nl.astype(np.int64)  # exclusive of the newline
        self.n = len(nl)

    def raw(self, i: int) -> str:
        s, e = int(self.starts[i]), int(self.ends[i])
        return self.data[s : min(e, s + RAW_KEEP)].decode("utf-8", errors="replace")


def _special_lines(block: LineBlock) -> tuple[np.ndarray, pl.DataFrame | None]:
    """Lines that are not parsed at all (empty, over-long): their indexes in the block, and
    their rows (built in one go: a block of nothing but empty lines costs no Python per line)."""
    if block.n == 0:
        return np.zeros(0, np.int64), None
    lens = block.ends - block.starts
    arr = np.frombuffer(block.data, dtype=np.uint8)
    first = arr[np.minimum(block.starts, max(len(arr) - 1, 0))]
    blank = (lens == 0) | ((lens == 1) & (first == 13))
    idx = np.flatnonzero(blank | (lens > MAX_LINE))
    if not len(idx):
        return idx, None
    rows = pl.DataFrame({
        "_line": pl.Series(block.first_line + idx, dtype=pl.Int64),
        "_offset": pl.Series(block.base + block.starts[idx], dtype=pl.Int64),
        "_reason": pl.Series(np.where(blank[idx], "empty line", f"line longer than {MAX_LINE} bytes"), dtype=pl.String),
    })
    return idx, rows


# -- JSONL ---------------------------------------------------------------------------------
def _decode_json_line(raw: bytes) -> tuple[dict | None, str | None]:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = str(exc) if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        return None, f"not valid JSON: {msg}"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    if _SURROGATE_ESCAPE.search(text) and not _is_unicode(value):
        return None, "a string holds a lone UTF-16 surrogate (not Unicode text)"
    return value, None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _is_unicode(value: object) -> bool:
    """No lone surrogate in any key or string of ``value`` (a ``\\ud800`` escape parses into one,
    and such a string cannot be stored as UTF-8). A valid escaped pair is one character."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _prediction_fields(obj: dict) -> tuple[dict | None, str | None]:
    fields = {k: obj.get(k) for k in RESERVED_PREDICTION_FIELDS if k != "features" and k in obj}
    feats = obj.get("features")
    if isinstance(feats, dict):
        source = feats.items()
    elif feats is None:
        source = ((k, v) for k, v in obj.items() if k not in RESERVED_PREDICTION_FIELDS)
    else:
        return None, "'features' must be an object"
    for k, v in source:
        if _CONTROL.search(k):
            return None, BAD_FEATURE_NAME
        fields[FEATURE_PREFIX + k] = v
    return fields, None


def _label_fields(obj: dict) -> dict:
    return {k: obj[k] for k in LABEL_FIELDS if k in obj}


def _slow_jsonl(
    block: LineBlock, idx: list[int], kind: str, builder: TaggedBuilder, reasons: dict[int, str], max_features: int | None
) -> None:
    data = block.data
    seen: dict[object, set[str]] = {}  # feature names per model in this block (bounds its width)
    for i in idx:
        line_no = block.first_line + i
        offset = block.base + int(block.starts[i])
        if i in reasons:
            builder.add_row(line_no, offset, None, reasons[i])
            continue
        obj, why = _decode_json_line(data[int(block.starts[i]) : int(block.ends[i])])
        if obj is None:
            builder.add_row(line_no, offset, None, why)
            continue
        if kind == "predictions":
            fields, why = _prediction_fields(obj)
            if fields is not None and max_features is not None:
                model = fields.get("model")
                names = seen.setdefault(model if isinstance(model, str) else None, set())
                new = [k for k in fields if k.startswith(FEATURE_PREFIX) and fields[k] is not None and k not in names]
                if len(names) + len(new) > max_features:
                    fields, why = None, too_many_features(max_features)
                else:
                    names.update(new)
            builder.add_row(line_no, offset, fields, why)
        else:
            builder.add_row(line_no, offset, _label_fields(obj), None)


def _block_size(buf: memoryview) -> int:
    """pyarrow's block size: 2 MiB (every line is at most ``MAX_LINE``, so a line always
    fits in one). JSON is parsed on the calling thread (the ingester parses two blocks at a
    time on its workers, cheaper than pyarrow's own threads); CSV on pyarrow's threads."""
    return min(len(buf) + 1, 2 * MAX_LINE + 16)


def _fast_parse(buf: memoryview, nlines: int, kind: str, parser: str, header: list[str] | None) -> pa.Table:
    if parser == "jsonl":
        table = pj.read_json(
            pa.BufferReader(pa.py_buffer(buf)),
            read_options=pj.ReadOptions(block_size=_block_size(buf), use_threads=False),
        )
    else:
        assert header is not None
        table = pcsv.read_csv(
            pa.BufferReader(pa.py_buffer(buf)),
            read_options=pcsv.ReadOptions(column_names=_positional(header), block_size=_block_size(buf)),
            parse_options=pcsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types={h: pa.string() for h in _positional(header)}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    if table.num_rows != nlines:
        raise NeedsSlowPath("row count differs from line count")
    return table


class _TooWide(Exception):
    """More feature columns than one model may have: the careful parser bounds them per model."""


def _feature_columns(table: pa.Table) -> int:
    n = sum(1 for c in table.column_names if c not in RESERVED_PREDICTION_FIELDS)
    if "features" in table.column_names and pa.types.is_struct(table.column("features").type):
        n += table.column("features").type.num_fields
    return n


def parse_block(
    block: LineBlock, kind: str, parser: str = "jsonl", header: list[str] | None = None, max_features: int | None = None
) -> pl.DataFrame:
    """Tagged rows for every line of ``block``, in line order (one row per line).

    ``max_features``: a JSONL record that would give its model more distinct features than
    this within the block is quarantined here, unparsed (a bound on the block's width; the
    store-wide bound is applied in validation)."""
    special, special_rows = _special_lines(block)
    frames: list[pl.DataFrame] = [] if special_rows is None else [special_rows]
    reasons: dict[int, str] = {}  # (the special lines are rows already)
    slow = TaggedBuilder()
    slow_idx: list[int] = []
    if special_rows is None:
        good = np.arange(block.n, dtype=np.int64)
        gbuf = memoryview(block.data)
        gstarts, gends = block.starts, block.ends
    else:
        keep = np.ones(block.n, dtype=bool)
        keep[special] = False
        good = np.flatnonzero(keep)
        pieces = [block.data[int(block.starts[i]) : int(block.ends[i]) + 1] for i in good]
        joined = b"".join(pieces)
        gbuf = memoryview(joined)
        lens = np.array([len(p) for p in pieces], dtype=np.int64)
        gends = np.cumsum(lens) - 1
        gstarts = gends - lens + 1

    def run(lo: int, hi: int) -> None:  # good[lo:hi]
        if hi <= lo:
            return
        if hi - lo <= SLOW_BELOW:
            slow_idx.extend(good[lo:hi].tolist())
            return
        a, b = int(gstarts[lo]), int(gends[hi - 1]) + 1
        try:
            if not _is_ascii(gbuf[a:b]):
                str(gbuf[a:b], "utf-8")  # not UTF-8: UnicodeDecodeError, split below
            table = _fast_parse(gbuf[a:b], hi - lo, kind, parser, header)
            if parser == "jsonl" and kind == "predictions" and max_features is not None and _feature_columns(table) > max_features:
                raise _TooWide
            frames.append(_tag_table(table, kind, parser, good[lo:hi], block, header))
        except _TooWide:
            slow_idx.extend(good[lo:hi].tolist())
        except (pa.ArrowInvalid, pa.ArrowException, NeedsSlowPath, UnicodeDecodeError, ValueError, TypeError, pl.exceptions.PolarsError):
            mid = (lo + hi) // 2
            run(lo, mid)
            run(mid, hi)

    run(0, len(good))
    if slow_idx:
        slow_idx.sort()
        if parser == "jsonl":
            _slow_jsonl(block, slow_idx, kind, slow, reasons, max_features)
            frames.append(slow.frame())
        else:
            assert header is not None
            frames.append(_slow_csv(block, slow_idx, kind, header, reasons))
    if not frames:
        return pl.DataFrame({"_line": pl.Series([], dtype=pl.Int64), "_offset": pl.Series([], dtype=pl.Int64), "_reason": pl.Series([], dtype=pl.String)})
    if len(frames) == 1:
        return frames[0]
    df = pl.concat(frames, how="diagonal_relaxed")
    # a field one frame lacks is missing on its rows (tag 0), never unknown (null)
    return df.with_columns(pl.col(r"^.*\|t$").fill_null(0)).sort("_line")


def _is_ascii(buf: memoryview) -> bool:
    """No byte ≥ 0x80 (then the text is UTF-8 for sure); read in place, no copy."""
    return len(buf) == 0 or int(np.frombuffer(buf, dtype=np.uint8).max()) < 0x80


def _tag_table(table: pa.Table, kind: str, parser: str, idx: np.ndarray, block: LineBlock, header: list[str] | None) -> pl.DataFrame:
    ix = idx
    lines = block.first_line + ix
    offsets = block.base + block.starts[ix]
    if parser == "jsonl":
        return tag_table(table, kind, lines, offsets, RESERVED_PREDICTION_FIELDS, LABEL_FIELDS, parquet=False)
    assert header is not None
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(pl.Series("_line", lines), pl.Series("_offset", offsets), pl.lit(None, pl.String).alias("_reason"))
    return _csv_tag(df, kind, header)


# -- CSV -----------------------------------------------------------------------------------
def csv_header(line: bytes) -> list[str]:
    """Column names from a CSV header line (BOM stripped; repeated names made unique and ignored)."""
    text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    names = next(csv.reader([text]), [])
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names):
        name = name.strip()
        if name in seen or name == "":
            name = f"\x00ignored{i}"
        seen.add(name)
        out.append(name)
    return out


def _csv_field_name(name: str, kind: str) -> str | None:
    if name.startswith("\x00"):
        return None
    if kind == "labels":
        return name if name in LABEL_FIELDS else None
    if name == "features":
        return None
    return name if name in RESERVED_PREDICTION_FIELDS else FEATURE_PREFIX + name


def _positional(header: list[str]) -> list[str]:
    """The names CSV columns are read under (``_c0``, ``_c1``, ...): a header name is text from
    the file, and may hold anything (a NUL, which Arrow cuts a name at; ``_line``)."""
    return [f"_c{i}" for i in range(len(header))]


def _csv_tag(df: pl.DataFrame, kind: str, header: list[str]) -> pl.DataFrame:
    rename = {}
    bad_names = []
    for pos, name in zip(_positional(header), header, strict=True):
        target = _csv_field_name(name, kind)
        if target is None:
            continue
        if target.startswith(FEATURE_PREFIX) and _CONTROL.search(name):
            bad_names.append(pos)
            continue
        rename[pos] = target
    if bad_names:  # a value under such a column quarantines its record (as in JSONL)
        has = pl.any_horizontal([pl.col(c).is_not_null() & (pl.col(c) != "") for c in bad_names])
        df = df.with_columns(pl.when(pl.col("_reason").is_null() & has).then(pl.lit(BAD_FEATURE_NAME)).otherwise(pl.col("_reason")).alias("_reason"))
    df = df.select(["_line", "_offset", "_reason", *rename]).rename(rename)
    return csv_text_tags(df, list(rename.values()))


def _slow_csv(block: LineBlock, idx: list[int], kind: str, header: list[str], reasons: dict[int, str]) -> pl.DataFrame:
    cols = _positional(header)
    rows: dict[str, list] = {h: [] for h in cols}
    lines, offsets, why = [], [], []
    for i in idx:
        lines.append(block.first_line + i)
        offsets.append(block.base + int(block.starts[i]))
        reason = reasons.get(i)
        values: list[str] | None = None
        if reason is None:
            raw = block.data[int(block.starts[i]) : int(block.ends[i])]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                reason = "not UTF-8 text"
            else:
                try:
                    values = next(csv.reader(io.StringIO(text), strict=True), [])
                except csv.Error as exc:
                    reason = f"not valid CSV: {exc}"
                else:
                    if len(values) != len(header):
                        reason = f"expected {len(header)} fields, got {len(values)}"
                        values = None
        why.append(reason)
        for j, h in enumerate(cols):
            rows[h].append(values[j] if values is not None else None)
    df = pl.DataFrame({h: pl.Series(v, dtype=pl.String) for h, v in rows.items()})
    df = df.with_columns(
        pl.Series("_line", lines, dtype=pl.Int64), pl.Series("_offset", offsets, dtype=pl.Int64), pl.Series("_reason", why, dtype=pl.String)
    )
    return _csv_tag(df, kind, header)


# -- Parquet -------------------------------------------------------------------------------
def tag_parquet_batch(batch: pa.RecordBatch | pa.Table, kind: str, first_row: int) -> pl.DataFrame:
    """Tagged rows of a Parquet record batch; ``_line`` is the 1-based row number, no byte offset."""
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    keep = []
    for name in table.column_names:
        typ = table.schema.field(name).type
        if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_dictionary(typ) and pa.types.is_binary(typ.value_type):
            continue  # bytes are not a contract type: such a column is ignored
        keep.append(name)
    if len(keep) != len(table.column_names):
        table = table.select(keep)
    bad = None
    if kind == "predictions":
        table, bad = _drop_control_named(table)
    lines = np.arange(first_row + 1, first_row + 1 + table.num_rows, dtype=np.int64)
    df = tag_table(table, kind, lines, None, RESERVED_PREDICTION_FIELDS, LABEL_FIELDS, parquet=True)
    if bad is not None:
        df = df.with_columns(
            pl.when(pl.col("_reason").is_null() & pl.Series(bad)).then(pl.lit(BAD_FEATURE_NAME)).otherwise(pl.col("_reason")).alias("_reason")
        )
    return df


def _drop_control_named(table: pa.Table) -> tuple[pa.Table, np.ndarray | None]:
    """Feature columns (or ``features`` struct fields) whose name holds a control character,
    dropped; with the mask of rows that had a value in one (they are quarantined, as in JSONL)."""
    bad = np.zeros(table.num_rows, dtype=bool)
    found = False
    for name in list(table.column_names):
        col = table.column(name)
        if _CONTROL.search(name):
            bad |= pc.is_valid(col).to_numpy(zero_copy_only=False)
            table = table.drop_columns([name])
            found = True
        elif name == "features" and pa.types.is_struct(col.type) and any(_CONTROL.search(f.name) for f in col.type):
            arr = col.combine_chunks()
            keep = []
            for i, fld in enumerate(col.type):
                child = pc.struct_field(arr, [i])
                if _CONTROL.search(fld.name):
                    bad |= (pc.is_valid(arr).to_numpy(zero_copy_only=False) & pc.is_valid(child).to_numpy(zero_copy_only=False))
                    found = True
                else:
                    keep.append((fld, child))
            new = pa.StructArray.from_arrays([c for _, c in keep], fields=[f for f, _ in keep], mask=pc.is_null(arr)) if keep else pa.nulls(len(arr))
            table = table.set_column(table.column_names.index(name), "features", new)
    return table, (bad if found else None)
