"""Durations: the one grammar every flag and ``console.toml`` key that takes a length of time
uses (docs/formats.md, 'Durations, times and windows').

A duration is a number and a unit, nothing else: ``500ms``, ``30s``, ``15m``, ``1h``, ``3d``,
``1w``, ``1.5h`` — a whole or decimal number (no sign, no exponent), then one of ``ms s m h d w``
in lower case, spaces allowed around both. Words such as ``all``, ``never`` or a plain number of
seconds are not durations: the few settings that take them say so and handle them before
calling ``parse``.

Bad input is a ``UsageError`` (exit 2) of one line naming what was being read, e.g.
``bad --window '1x': use a duration such as 30s, 15m, 1h, 3d or 1w (a number and ms/s/m/h/d/w)``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from console.errors import UsageError

UNITS: dict[str, float] = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
GRAMMAR = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*")
HINT = "use a duration such as 30s, 15m, 1h, 3d or 1w (a number and ms/s/m/h/d/w)"


def is_duration(value: Any) -> bool:
    """Whether ``value`` is a string spelled as a duration."""
    return isinstance(value, str) and GRAMMAR.fullmatch(value) is not None


def seconds(value: Any, what: str = "duration") -> float:
    """The seconds of a duration string; ``UsageError`` naming ``what`` otherwise."""
    m = GRAMMAR.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise UsageError(f"bad {what} {value!r}: {HINT}")
    return float(m.group(1)) * UNITS[m.group(2)]


def parse(value: Any, what: str = "duration") -> dt.timedelta:
    """A duration string as a ``timedelta``; ``UsageError`` naming ``what`` otherwise."""
    return dt.timedelta(seconds=seconds(value, what))


def whole_seconds(value: Any, what: str = "duration", at_least: int = 1) -> int:
    """A duration in whole seconds, at least ``at_least`` (window sizes, the future skew)."""
    secs = seconds(value, what)
    if secs < at_least or secs != int(secs):
        raise UsageError(f"bad {what} {value!r}: must be a whole number of seconds, at least {at_least}s")
    return int(secs)
