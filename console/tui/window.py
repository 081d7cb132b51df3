"""The time window every report on screen covers: a span picked with ``w`` (the last hour, day,
week or month, or all the data there is) or a custom start/end typed with ``W``.

A span ends at the newest data — of the model on screen, or of the whole fleet — not at the
clock: on data that stopped twelve days ago "the last 24 h" is that data's last day, and the
header says both (``last 24 h to 2026-11-09 23:59Z, newest data · 12d before now``). What the
app keeps is the choice (``app.window``); the backend resolves it against the store in a worker
(``Backend.window``, with ``analytics.windows.anchored``). The window also picks the width of
the buckets of time-series plots: fixed per span; for all data and custom ranges, sized to the
range (``analytics.windows``: ``auto_size`` as the command line, ``step_for``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from console.analytics import windows as W
from console.tui.status import human_age


@dataclass(frozen=True)
class WindowChoice:
    key: str  # "all", "1h", "24h", "7d", "30d", "custom"
    label: str
    span: timedelta | None
    step: str  # bucket width for time series ("1h", "1d")


CHOICES: tuple[WindowChoice, ...] = (
    WindowChoice("all", "all data", None, "1d"),
    WindowChoice("1h", "last hour", timedelta(hours=1), "15m"),
    WindowChoice("24h", "last 24 h", timedelta(hours=24), "1h"),
    WindowChoice("7d", "last 7 days", timedelta(days=7), "1d"),
    WindowChoice("30d", "last 30 days", timedelta(days=30), "1d"),
)
CUSTOM = WindowChoice("custom", "custom", None, "1d")


@dataclass(frozen=True)
class TimeWindow:
    """A window: ``start`` inclusive, ``end`` exclusive, ``None`` meaning open. Resolved
    (``resolve``), ``anchor`` is the newest data it ends at and ``now`` the clock then."""

    choice: WindowChoice
    start: datetime | None
    end: datetime | None
    anchor: datetime | None = None
    now: datetime | None = None
    bucket: str | None = None  # the series' bucket width when the choice's own does not fit

    @property
    def custom(self) -> bool:
        return self.choice is CUSTOM

    @property
    def key(self) -> str:
        """Names the window: the choice, or a custom range with its bounds."""
        if self.custom:
            return f"custom:{W.iso(self.start)}:{W.iso(self.end)}"
        return self.choice.key

    @property
    def label(self) -> str:
        if self.custom:
            return f"{_short(self.start) or '…'} – {_short(self.end) or '…'}"
        return self.choice.label

    @property
    def step(self) -> str:
        return self.bucket or self.choice.step


def make_window(key: str, now: datetime, newest: datetime | None = None) -> TimeWindow:
    """The window ``key`` ending at the ``newest`` data (at ``now`` without data; ``all`` is
    unbounded)."""
    choice = next((c for c in CHOICES if c.key == key), CHOICES[0])
    span = int(choice.span.total_seconds()) if choice.span is not None else None
    start, end = W.anchored(span, newest, now)
    return TimeWindow(choice, start, end, anchor=newest if span is not None else None, now=now)


def custom_window(start: datetime | None, end: datetime | None) -> TimeWindow:
    """A custom ``[start, end)`` (either end open), as parsed by ``analytics.windows.parse_range``."""
    return TimeWindow(CUSTOM, start, end)


def resolve(window: TimeWindow, now: datetime, oldest: datetime | None, newest: datetime | None) -> TimeWindow:
    """``window`` over data spanning ``[oldest, newest]``: a span ends at ``newest``; all data
    and custom ranges get buckets sized to what they cover (all data: 1d, wider when the data
    spans years, as the command line's ``--window`` default)."""
    if window.custom:
        lo, hi = window.start or oldest, window.end or newest
        bucket = W.size_label(W.step_for(lo, hi)) if lo is not None and hi is not None and lo < hi else None
        return replace(window, now=now, anchor=None, bucket=bucket)
    if window.choice.span is None:
        bucket = None
        if oldest is not None and newest is not None and oldest < newest:
            bucket = W.size_label(W.auto_size(int(W.parse_window(window.choice.step)), oldest, newest))
        return TimeWindow(window.choice, None, None, anchor=newest, now=now, bucket=bucket)
    return make_window(window.choice.key, now, newest)


def _short(t: datetime | None, year: bool = True) -> str:
    """``2026-11-09 23:59Z`` (``11-09 23:59Z`` without the year); ``""`` for None."""
    if t is None:
        return ""
    return t.strftime("%Y-%m-%d %H:%MZ" if year else "%m-%d %H:%MZ")


def describe(window: TimeWindow, width: int) -> str:
    """The header's words for ``window`` in at most ``width`` characters (longest first): where
    a span ends — the newest data — and how long before now that was."""
    if window.custom:
        brief = f"{_short(window.start, year=False) or '…'} – {_short(window.end, year=False) or '…'}"
        texts = [f"window: {window.label}", window.label, brief]
    elif window.choice.span is None or window.now is None:
        texts = [f"window: {window.label}", window.label]
    elif window.anchor is None:
        texts = [f"window: {window.label}, no data", f"{window.label}, no data", window.label]
    else:
        last = window.end - timedelta(microseconds=1) if window.end is not None else window.anchor
        age = human_age(window.anchor, window.now).removesuffix(" ago")
        texts = [f"window: {window.label} to {_short(last)}, newest data · {age} before now",
                 f"window: {window.label} to {_short(last)} · data {age} old",
                 f"{window.label} to {_short(last, year=False)} · {age} old",
                 f"{window.label.removeprefix('last ')} to {_short(last, year=False)} · {age} old",
                 f"{window.label} to {_short(last, year=False)}", window.label]
    return next((t for t in texts if len(t) <= width), texts[-1])
