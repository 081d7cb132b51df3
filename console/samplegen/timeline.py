"""The sample workspace's calendar: the fixed dates of the story and the time helpers.

All dates are fixed (never the wall clock) so the same seed gives the same files. Tests, the
README of the sample workspace and the TUI docs read the story's key dates from here.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

UTC = dt.UTC

START = dt.date(2026, 10, 25)  # first day of traffic
END = dt.date(2026, 11, 21)  # last day of traffic (its log file is still plain, not rotated)
NOW = dt.datetime(2026, 11, 22, 0, 0, tzinfo=UTC)  # the data stops here; later labels never arrived

SLICE_DAY = dt.date(2026, 11, 3)  # credit-risk: region=north starts defaulting more (accuracy drops)
CANDIDATE_CREATED = dt.datetime(2026, 11, 3, 9, 12, tzinfo=UTC)  # credit-risk v3 registered
SHADOW_DAY = dt.date(2026, 11, 4)  # credit-risk v3 starts scoring a share of traffic in shadow
SPIKE_DAY, SPIKE_HOURS = dt.date(2026, 11, 6), (14, 16)  # credit-risk latency spike (UTC hours)
LAUNCH_DAY = dt.date(2026, 11, 9)  # ticket-router: in-app help widget launches, traffic doubles
DRIFT_DAY = dt.date(2026, 11, 12)  # credit-risk: aggregator channel arrives, population shifts
ERROR_DAY, ERROR_HOURS = dt.date(2026, 11, 17), (12, 14)  # delivery-eta error burst (UTC hours)
WEATHER_DAY = dt.date(2026, 11, 19)  # delivery-eta: the weather feed fails, `weather` logged empty
WEATHER_GAP = 0.4  # share of delivery-eta requests from WEATHER_DAY that log no weather
CAMPAIGN_DAY = dt.date(2026, 11, 20)  # credit-risk: a broker's pre-screened mailing brings borderline applicants
CAMPAIGN_SHARE = 0.6  # share of credit-risk applicants from CAMPAIGN_DAY that come from the campaign

SHADOW_SHARE = 0.30  # share of credit-risk requests v3 also scores from SHADOW_DAY


def days() -> list[dt.date]:
    """Every day of traffic, START … END."""
    return [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]


def day_start_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


NOW_MS = int(NOW.timestamp() * 1000)


def times_of_day(rng: np.random.Generator, day: dt.date, n: int, hour_weights: list[float]) -> np.ndarray:
    """``n`` sorted epoch-millisecond timestamps in ``day`` following an hourly profile."""
    w = np.asarray(hour_weights, dtype=float)
    hours = rng.choice(24, size=n, p=w / w.sum())
    ms = hours * 3_600_000 + rng.integers(0, 3_600_000, n)
    return np.sort(day_start_ms(day) + ms)


def rfc3339(ms: int) -> str:
    """Epoch milliseconds → ``2026-11-01T12:00:03.123Z``."""
    t = dt.datetime.fromtimestamp(ms // 1000, tz=UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def hour_of(ms: np.ndarray) -> np.ndarray:
    return (np.asarray(ms) // 3_600_000) % 24


def iso_date(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms // 1000, tz=UTC).date()


BUSINESS_HOURS = [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 8, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1]
MEAL_HOURS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3, 3, 4, 7, 10, 9, 5, 4, 4, 6, 9, 11, 10, 7, 4, 2]
SUPPORT_HOURS = [2, 1, 1, 1, 1, 2, 3, 5, 8, 9, 9, 9, 8, 9, 9, 8, 7, 6, 5, 4, 4, 3, 3, 2]
