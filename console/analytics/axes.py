"""What a plot's axes say, decided without any drawing library: time labels at the precision the
data's span needs (``time_labels``) and which tick labels fit a plot's width (``fit_ticks``).

Ticks are thinned here, evenly, so that a plot never has to drop a label itself: the drawing
library the console uses drops labels that would overlap in an order that changes from one
process to the next (it deduplicates ticks through a ``set``), which made the same screen show
different axis labels on every run.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from console.clock import as_utc

DAY = dt.timedelta(days=1)
# Columns a plot loses to its frame and y-axis labels before its x axis starts.
AXIS_MARGIN = 10


def _as_time(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return as_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    try:
        return as_utc(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return None


def time_labels(values: Sequence[Any]) -> list[str]:
    """Labels for points in time (datetimes, dates or ISO strings; UTC): ``YYYY-MM-DD`` when they
    fall in more than one year, ``MM-DD`` when in more than one day, the hour added
    (``MM-DD HH:MM``) when points are less than a day apart, ``HH:MM`` within one day. A missing
    or unreadable value is ``—``."""
    times = [_as_time(v) for v in values]
    known = sorted(t for t in times if t is not None)
    if not known:
        return ["—"] * len(times)
    first, last = known[0], known[-1]
    sub_day = any(b - a < DAY for a, b in zip(known, known[1:], strict=False) if b != a) or (
        any(t.hour or t.minute for t in known))
    if first.year != last.year:
        fmt = "%Y-%m-%d %H:%M" if sub_day else "%Y-%m-%d"
    elif first.date() != last.date():
        fmt = "%m-%d %H:%M" if sub_day else "%m-%d"
    else:
        fmt = "%H:%M"
    return [t.strftime(fmt) if t is not None else "—" for t in times]


def fit_ticks(labels: Sequence[str], width: int | None) -> list[int]:
    """Indices of the labels to show on an x axis ``width`` columns wide (the whole plot,
    frame included): evenly spaced from the first, and the last, with no two overlapping.
    ``width=None`` (unknown): every sixth."""
    n = len(labels)
    if n == 0:
        return []
    if width is None:
        return list(range(0, n, max(1, math.ceil(n / 6))))
    canvas = max(1, width - AXIS_MARGIN)
    longest = max(len(s) for s in labels)
    # a label and a gap each side; half a label more, as the first and last are pushed inwards
    room = longest + 2 + (longest + 1) // 2
    per_tick = canvas / n  # columns between two neighbouring points
    step = max(1, math.ceil(room / per_tick)) if per_tick > 0 else n
    if room > canvas:
        return [0]
    keep = list(range(0, n, step))
    if keep[-1] != n - 1:  # the last label (the newest time, an overflow bin) is always shown
        if (n - 1 - keep[-1]) * per_tick >= room:
            keep.append(n - 1)
        elif len(keep) > 1:
            keep[-1] = n - 1
    return keep
