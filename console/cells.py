"""How one value reads as text in a table cell: the command line's ``table`` and ``csv`` output
and the auditor's report (Markdown, HTML) print values the same way.

``cell(value, missing, digits)``: ``missing`` for ``None`` and non-finite numbers, ``yes``/``no``
for booleans, floats to ``digits`` significant digits, times as RFC 3339 UTC (``…Z``), lists and
objects as compact JSON, anything else as ``str``. The TUI formats numbers for reading at a
glance instead (thousands separators, fixed decimals: ``console.tui.format``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from console import clock


def cell(value: Any, missing: str = "", digits: int = 6) -> str:
    """One value as table text (see the module docstring)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(value, dt.datetime):
        return clock.rfc3339(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
