"""SQL quoting: the one place that turns a name or a value into DuckDB SQL text.

Most values reach DuckDB as bound parameters; these are for what cannot be bound: identifiers
(feature columns, view names) and values inside generated SQL (``SET allowed_directories``,
``read_parquet('…')``, ``CASE`` labels). ``ident`` doubles ``"``, ``literal`` doubles ``'``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from console import clock


def ident(name: str) -> str:
    """A DuckDB identifier, quoted: ``a"b`` → ``"a""b"``."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A SQL literal (text, number, bool, date, timestamp as naive UTC); ``None`` is ``NULL``."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return f"'{value!r}'::DOUBLE"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{clock.naive_utc(value).isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"
