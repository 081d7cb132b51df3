"""Printing command results as ``table``, ``json`` or ``csv`` (docs/formats.md, 'The command line').

``json`` prints exactly one JSON document on stdout and nothing else there. ``table`` and
``csv`` print the rows a command chooses to tabulate; nested objects are flattened into
dotted column names (``latency_ms.p50``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from console import clock
from console.cells import cell

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
        return clock.rfc3339(value)
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
    return cell(to_jsonable(value))


def _csv_cell(value: Any) -> str:
    """A CSV value: as in a table, except that a number keeps every digit (the shortest text that
    reads back as the same float), so an export loses nothing."""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return _cell(value)


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
            writer.writerow([_csv_cell(r.get(c)) for c in cols])
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


def render_sections(title: str, sections: Sequence[tuple[str, Sequence[str], Any]], out: TextIO) -> None:
    """A document of sections — ``(heading, columns, rows or a paragraph)``, as the governance
    reports build them — as plain text: the title, then each heading and its aligned table."""
    out.write(title + "\n" + "=" * min(len(title), 100) + "\n")
    for heading, cols, rows in sections:
        out.write("\n")
        if heading:
            out.write(heading + "\n" + "-" * min(len(heading), 100) + "\n")
        if isinstance(rows, str):
            out.write(rows + "\n")
        else:
            render_table([dict(zip(cols, row, strict=True)) for row in rows], list(cols), None, out)


def _column_cells(column: Any, csv_out: bool = False) -> list[str]:
    """The cells of one Arrow column as ``_cell`` would print them (``_csv_cell`` with
    ``csv_out``; a fast path per type)."""
    import pyarrow as pa

    t = column.type
    values = column.to_pylist()
    if pa.types.is_integer(t):
        return ["" if v is None else str(v) for v in values]
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return ["" if v is None else v for v in values]
    if pa.types.is_nested(t):
        return ["" if v is None else json.dumps(to_jsonable(v), separators=(",", ":"), ensure_ascii=False)
                for v in values]
    if csv_out and pa.types.is_floating(t):
        return [_csv_cell(v) for v in values]
    return [_cell(v) for v in values]


def emit_stream(columns: Sequence[str], batches: Iterable[Any], fmt: str, out: TextIO | None = None,
                table_rows: int = 10_000) -> int:
    """Print rows as they come — pyarrow record ``batches`` — in bounded memory: ``json`` one
    array written an object at a time, ``csv`` a line per row, ``table`` columns sized by the
    first ``table_rows`` rows (a wider later value pushes its line). Nested values are compact
    JSON text. Returns the number of rows printed."""
    out = out or sys.stdout
    cols = list(columns)
    n = 0
    if fmt == "json":
        for batch in batches:
            for row in batch.to_pylist():
                doc = json.dumps(to_jsonable(row), indent=2, ensure_ascii=False)
                out.write(("[\n" if n == 0 else ",\n") + "\n".join("  " + line for line in doc.splitlines()))
                n += 1
        out.write("[]\n" if n == 0 else "\n]\n")
        return n

    def lines() -> Iterable[Sequence[str]]:
        for batch in batches:
            yield from zip(*(_column_cells(c) for c in batch.columns), strict=True)

    if fmt == "csv":
        csv.writer(out, lineterminator="\n").writerow(cols)
        for batch in batches:  # a batch at a time: one write per batch, not per row
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(
                zip(*(_column_cells(c, csv_out=True) for c in batch.columns), strict=True))
            out.write(buf.getvalue())
            n += batch.num_rows
        return n
    it = iter(lines())
    head: list[Sequence[str]] = []
    for row in it:
        head.append(row)
        if len(head) >= table_rows:
            break
    if not head:
        out.write("(no rows)\n")
        return 0
    widths = [max(len(c), *(len(r[i]) for r in head)) for i, c in enumerate(cols)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip() + "\n"

    out.write(line(cols))
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in head:
        out.write(line(r))
    n = len(head)
    for row in it:
        out.write(line(row))
        n += 1
    return n
