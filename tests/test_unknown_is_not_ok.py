"""Never "ok" for "unknown": a report that cannot be computed is a failure, said as one — on
every TUI screen (fleet columns, alerts, model tabs: "✗ failed" plus the reason, distinct from
"… loading" and from "✓ none") and in ``check`` (exit 2, the reason on stderr, an ``errors``
entry in the JSON; never exit 0, never exit 1 which means "alerts fired").

The failures are real: the analytics cache made unreadable for a real non-root OS account
(tests run as root, which reads everything), and the drift reference cache replaced by files
that are not Parquet."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.frozen_time import CONSOLE
from tests.test_governance_helpers import ensure_os_users, real_users, run_as, share_with_team
from tests.tui_helpers import CAROL, flat_text, make_app, settle


def corrupt_reference_cache(root: Path) -> list[Path]:
    """Every cached reference (Parquet) replaced by text: drift cannot read its reference. (The
    cache is keyed by the reference file's path: a check in a child process first caches this
    copy's own references — in a child, so this process's memory caches learn nothing.)"""
    assert run_check(root).returncode == 1
    files = sorted((root / ".console" / "cache" / "analytics" / "reference").glob("*.parquet"))
    assert files
    for f in files:
        f.write_text("not parquet\n")
    return files


def run_check(root: Path, *args: str):
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("MLOPS_CONSOLE_WORKSPACE", "MLOPS_CONSOLE_DEBUG")}
    return subprocess.run([*CONSOLE, "check", *args, "--workspace", str(root)], capture_output=True,
                          text=True, env=env, cwd=root, timeout=300)


def test_check_with_a_report_it_cannot_compute_is_exit_2_not_ok(sample_ws: Path) -> None:
    corrupt_reference_cache(sample_ws)
    res = run_check(sample_ws, "--format", "json")
    assert res.returncode == 2, (res.returncode, res.stderr)
    doc = json.loads(res.stdout)
    assert doc["ok"] is False
    assert {e["model"] for e in doc["errors"]} == {"credit-risk", "delivery-eta", "ticket-router"}
    # the data-quality rules read the same reference: they fail too, each said
    assert sorted(tuple(e["kinds"]) for e in doc["errors"]) == (
        [("drift", "output_drift")] * 3 + [("missing", "new_category", "range")] * 3)
    assert all("ArrowInvalid" in e["error"] for e in doc["errors"])
    assert any(a["kind"] == "budget" for a in doc["alerts"])  # the rules that could run still did
    lines = [x for x in res.stderr.splitlines() if x.startswith("mlops-console:")]
    assert len(lines) == 1 and "check incomplete" in lines[0] and "could not be computed" in lines[0]
    assert "Traceback" not in res.stderr
    table = run_check(sample_ws)
    assert table.returncode == 2 and "✗ failed" in table.stdout and "could not be computed" in table.stdout


@real_users
def test_check_as_an_account_that_cannot_read_the_cache(sample_ws: Path) -> None:
    """A PermissionError (the cache folder readable by its owner only) is exit 2 with the reason,
    for a real non-root account — before, a traceback and exit 1 ("alerts fired")."""
    import tempfile

    ensure_os_users()
    base = Path(tempfile.mkdtemp(prefix="mlc-unknown-"))  # /tmp/pytest-of-root is root's only
    os.chmod(base, 0o755)
    root = base / "shared"
    shutil.copytree(sample_ws, root)
    assert run_check(root).returncode == 1  # this copy's reference cache (keyed by path)
    share_with_team(root)
    os.chmod(root / ".console" / "cache" / "analytics" / "reference", 0o700)  # root's only
    res = run_as("mlc-eve", root, "check", "--format", "json")
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert res.stdout, res.stderr
    doc = json.loads(res.stdout)
    assert doc["ok"] is False and doc["errors"]
    assert all("PermissionError" in e["error"] for e in doc["errors"])
    lines = [x for x in res.stderr.splitlines() if x.startswith("mlops-console:")]
    assert len(lines) == 1 and "PermissionError" in lines[0] and "Traceback" not in res.stderr
    shutil.rmtree(base, ignore_errors=True)


def _column(label: str) -> int:
    from console.tui.screens.fleet import COLUMNS

    return [c[0] for c in COLUMNS].index(label)


DRIFT, ALERTS, METRIC = _column("drift"), _column("alerts"), _column("live/offl. n")


async def test_tui_says_failed_not_none_on_the_fleet_alerts_and_model_tabs(sample_ws: Path) -> None:
    corrupt_reference_cache(sample_ws)
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        rows = {r.model: r for r in screen.rows}
        for model, row in rows.items():
            assert row.state("alerts") == "failed" and row.state("drift") == "failed", model
            assert row.state("ops") == "ok"
            cells = screen.cells(row)
            assert "✗ failed" in str(cells[DRIFT]) and "✗ failed" in str(cells[ALERTS]), (model, cells)
            assert "none" not in str(cells[ALERTS])
        text = flat_text(app)
        assert "✓ none" not in text and "ArrowInvalid" in text  # the reason is on screen
        await pilot.press("f2")
        await settle(app, pilot)
        text = flat_text(app)
        assert "✗ failed: 6 rule set(s) could not be computed" in text and "✓ ok" not in text
        failed = [a for a in app.screen.alerts if a.get("failed")]
        assert {a["model"] for a in failed} == {"credit-risk", "delivery-eta", "ticket-router"}
        assert "could not be computed: ArrowInvalid" in text
        await pilot.press("enter")  # the first row (a failure) opens its model on the drift tab
        await settle(app, pilot)
        assert "✗ failed: drift could not be computed: ArrowInvalid" in flat_text(app)


async def test_states_before_data_are_loading_not_ok(sample_ws: Path) -> None:
    """Before the slow reports answer, the fleet's row says "… loading", not "✓ none"."""
    from console.tui.fleetdata import FleetRow

    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        row = FleetRow("m", "binary", "1", [])
        cells = [str(c) for c in app.screen.cells(row)]
        assert cells[DRIFT] == "… loading" and cells[ALERTS] == "… loading" and cells[METRIC] == "… loading"
        row.mark("alerts", None)
        assert str(app.screen.cells(row)[ALERTS]) == "✓ none"
        row.mark("alerts", "PermissionError: denied")
        assert str(app.screen.cells(row)[ALERTS]) == "✗ failed"


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("MLOPS_CONSOLE_DEBUG", raising=False)
