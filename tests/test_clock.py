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
