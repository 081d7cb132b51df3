"""The time window every report on screen covers, chosen with the window picker (``w``).

A window is relative to the app's clock (frozen in tests): the last hour, day, week or month,
or all the data there is. It also picks the width of the buckets of time-series plots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class WindowChoice:
    key: str  # "all", "1h", "24h", "7d", "30d"
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


@dataclass(frozen=True)
class TimeWindow:
    """A concrete window: ``start`` inclusive, ``end`` exclusive, ``None`` meaning open."""

    choice: WindowChoice
    start: datetime | None
    end: datetime | None

    @property
    def label(self) -> str:
        return self.choice.label

    @property
    def step(self) -> str:
        return self.choice.step


def make_window(key: str, now: datetime) -> TimeWindow:
    """The window ``key`` ends at ``now`` (``all`` is unbounded)."""
    choice = next((c for c in CHOICES if c.key == key), CHOICES[0])
    if choice.span is None:
        return TimeWindow(choice, None, None)
    return TimeWindow(choice, now - choice.span, now + timedelta(microseconds=1))
