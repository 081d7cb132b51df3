"""Time arguments and report windows (docs/formats.md, 'Durations, times and windows').

- Times: RFC 3339 (``2026-11-01T12:00:03Z``, ``…+02:00``; without a zone it is UTC) or a date
  (``2026-11-01`` = its midnight UTC). Everything is a timezone-aware UTC ``datetime``.
- Window sizes: a duration (``console.durations``: ``15m 1h 1d 7d``) of whole seconds, or ``all``.
- Windows are aligned to multiples of their size since the Unix epoch (UTC), so a ``1d`` window
  is a calendar day in UTC and the same window always has the same bounds (which is what makes
  closed windows cacheable). ``--start`` is inclusive, ``--end`` exclusive; the first and last
  windows are clipped to them. ``all`` is one window over the whole range.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from console import clock, durations
from console.errors import UsageError

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MAX_WINDOWS = 20_000


def parse_time(text: str, what: str = "time") -> dt.datetime:
    """RFC 3339 or a date → aware UTC datetime; ``UsageError`` with one line otherwise."""
    raw = text.strip()
    if not raw:
        raise UsageError(f"empty {what}")
    s = raw
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            value = dt.datetime.fromisoformat(s)
        else:
            value = dt.datetime.fromisoformat(s.replace(" ", "T", 1) if "T" not in s.upper() else s)
    except ValueError:
        raise UsageError(
            f"bad {what} {raw!r}: use RFC 3339 (2026-11-01T12:00:00Z) or a date (2026-11-01)"
        ) from None
    return clock.as_utc(value)


def parse_window(text: str | None, default: str = "1d") -> int | None:
    """Window size in seconds, or ``None`` for ``all``."""
    raw = text or default
    if raw.strip().lower() == "all":
        return None
    return durations.whole_seconds(raw, "window")


def window_size(window: str | int | None) -> int | None:
    """A report's ``window`` argument in seconds: text (``None``: the default ``1d``) through
    ``parse_window``, a number of seconds as it is."""
    return parse_window(window) if isinstance(window, str) or window is None else window


AUTO_MAX = 2_000  # windows a report makes at most when its window size was not asked for
AUTO_SIZES = (15 * 60, 3600, 86400, 7 * 86400, 30 * 86400)


def auto_size(default: int, lo: dt.datetime, hi: dt.datetime) -> int:
    """The window size of a report whose size was not given: ``default``, or else the first of
    1d, 7d, 30d that covers ``[lo, hi)`` in at most ``AUTO_MAX`` windows (the largest one when
    none does), so an hourly default on data spanning years is daily instead of an error."""
    span = (hi - lo).total_seconds()
    for size in [default, *(s for s in AUTO_SIZES if s > default)]:
        if span / size <= AUTO_MAX:
            return size
    return max(default, AUTO_SIZES[-1])


def size_label(size: int | None) -> str:
    """``3600`` → ``1h``, ``604800`` → ``7d``, ``None`` → ``all`` (the largest whole unit)."""
    if size is None:
        return "all"
    for unit, secs in (("d", 86400), ("h", 3600), ("m", 60)):
        if size % secs == 0:
            return f"{size // secs}{unit}"
    return f"{size}s"


def to_epoch_us(t: dt.datetime) -> int:
    """Microseconds since the epoch (exact, unlike float seconds); naive = UTC."""
    delta = clock.as_utc(t) - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(us))


def floor_to(t: dt.datetime, seconds: int) -> dt.datetime:
    """``t`` rounded down to a multiple of ``seconds`` since the epoch."""
    us = to_epoch_us(t)
    size = seconds * 1_000_000
    return from_epoch_us(us - us % size)


@dataclass(frozen=True)
class Window:
    """One report window, ``[start, end)``; ``bucket`` is its aligned (unclipped) start."""

    start: dt.datetime
    end: dt.datetime
    bucket: dt.datetime

    @property
    def key(self) -> str:
        return f"{to_epoch_us(self.start)}-{to_epoch_us(self.end)}"


def check_range(start: dt.datetime | None, end: dt.datetime | None,
                names: tuple[str, str] = ("--start", "--end")) -> None:
    if start is not None and end is not None and end <= start:
        raise UsageError(f"{names[1]} must be after {names[0]}")


def parse_range(start: str | None, end: str | None,
                names: tuple[str, str] = ("--start", "--end")) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A ``[start, end)`` given as text — the command line's ``--start``/``--end`` and the
    TUI's range dialog: each a time (``parse_time``) or ``None`` (open); ``UsageError`` with one
    line naming ``names`` for a bad time or an end not after the start."""
    lo = parse_time(start, names[0]) if start is not None else None
    hi = parse_time(end, names[1]) if end is not None else None
    check_range(lo, hi, names)
    return lo, hi


def anchored(span: int | None, newest: dt.datetime | None, now: dt.datetime
             ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The last ``span`` seconds of the data: ``[newest − span, newest]`` (the end exclusive,
    one microsecond after the newest record), so a window over data that stopped days ago still
    holds it; ending at ``now`` when there is no data; ``span=None`` (all): open at both ends."""
    if span is None:
        return None, None
    last = newest if newest is not None else now
    return last - dt.timedelta(seconds=span), last + dt.timedelta(microseconds=1)


def step_for(lo: dt.datetime, hi: dt.datetime, most: int = 200) -> int:
    """The bucket size of a time series over ``[lo, hi)`` chosen for it (a custom range): the
    first of 15m, 1h, 1d, 7d, 30d that makes at most ``most`` buckets (else 30d)."""
    span = (hi - lo).total_seconds()
    return next((s for s in AUTO_SIZES if span / s <= most), AUTO_SIZES[-1])


def resolve_range(
    start: dt.datetime | None,
    end: dt.datetime | None,
    data_min: dt.datetime | None,
    data_max: dt.datetime | None,
) -> tuple[dt.datetime, dt.datetime] | None:
    """The report's ``[start, end)``: the given bounds, else the data's (``end`` = the first
    microsecond after the last record). ``None`` when there is no data and no bound."""
    check_range(start, end)
    lo = start or data_min
    if end is not None:
        hi = end
    elif data_max is not None:
        hi = data_max + dt.timedelta(microseconds=1)
    else:
        hi = None
    if lo is None or hi is None:
        if lo is None and hi is None:
            return None
        lo = lo or hi - dt.timedelta(days=1)
        hi = hi or lo + dt.timedelta(days=1)
    if hi <= lo:
        return None
    return lo, hi


def align_range(
    lo: dt.datetime, hi: dt.datetime, size: int | None, start_given: bool, end_given: bool
) -> tuple[dt.datetime, dt.datetime]:
    """Widen bounds the user did not give to whole windows (``all`` keeps the data's range)."""
    if size is None:
        return lo, hi
    if not start_given:
        lo = floor_to(lo, size)
    if not end_given:
        top = floor_to(hi, size)
        hi = top if top == hi else top + dt.timedelta(seconds=size)
    return lo, hi


def split(start: dt.datetime, end: dt.datetime, size: int | None) -> list[Window]:
    """Epoch-aligned windows of ``size`` seconds covering ``[start, end)`` (clipped at both ends);
    one window when ``size`` is ``None`` (``all``)."""
    if size is None:
        return [Window(start, end, start)]
    n = (to_epoch_us(end) - to_epoch_us(floor_to(start, size))) // (size * 1_000_000) + 1
    if n > MAX_WINDOWS:
        raise UsageError(f"{n} windows of {size} s is too many (at most {MAX_WINDOWS}); use a larger --window")
    out: list[Window] = []
    bucket = floor_to(start, size)
    step = dt.timedelta(seconds=size)
    while bucket < end:
        out.append(Window(max(bucket, start), min(bucket + step, end), bucket))
        bucket += step
    return out


def iso(t: dt.datetime | None) -> str | None:
    """RFC 3339 text with ``Z`` (``None`` passes through)."""
    if t is None:
        return None
    return clock.rfc3339(t)
