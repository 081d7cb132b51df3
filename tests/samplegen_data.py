"""Test helper: read the sample workspace's files directly (JSONL/CSV, gzipped or not, Parquet).

Independent of ``console.ingest`` on purpose: the tests of the sample check what is in the
files, the way a user's own script would read them. Bad lines are collected, not dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def open_text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def parse_ts(value) -> dt.datetime:
    """RFC 3339 text or epoch seconds → aware datetime (ValueError when unreadable)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    try:
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    except ValueError:
        pass
    t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@dataclass
class Records:
    """Parsed records and the raw lines that did not parse as JSON."""

    rows: list[dict] = field(default_factory=list)
    unparseable: list[tuple[str, str]] = field(default_factory=list)  # (file, line)


def read_folder(folder: Path) -> Records:
    out = Records()
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.endswith(".parquet"):
            for row in pq.read_table(path).to_pylist():
                out.rows.append({**row, "_file": name})
        elif ".jsonl" in name:
            for line in open_text(path).splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    out.unparseable.append((name, line))
                    continue
                out.rows.append({**rec, "_file": name})
        elif ".csv" in name:
            for rec in csv.DictReader(io.StringIO(open_text(path))):
                out.rows.append({**rec, "_file": name})
    return out


def flat(rec: dict) -> dict:
    """A record with its nested ``features`` merged in at the top level."""
    out = {k: v for k, v in rec.items() if k != "features"}
    out.update(rec.get("features") or {})
    return out


def valid_ts(rec: dict) -> dt.datetime | None:
    try:
        return parse_ts(rec["ts"])
    except (KeyError, ValueError, TypeError, OverflowError):
        return None
