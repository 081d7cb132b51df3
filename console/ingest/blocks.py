"""Reading a source file in pieces the ingester can parse in worker threads.

Line files (JSON Lines, CSV, gzipped or not) are read as ``LineBlock``s of complete lines
(``iter_blocks``): at most ``BLOCK_LINES`` lines each, however short, so memory follows the
block, never the file; a line longer than ``MAX_LINE`` is skipped in pieces and reported as
``Oversized``; an incomplete last line waits for the next pass. Parquet files are read as
record batches tagged like parsed lines (``tag_parquet``, ``parquet_whole``), and
``parquet_raw`` gives the quarantined rows' raw text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from console.ingest import formats
from console.ingest.formats import MAX_LINE, RAW_KEEP, LineBlock
from console.store.schema import LABEL_FIELDS

READ_BYTES = 8 << 20
BLOCK_LINES = 65_536  # lines per parsed block, at most


@dataclass
class Oversized:
    """A line longer than ``MAX_LINE``: where it starts, its first bytes, where it ends."""

    offset: int
    line: int
    raw: str
    end: int


def tag_parquet(batch, kind: str, row: int) -> tuple[pl.DataFrame, object]:
    return _tag_checked(batch, kind, row), batch


def parquet_whole(path: Path, kind: str, offset: int) -> tuple[pl.DataFrame, object]:
    """A small Parquet file from row ``offset`` on, read and tagged (in a worker thread)."""
    tbl = pq.ParquetFile(path).read()
    if offset:
        tbl = tbl.slice(offset)
    return _tag_checked(tbl, kind, offset), tbl


def _tag_checked(batch, kind: str, row: int) -> pl.DataFrame:
    """Tagged rows of a Parquet batch; every row quarantined when a column it would be read
    from appears twice (which one holds the record's value cannot be known)."""
    names = [
        fld.name for fld in batch.schema
        if not (pa.types.is_binary(fld.type) or pa.types.is_large_binary(fld.type))
        and (kind == "predictions" or fld.name in LABEL_FIELDS)
    ]
    twice = sorted({n for n in names if names.count(n) > 1})
    if not twice:
        every = batch.schema.names
        ignored = {n for n in every if every.count(n) > 1}  # repeated, but not read (bytes; not a label field)
        if ignored:
            batch = batch.select([i for i, n in enumerate(every) if n not in ignored])
        return formats.tag_parquet_batch(batch, kind, row)
    n = batch.num_rows
    return pl.DataFrame({
        "_line": pl.Series(np.arange(row + 1, row + 1 + n, dtype=np.int64)),
        "_offset": pl.Series([None] * n, dtype=pl.Int64),
        "_reason": pl.Series([f"column '{twice[0]}' appears more than once"] * n, dtype=pl.String),
    })


def parquet_raw(tbl: pa.Table, base: int) -> Callable[[pl.Series], list[str]]:
    """The raw text (JSON, cut to ``RAW_KEEP``) of rows of ``tbl`` by 1-based row number;
    ``base``: the file row of the table's first row."""

    def raw_of(lines: pl.Series) -> list[str]:
        names = tbl.column_names
        unique = len(set(names)) == len(names)
        cols = tbl.take(pa.array(lines.to_numpy() - 1 - base)).columns
        return [
            json.dumps(dict(zip(names, r, strict=True)) if unique else list(zip(names, r, strict=True)),
                       default=str)[:RAW_KEEP]
            for r in zip(*(c.to_pylist() for c in cols), strict=True)
        ]

    return raw_of


def parquet_problem(exc: BaseException, row: int | None) -> str:
    """``last_error`` of a Parquet file that cannot be read (from ``row`` on: None = at all)."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    where = "" if not row else f" from row {row + 1}"
    return f"unreadable Parquet{where} (waiting for it to change): {exc}"[:500]


def pos(fh, default: int) -> int:
    try:
        return fh.tell()
    except (OSError, ValueError):
        return default


def skip(fh, n: int) -> bool:
    """Read past the first ``n`` bytes of ``fh``; False when its content is shorter."""
    left = n
    while left > 0:
        chunk = fh.read(min(left, READ_BYTES))
        if not chunk:
            return False
        left -= len(chunk)
    return True


def iter_blocks(
    fh, offset: int, first_line: int, read_bytes: int = READ_BYTES
) -> Iterator[tuple[LineBlock, int] | Oversized]:
    """Blocks of complete lines from ``fh`` (positioned at ``offset``); a line longer than
    ``MAX_LINE`` without a newline in sight is skipped in pieces and reported as ``Oversized``
    once its newline arrives. An incomplete last line is left for the next pass."""
    carry = b""
    line = first_line
    pos = offset  # absolute offset of carry[0]
    while True:
        chunk = fh.read(read_bytes)
        if not chunk:
            return
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) <= MAX_LINE:
                carry = data
                continue
            # an over-long line: keep its start, skip to its newline
            raw = data[:RAW_KEEP].decode("utf-8", errors="replace")
            start = pos
            skipped = len(data)
            while True:
                more = fh.read(READ_BYTES)
                if not more:
                    return  # incomplete: wait for its newline
                nl = more.find(b"\n")
                if nl >= 0:
                    skipped += nl + 1
                    rest = more[nl + 1 :]
                    break
                skipped += len(more)
            yield Oversized(start, line, raw, start + skipped)
            line += 1
            pos = start + skipped
            carry = rest
            # continue with the remainder as the next data
            if carry:
                cut2 = carry.rfind(b"\n")
                if cut2 >= 0:
                    for block in line_blocks(carry[: cut2 + 1], pos, line):
                        yield block, block.base + len(block.data)
                        line += block.n
                    pos += cut2 + 1
                    carry = carry[cut2 + 1 :]
            continue
        for block in line_blocks(data if cut + 1 == len(data) else data[: cut + 1], pos, line):
            yield block, block.base + len(block.data)
            line += block.n
        pos += cut + 1
        carry = data[cut + 1 :]


def line_blocks(data: bytes, pos: int, line: int) -> Iterator[LineBlock]:
    """``data`` (complete lines) as blocks of at most ``BLOCK_LINES`` lines: the records of
    a block are in memory at once (parsed, tagged, quarantined), so however short its lines
    (a gzip bomb of empty lines), a block holds at most that many."""
    if data.count(b"\n") <= BLOCK_LINES:
        yield LineBlock(data, pos, line)
        return
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    start = 0
    for i in range(BLOCK_LINES - 1, len(nl) + BLOCK_LINES - 1, BLOCK_LINES):
        end = int(nl[min(i, len(nl) - 1)]) + 1
        block = LineBlock(data[start:end], pos + start, line)
        yield block
        line += block.n
        start = end
