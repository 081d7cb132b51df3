"""The one clock every part of the console reads: ``now()`` is the current time, UTC-aware.

Nothing else in the package asks the operating system for the date or time of day (elapsed
times are measured with ``time.monotonic``, which is not a date). Tests freeze this clock
(``freeze(at)`` / ``frozen(at)``) so that a test that passes today passes next year too; the
test suite's ``conftest.py`` freezes it for every test, and a second run of the suite moves the
operating system's clock a year ahead to prove nothing reads it directly.

The clock is process-wide and thread-safe to read. There is no environment variable or flag
that changes it: the time a journal entry records is the machine's.

It is also the one home of UTC conversion: a naive datetime is UTC everywhere in the console
(the store's timestamp columns are naive UTC); ``as_utc`` makes any datetime aware UTC,
``naive_utc`` naive UTC, and ``rfc3339`` the ``…Z`` text every JSON output and journal entry uses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator

UTC = dt.UTC

_source: Callable[[], dt.datetime] | None = None


def _system() -> dt.datetime:
    return dt.datetime.now(UTC)


def now() -> dt.datetime:
    """The current time, timezone-aware UTC (frozen in tests)."""
    source = _source
    return source() if source is not None else _system()


def now_naive() -> dt.datetime:
    """``now()`` as a naive UTC datetime (the store's timestamp columns are naive UTC)."""
    return now().replace(tzinfo=None)


def as_utc(t: dt.datetime) -> dt.datetime:
    """``t`` as an aware UTC datetime; a naive one is taken as UTC (never as local time)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def naive_utc(t: dt.datetime) -> dt.datetime:
    """``t`` as a naive UTC datetime (the store's columns); a naive one is already UTC."""
    return t if t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None)


def rfc3339(t: dt.datetime, timespec: str = "auto") -> str:
    """RFC 3339 text in UTC with ``Z``: ``2026-11-01T12:00:03.123Z`` (``timespec`` as
    ``datetime.isoformat``); a naive ``t`` is UTC."""
    return as_utc(t).isoformat(timespec=timespec).replace("+00:00", "Z")


def freeze(at: dt.datetime | Callable[[], dt.datetime] | None) -> None:
    """Make ``now()`` return ``at`` (a datetime, or a function returning one); ``None`` thaws it.

    A naive datetime is taken as UTC."""
    global _source
    if at is None:
        _source = None
    elif callable(at):
        _source = at
    else:
        when = as_utc(at)
        _source = lambda: when  # noqa: E731 - a constant clock
    return None


def is_frozen() -> bool:
    return _source is not None


@contextlib.contextmanager
def frozen(at: dt.datetime | Callable[[], dt.datetime]) -> Iterator[None]:
    """``with frozen(at):`` — the clock reads ``at`` inside the block, as before after it."""
    global _source
    previous = _source
    freeze(at)
    try:
        yield
    finally:
        _source = previous
