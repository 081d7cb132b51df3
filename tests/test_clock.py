"""The console's one clock: frozen in every test, and the only place the package reads the date."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

from console import clock
from tests.frozen_time import FROZEN

PACKAGE = Path(__file__).resolve().parents[1] / "console"
# the sample's hooks are separate programs: they use $MLOPS_NOW and fall back to the system clock
ALLOWED = {PACKAGE / "clock.py", PACKAGE / "samplegen" / "hooks" / "deploy.py",
           PACKAGE / "samplegen" / "hooks" / "retrain.py"}
READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
         ("time", "time"), ("time", "time_ns"), ("time", "localtime"), ("time", "gmtime")}


def test_every_test_runs_on_the_frozen_clock():
    assert clock.is_frozen() and clock.now() == FROZEN
    assert clock.now_naive() == FROZEN.replace(tzinfo=None)


def test_frozen_block_restores_the_previous_clock():
    later = FROZEN + dt.timedelta(days=400)
    with clock.frozen(later):
        assert clock.now() == later
    assert clock.now() == FROZEN
    with clock.frozen(dt.datetime(2030, 1, 1, 12)):  # naive is UTC
        assert clock.now() == dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)


def test_no_module_reads_the_operating_system_clock():
    """``datetime.now()``, ``time.time()`` and the like appear only in console/clock.py."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
                owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
                if (owner, node.attr) in READS:
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {owner}.{node.attr}")
    assert offenders == []


def test_utc_conversion_has_one_home_and_a_naive_time_is_utc_even_in_another_zone(monkeypatch):
    import time

    from console.analytics.windows import iso, parse_time, to_epoch_us
    from console.cli.output import to_jsonable
    from console.governance.journal import format_ts

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = dt.datetime(2026, 11, 1, 12, 0, 3, 123456)
        aware = dt.datetime(2026, 11, 1, 13, 0, 3, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        utc = naive.replace(tzinfo=dt.UTC)
        assert clock.as_utc(naive) == clock.as_utc(aware) == utc and clock.as_utc(aware).tzinfo is dt.UTC
        assert clock.naive_utc(aware) == clock.naive_utc(naive) == naive
        assert clock.rfc3339(naive) == clock.rfc3339(aware) == "2026-11-01T12:00:03.123456Z"
        # every user agrees: the journal, JSON output, report windows
        assert format_ts(naive) == format_ts(aware) == "2026-11-01T12:00:03.123Z"
        assert to_jsonable(naive) == iso(aware) == "2026-11-01T12:00:03.123456Z"
        assert to_epoch_us(naive) == to_epoch_us(aware) == int(utc.timestamp()) * 1_000_000 + 123456
        assert parse_time("2026-11-01T12:00:03.123456") == utc
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_no_module_converts_time_zones_by_hand():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in ALLOWED or "samplegen" in path.parts:
            continue
        text = path.read_text()
        for needle in (".astimezone(", "tzinfo is None", "tzinfo is not None", "replace(tzinfo=None)"):
            if needle in text:
                offenders.append(f"{path.relative_to(PACKAGE)}: {needle}")
    assert not offenders, "use console.clock.as_utc / naive_utc / rfc3339:\n" + "\n".join(offenders)
