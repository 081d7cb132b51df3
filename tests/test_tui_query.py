"""Query: SQL with highlighting and history, the views' schema, results through the Arrow-backed
table with a row limit and probe row, cancel with interrupt(), export to CSV and Parquet."""

from __future__ import annotations

import csv

import pyarrow.parquet as pq

from console.tui.screens import query as query_mod
from tests.tui_helpers import CAROL, flat_text, make_app, settle


async def type_sql(app, pilot, sql: str) -> None:
    editor = app.screen.query_one("#query-editor")
    editor.load_text(sql)
    editor.focus()
    await pilot.pause()


async def test_run_limit_history_export_and_refuse_writes(sample_ws, monkeypatch) -> None:
    monkeypatch.setattr(query_mod, "ROW_LIMIT", 1000)
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        screen = app.screen
        assert screen.query_one("#query-editor").language == "sql"
        tree = screen.query_one("#query-schema")
        assert [n.data for n in tree.root.children][:3] == ["predictions", "predictions_labelled", "labels"]
        assert any(str(c.label).startswith("request_id") for c in tree.root.children[0].children)

        await type_sql(app, pilot, "SELECT model, count(*) AS n FROM predictions GROUP BY 1 ORDER BY 1")
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        table = screen.query_one("#query-table")
        assert table.row_count == 3 and "✓ 3 rows × 2 columns" in flat_text(app)

        await type_sql(app, pilot, "SELECT request_id, model FROM predictions")
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        assert screen.query_one("#query-table").row_count == 1000
        assert "first 1,000 rows × 2 columns" in flat_text(app) and "more not fetched" in flat_text(app)

        await pilot.press("ctrl+e")  # CSV of the whole result, not only the shown rows
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        exports = sample_ws / "exports"
        csv_file = next(exports.glob("*.csv"))
        pq_file = next(exports.glob("*.parquet"))
        with csv_file.open() as f:
            rows = list(csv.DictReader(f))
        total = pq.read_table(pq_file).num_rows
        assert len(rows) == total > 1000
        assert set(rows[0]) == {"request_id", "model"}

        await pilot.press("ctrl+up")  # history: back to the first query
        await pilot.press("ctrl+up")
        assert "count(*)" in screen.query_one("#query-editor").text

        await type_sql(app, pilot, "DROP VIEW predictions")
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        assert "✗" in flat_text(app)
        assert app.backend.db.cursor().execute("SELECT count(*) FROM predictions").fetchone()[0] > 0

    history = query_mod.load_history(app.workspace)
    assert history[0].startswith("SELECT model, count(*)") and history[-1] == "DROP VIEW predictions"


async def test_cancel_interrupts_a_running_query(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        slow = ("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3")
        await type_sql(app, pilot, slow)
        await pilot.press("ctrl+j")
        await pilot.pause()
        assert "running" in flat_text(app)
        for _ in range(100):  # wait until the worker holds its cursor
            if app.screen.stream is not None:
                break
            await pilot.pause(0.02)
        await pilot.press("ctrl+k")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "cancelled" in flat_text(app)
        assert not app.screen.query("#query-table")


async def test_query_screen_is_as_sandboxed_as_the_cli(sample_ws, tmp_path) -> None:
    """The screen runs SQL only through the CLI's read-only function: file reads outside the
    store, COPY, ATTACH and INSTALL are refused (also in --read-only), nothing is exported, and
    the reports' own connection is not the one that ran them."""
    secret = tmp_path / "secret.txt"
    secret.write_text("the-secret-line\n")
    app = make_app(sample_ws, CAROL, read_only=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        screen = app.screen
        for sql in (f"SELECT * FROM read_text('{secret}')", "SELECT * FROM read_text('/etc/shadow')",
                    f"SELECT * FROM read_csv('{secret}')",
                    f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'", f"ATTACH '{tmp_path / 'x.db'}'",
                    "INSTALL httpfs", "LOAD httpfs", "SET enable_external_access = true"):
            await type_sql(app, pilot, sql)
            await pilot.press("ctrl+j")
            await settle(app, pilot)
            text = flat_text(app)
            assert "✗" in text and "the-secret-line" not in text, sql
            assert ("refused" in text or "Permission Error" in text), (sql, text)
            assert not screen.query("#query-table")
            await pilot.press("ctrl+e")  # nothing ran: nothing to export
            await settle(app, pilot)
        assert not (sample_ws / "exports").exists()
        assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.db").exists()
        # the reports' connection can still read its files (it was not the one sandboxed)
        cur = app.backend.db.cursor()
        assert cur.execute("SELECT current_setting('enable_external_access')").fetchall() == [(True,)]


async def test_rows_kept_are_capped_and_the_total_said_when_known(sample_ws, monkeypatch) -> None:
    monkeypatch.setattr(query_mod, "ROW_LIMIT", 1000)
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        await type_sql(app, pilot, "SELECT range AS i FROM range(2500)")  # one batch: M is known
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        assert app.screen.query_one("#query-table").row_count == 1000
        assert "first 1,000 rows × 1 columns" in flat_text(app) and "of 2,500 rows" in flat_text(app)
        await type_sql(app, pilot, "SELECT range AS i FROM range(10000000000)")  # never read to its end
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        assert app.screen.query_one("#query-table").row_count == 1000
        assert "more not fetched" in flat_text(app)
