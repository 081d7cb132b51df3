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

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pj

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


def _special_reasons(block: LineBlock) -> dict[int, str]:
    """Lines that are not parsed at all (empty, over-long), by index in the block."""
    if block.n == 0:
        return {}
    lens = block.ends - block.starts
    arr = np.frombuffer(block.data, dtype=np.uint8)
    first = arr[np.minimum(block.starts, max(len(arr) - 1, 0))]
    blank = (lens == 0) | ((lens == 1) & (first == 13))
    over = lens > MAX_LINE
    return {
        int(i): "empty line" if blank[i] else f"line longer than {MAX_LINE} bytes" for i in np.flatnonzero(blank | over)
    }


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
    return value, None


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
        fields[FEATURE_PREFIX + str(k)] = v
    return fields, None


def _label_fields(obj: dict) -> dict:
    return {k: obj[k] for k in LABEL_FIELDS if k in obj}


def _slow_jsonl(block: LineBlock, idx: list[int], kind: str, builder: TaggedBuilder, reasons: dict[int, str]) -> None:
    data = block.data
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
            read_options=pcsv.ReadOptions(column_names=header, block_size=_block_size(buf)),
            parse_options=pcsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    if table.num_rows != nlines:
        raise NeedsSlowPath("row count differs from line count")
    return table


def parse_block(block: LineBlock, kind: str, parser: str = "jsonl", header: list[str] | None = None) -> pl.DataFrame:
    """Tagged rows for every line of ``block``, in line order (one row per line)."""
    reasons = _special_reasons(block)
    frames: list[pl.DataFrame] = []
    slow = TaggedBuilder()
    slow_idx: list[int] = sorted(reasons)
    if not reasons:
        good = np.arange(block.n, dtype=np.int64)
        gbuf = memoryview(block.data)
        gstarts, gends = block.starts, block.ends
    else:
        keep = np.ones(block.n, dtype=bool)
        keep[slow_idx] = False
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
            frames.append(_tag_table(table, kind, parser, good[lo:hi], block))
        except (pa.ArrowInvalid, pa.ArrowException, NeedsSlowPath, UnicodeDecodeError, ValueError, TypeError):
            mid = (lo + hi) // 2
            run(lo, mid)
            run(mid, hi)

    run(0, len(good))
    if slow_idx:
        slow_idx.sort()
        if parser == "jsonl":
            _slow_jsonl(block, slow_idx, kind, slow, reasons)
            frames.append(slow.frame())
        else:
            assert header is not None
            frames.append(_slow_csv(block, slow_idx, kind, header, reasons))
    if not frames:
        return pl.DataFrame({"_line": pl.Series([], dtype=pl.Int64), "_offset": pl.Series([], dtype=pl.Int64), "_reason": pl.Series([], dtype=pl.String)})
    df = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    return df.sort("_line") if len(frames) > 1 else df


def _is_ascii(buf: memoryview) -> bool:
    """No byte ≥ 0x80 (then the text is UTF-8 for sure); read in place, no copy."""
    return len(buf) == 0 or int(np.frombuffer(buf, dtype=np.uint8).max()) < 0x80


def _tag_table(table: pa.Table, kind: str, parser: str, idx: np.ndarray, block: LineBlock) -> pl.DataFrame:
    ix = idx
    lines = block.first_line + ix
    offsets = block.base + block.starts[ix]
    if parser == "jsonl":
        return tag_table(table, kind, lines, offsets, RESERVED_PREDICTION_FIELDS, LABEL_FIELDS, parquet=False)
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(pl.Series("_line", lines), pl.Series("_offset", offsets), pl.lit(None, pl.String).alias("_reason"))
    return _csv_tag(df, kind)


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


def _csv_tag(df: pl.DataFrame, kind: str) -> pl.DataFrame:
    rename = {}
    keep = ["_line", "_offset", "_reason"]
    for c in df.columns:
        if c.startswith("_") and c in keep:
            continue
        target = _csv_field_name(c, kind)
        if target is not None:
            rename[c] = target
    df = df.select(keep + list(rename)).rename(rename)
    return csv_text_tags(df, list(rename.values()))


def _slow_csv(block: LineBlock, idx: list[int], kind: str, header: list[str], reasons: dict[int, str]) -> pl.DataFrame:
    rows: dict[str, list] = {h: [] for h in header}
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
        for j, h in enumerate(header):
            rows[h].append(values[j] if values is not None else None)
    df = pl.DataFrame({h: pl.Series(v, dtype=pl.String) for h, v in rows.items()})
    df = df.with_columns(
        pl.Series("_line", lines, dtype=pl.Int64), pl.Series("_offset", offsets, dtype=pl.Int64), pl.Series("_reason", why, dtype=pl.String)
    )
    return _csv_tag(df, kind)


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
    lines = np.arange(first_row + 1, first_row + 1 + table.num_rows, dtype=np.int64)
    return tag_table(table, kind, lines, None, RESERVED_PREDICTION_FIELDS, LABEL_FIELDS, parquet=True)
