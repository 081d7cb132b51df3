"""The fleet compliance report in the TUI (``F6``, ``:report``, ``r`` on the audit screen): the
sections ``report --fleet`` writes, built in a worker for the window's period, at 80×24; ``e``
exports what is shown to a named file — the same bytes as the command line's document, a new
file with the umask's mode, a bad name one line in the dialog with what was typed kept."""

from __future__ import annotations

import datetime as dt
import json
import os

from console.cli import main
from console.governance.fleet_report import build_fleet_report, sections
from console.workspace import load_dir
from tests.tui_helpers import CAROL, make_app, screen_text, settle


async def _type(pilot, text: str) -> None:
    await pilot.press("ctrl+u")  # Input: delete to the start of the line
    for ch in text:
        await pilot.press(ch if ch not in "/." else {"/": "slash", ".": "full_stop"}[ch])
    await pilot.press("enter")


async def test_report_screen_shows_and_exports_the_fleet_report(sample_ws, capsys) -> None:
    app = make_app(sample_ws, CAROL)
    old = os.umask(0o027)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("f4", "r")  # from the audit screen
            await settle(app, pilot)
            assert type(app.screen).__name__ == "FleetReportScreen"
            text = screen_text(app)
            assert "period: the whole journal · 1 entries · ✓ journal verifies · e: export" in text
            assert "Models and versions" in text
            assert all(len(line) <= 80 for line in text.splitlines())
            want = sections(build_fleet_report(load_dir(sample_ws)))
            tables = list(app.screen.query("DataTable"))
            first = tables[0]
            wanted_rows = next(rows for _h, cols, rows in want if cols)
            got = [[c.plain for c in first.get_row_at(i)] for i in range(first.row_count)]
            assert got == wanted_rows  # every cell whole, none cut to the screen

            await pilot.press("e")
            await settle(app, pilot)
            assert type(app.screen).__name__ == "ExportDialog"
            await _type(pilot, "report.txt")
            await settle(app, pilot)
            err = str(app.screen.query_one("#export-error").render())
            assert err == "✗ report.txt: the name must end in .md, .html or .json (the format)"
            await _type(pilot, "no/such/r.md")
            await settle(app, pilot)
            assert str(app.screen.query_one("#export-error").render()).startswith(
                "✗ cannot write no/such/r.md: no folder ")
            assert app.screen.query_one("Input").value == "no/such/r.md"  # what was typed stays
            await _type(pilot, "exports/fleet.md")
            await settle(app, pilot)
            assert type(app.screen).__name__ == "FleetReportScreen"
            target = sample_ws / "exports" / "fleet.md"
            assert str(app.screen.query_one("#report-state").render()) == f"✓ wrote the fleet report (md) to {target}"
            assert os.stat(target).st_mode & 0o777 == 0o640  # 0o666 under the umask
            assert not (sample_ws / "no").exists()

            await pilot.press("e")
            await settle(app, pilot)
            await _type(pilot, "exports/fleet.json")
            await settle(app, pilot)
    finally:
        os.umask(old)
    capsys.readouterr()
    assert main(["report", "--fleet", "--workspace", str(sample_ws), "--format", "md"]) == 0
    assert target.read_text() == capsys.readouterr().out  # the command line's document, byte for byte
    assert json.loads((sample_ws / "exports" / "fleet.json").read_text()) == build_fleet_report(load_dir(sample_ws))


async def test_report_period_follows_a_custom_window(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("colon", *"report", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "FleetReportScreen"
        app.set_range((dt.datetime(2026, 11, 4, tzinfo=dt.UTC), dt.datetime(2026, 11, 10, tzinfo=dt.UTC)))
        await settle(app, pilot)
        text = screen_text(app)
        assert "period: 2026-11-04T00:00:00Z until 2026-11-10T00:00:00Z · 0 entries" in text
        assert "No promotion request has a journal entry in the period." in text


def test_export_refuses_bad_names_in_one_line(sample_ws, tmp_path) -> None:
    import pytest

    from console.errors import UsageError
    from console.governance.fleet_report import export, render

    data = build_fleet_report(load_dir(sample_ws))
    for name, said in (("", "give a file name"), ("a\nb.md", "control character"), ("r.pdf", "must end in"),
                       ("exports", "must end in"), ("nowhere/r.json", "no folder")):
        with pytest.raises(UsageError, match=said) as e:
            export(data, name, tmp_path)
        assert "\n" not in str(e.value)
    (tmp_path / "d.md").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        export(data, "d.md", tmp_path)
    path, fmt = export(data, str(tmp_path / "r.HTML"), tmp_path)  # absolute; the suffix in any case
    assert (path, fmt) == (tmp_path / "r.HTML", "html") and path.read_text() == render(data, "html")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
