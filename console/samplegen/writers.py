"""Byte-deterministic file writers for the generator: JSONL, CSV, Parquet, gzip, JSON, TOML.

Everything the generator writes goes through here so that the same seed gives the same bytes:
gzip headers carry no file name and mtime 0, JSON keys keep their insertion order, Parquet
files are written by pyarrow with fixed options and no pandas metadata.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def _prepare(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_bytes(path: Path, data: bytes, gz: bool = False) -> None:
    """Write ``data`` to ``path`` (gzip with a fixed header when ``gz``)."""
    if gz:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as f:
            f.write(data)
        data = buf.getvalue()
    _prepare(path).write_bytes(data)


def json_line(record: dict[str, Any]) -> str:
    """One JSONL line (compact separators, no NaN: a NaN becomes null)."""
    return json.dumps(_clean(record), separators=(",", ":"), allow_nan=False) + "\n"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str], gz: bool = False) -> None:
    """Write records (dicts, or pre-made raw lines ending in ``\\n``) as JSONL."""
    text = "".join(r if isinstance(r, str) else json_line(r) for r in records)
    write_bytes(path, text.encode("utf-8"), gz=gz)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any] | str]) -> str:
    """CSV text with ``\\n`` line ends; a ``str`` row is written verbatim (malformed lines)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if isinstance(row, str):
            buf.write(row)
        else:
            writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any] | str], gz: bool = False) -> None:
    write_bytes(path, csv_text(header, rows).encode("utf-8"), gz=gz)


def write_parquet(path: Path, table: pa.Table, row_group_size: int = 128 * 1024) -> None:
    """A Parquet file with fixed options (zstd, no pandas metadata) so bytes are reproducible."""
    table = table.replace_schema_metadata(None)
    pq.write_table(
        table,
        str(_prepare(path)),
        compression="zstd",
        row_group_size=row_group_size,
        use_dictionary=True,
        write_statistics=True,
    )


def write_json(path: Path, doc: Any) -> None:
    """Pretty JSON (2-space indent, key order kept, trailing newline)."""
    _prepare(path).write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``root`` (used to prove determinism)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
