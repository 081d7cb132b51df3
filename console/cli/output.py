"""Printing command results as ``table``, ``json`` or ``csv`` (CONTRACT §5).

``json`` prints exactly one JSON document on stdout and nothing else there. ``table`` and
``csv`` print the rows a command chooses to tabulate; nested objects are flattened into
dotted column names (``latency_ms.p50``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

FORMATS = ("table", "json", "csv")


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars, dates, paths and NaN into plain JSON values (NaN → null)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return to_jsonable(item())
    return str(value)


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``; lists become compact JSON text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(to_jsonable(value), separators=(",", ":"))
        else:
            out[name] = value
    return out


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    seen: set[str] = set()
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                cols.append(key)
    return cols


def _cell(value: Any) -> str:
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def emit(
    result: Any,
    fmt: str,
    rows: Iterable[Mapping[str, Any]] | None = None,
    title: str | None = None,
    out: TextIO | None = None,
) -> None:
    """Print ``result``: the whole document for json, ``rows`` (default: result) otherwise."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump(to_jsonable(result), out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    if rows is None:
        rows = result if isinstance(result, list) else [result]
    flat = [flatten(r) for r in rows]
    cols = _columns(flat)
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(cols)
        for r in flat:
            writer.writerow([_cell(r.get(c)) for c in cols])
        return
    render_table(flat, cols, title, out)


def render_table(
    rows: Sequence[Mapping[str, Any]], cols: Sequence[str], title: str | None, out: TextIO
) -> None:
    """A plain, colour-free aligned table (pipes and scripts read it as easily as people)."""
    if title:
        out.write(title + "\n")
    if not rows:
        out.write("(no rows)\n")
        return
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
