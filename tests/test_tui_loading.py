"""How the console loads on a large store, checked on the ingested sample: the fleet's cheap
columns are the engine's numbers (reports asked side by side), the slow columns
come from their own workers and a stale worker's result is dropped, a report two workers ask
for is computed once, the fleet computes the highlighted model's tabs ahead, and the model screen
has every tab painted before it is visited (a visit then starts no load)."""

from __future__ import annotations

import functools
import threading
from datetime import timedelta

from console import analytics
from console.profiles import glance
from console.tui.backend import Backend
from console.tui.fleetdata import add_summary, base_rows
from console.tui.window import make_window
from console.workspace import load_dir
from tests.tui_helpers import CAROL, FROZEN, make_app, screen_text, settle


def _backend(root) -> Backend:
    be = Backend(load_dir(root), CAROL, live=False)
    be.open()
    return be


def test_fleet_cheap_columns_are_the_engines_numbers(ingested_sample) -> None:
    be = _backend(ingested_sample)
    try:
        for key in ("all", "7d"):
            window = make_window(key, FROZEN)
            rows, problems = base_rows(be), []
            add_summary(be, rows, window, FROZEN, problems)
            assert problems == []
            budgets = {b["model"]: b for b in analytics.budget_status(be.db)}
            today = FROZEN.replace(hour=0, minute=0, second=0, microsecond=0)
            for row in rows:
                span = {"start": window.start, "end": window.end}
                total = analytics.ops_report(be.db, row.model, window="all", **span)["windows"][-1]
                series = analytics.ops_report(be.db, row.model, window=window.step, **span)["windows"]
                assert row.requests == total["requests"] > 0
                assert abs(row.error_rate - total["error_rate"]) < 1e-12
                assert abs(row.p95_ms - total["latency_ms"]["p95"]) < 1e-9
                assert row.traffic == [w["requests"] for w in series]
                cost = analytics.cost_report(be.db, row.model, start=today, end=today + timedelta(days=1))
                # (the engine sums in DuckDB's row order: equal to the last bits only)
                assert abs(row.cost_today - (cost["rows"][0]["total_usd"] if cost["rows"] else 0.0)) < 1e-9
                assert abs(row.cost_mtd - budgets[row.model]["mtd_usd"]) < 1e-9
                assert row.budget == budgets[row.model]["budget_usd"]
    finally:
        be.close()


def test_a_report_two_workers_ask_for_is_computed_once(ingested_sample, monkeypatch) -> None:
    be = _backend(ingested_sample)
    real = analytics.ops_report
    calls: list[str] = []
    gate, entered = threading.Event(), threading.Event()

    @functools.wraps(real)  # the real signature: the backend's memo key is built from it
    def ops_report(db, model, *args, **kwargs):
        calls.append(model)
        entered.set()
        gate.wait(30)
        return real(db, model, *args, **kwargs)

    monkeypatch.setattr(analytics, "ops_report", ops_report)
    got: list[dict] = []
    try:
        a = threading.Thread(target=lambda: got.append(be.report("ops_report", model="credit-risk")))
        a.start()
        assert entered.wait(30)
        # the same call spelled with its defaults: one memo entry, so B waits for A's result
        b = threading.Thread(target=lambda: got.append(
            be.report("ops_report", model="credit-risk", version=None, window="1h", start=None)))
        b.start()
        running = be.runner._running
        key = next(iter(running))
        for _ in range(3000):  # until B waits on A's computation (never a fixed sleep)
            if running[key]._cond._waiters:
                break
            threading.Event().wait(0.01)
        assert running[key]._cond._waiters, "the second worker did not wait for the first"
        gate.set()
        a.join(30)
        b.join(30)
        assert calls == ["credit-risk"] and len(got) == 2 and got[0] is got[1]
        be.report("ops_report", model="credit-risk", window="1h")  # a memo hit
        assert calls == ["credit-risk"]
        be.db = be.db.refresh(force=True)  # a new snapshot (as refresh() gives on new data): computed again
        be.report("ops_report", model="credit-risk")
        assert calls == ["credit-risk", "credit-risk"]
    finally:
        gate.set()
        be.close()


async def test_fleet_fills_slow_columns_and_drops_a_stale_workers_word(ingested_sample) -> None:
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert screen.waiting_for == set() and "loading" not in screen_text(app)
        before = {r.model: (r.drift, r.alerts, r.metric_value) for r in screen.rows}
        assert before["credit-risk"][0] == "drift" and before["credit-risk"][2] is not None
        old = screen.generation
        screen.reload()
        assert screen.generation == old + 1 and screen.waiting_for == {"summary", "metric", "drift", "alerts"}
        # a worker of the previous load reporting late changes nothing
        screen.show(("fields", old, "drift", {"credit-risk": {"drift": "ok"}}, [], True))
        assert "drift" in screen.waiting_for
        assert next(r for r in screen.rows if r.model == "credit-risk").drift == "drift"
        await settle(app, pilot)
        assert screen.waiting_for == set()
        assert {r.model: (r.drift, r.alerts, r.metric_value) for r in screen.rows} == before


async def test_the_alerts_start_once_the_metric_column_is_in(ingested_sample, monkeypatch) -> None:
    """The fleet's two longest exact jobs on a large store — the metric column and the alerts —
    run one after the other, not side by side: with the metric held, the alerts are not asked
    for (and say "loading"); once it is in, they come."""
    import console.tui.screens.fleet as fleet_mod

    gate = threading.Event()
    metric_of = fleet_mod.metric_of
    monkeypatch.setattr(fleet_mod, "metric_of", lambda *a, **kw: (gate.wait(30), metric_of(*a, **kw))[1])
    app = make_app(ingested_sample, CAROL)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(1000):  # until the drift column is in (the metric held)
                if app.backend is not None and "drift" not in app.screen.waiting_for \
                        and "summary" not in app.screen.waiting_for:
                    break
                await pilot.pause(0.01)
            screen = app.screen
            assert screen.waiting_for == {"metric", "alerts"} and not screen.running("fleet-alerts")
            assert not app.backend.remembered(glance.check_alerts)
            assert "loading metric, alerts" in screen_text(app)
            gate.set()
            await settle(app, pilot)
            assert screen.waiting_for == set() and app.backend.remembered(glance.check_alerts)
            assert any(r.alerts for r in screen.rows)
    finally:
        gate.set()


async def test_new_data_lets_a_slow_column_finish_then_computes_it_once_more(ingested_sample) -> None:
    """A live ingester's batch (``data_changed``) while the alerts are being computed does not
    cancel them — on a large store they take minutes, and batches come every few seconds — they
    paint, then are computed once more for the new data; a window change (``reload``) still
    cancels them."""
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen, backend = app.screen, app.backend
        gate, asked = threading.Event(), []
        report = backend.report

        def held(name, **kw):
            if name is glance.check_alerts:
                asked.append(name)
                gate.wait(30)
            return report(name, **kw)

        async def until(cond) -> None:
            for _ in range(1000):
                if cond():
                    return
                await pilot.pause(0.01)
            raise AssertionError("never")

        backend.report = held
        try:
            screen.reload()
            await until(lambda: asked)
            first = screen.started["alerts"]
            screen.data_changed()  # a batch while the alerts are computed
            await until(lambda: "summary" not in screen.waiting_for and "metric" not in screen.busy)
            assert screen.running("fleet-alerts") and screen.started["alerts"] == first
            assert screen.again == {"alerts"} and "alerts" in screen.waiting_for and len(asked) == 1
            gate.set()
            await settle(app, pilot)
            assert len(asked) == 2 and screen.started["alerts"] > first
            assert screen.waiting_for == set() and not screen.again and any(r.alerts for r in screen.rows)
            gate.clear()
            asked.clear()
            screen.reload()
            await until(lambda: asked)
            held_worker = next(w for w in screen.workers if w.group == "fleet-alerts" and not w.is_finished)
            screen.reload()  # another window: the alerts being computed are stale
            assert held_worker.is_cancelled and "alerts" not in screen.busy and not screen.again
            gate.set()
            await until(lambda: held_worker.is_finished)
            await settle(app, pilot)
            assert screen.waiting_for == set() and len(asked) == 2
        finally:
            gate.set()


async def test_model_screen_paints_every_tab_before_it_is_visited(ingested_sample) -> None:
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("credit-risk")
        await settle(app, pilot)
        screen = app.screen
        gen = screen.generation
        assert gen >= 1 and all(p.complete == gen for p in screen.panels())
        assert len(screen.query_one("#panel-drift").data["trend"]["points"]) == 8
        loads = []
        reload_tab = screen.reload_tab
        screen.reload_tab = lambda: (loads.append(screen.active_tab()), reload_tab())
        await pilot.press("4")  # painted already: on screen without another load
        assert screen.generation == gen and "latency p50" in screen_text(app)
        await pilot.press("2", "3", "5", "6", "1")
        assert loads == [] and screen.generation == gen  # no worker started for a painted tab
        await pilot.press("v")  # another version: every tab loads again, for it
        await settle(app, pilot)
        assert screen.generation > gen and all(p.complete == screen.generation for p in screen.panels())
        assert "showing v1" in screen_text(app)


def _reports_of(backend, model: str) -> set[str]:
    """The reports of ``model`` in the backend's memo (computed, not just asked for)."""
    return {key[1] for key in backend.db.memo.keys()
            if len(key) == 3 and key[0] == "report" and f"('model', {model!r})" in key[2]}


async def test_fleet_computes_the_highlighted_models_tabs_ahead(ingested_sample) -> None:
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        first = screen.selected_model()
        tabs = {"console.profiles.glance.drift_report", "performance_report", "slices_report", "ops_report",
                "cost.cost_rows", "console.profiles.glance.drift_windows"}  # every tab's, the drift trend included
        assert tabs <= _reports_of(app.backend, first)
        other = next(r.model for r in screen.visible_rows() if r.model != first)
        assert not {"slices_report", "drift_windows"} & _reports_of(app.backend, other)
        await pilot.press("down")  # the cursor moves: its new row is computed ahead
        await settle(app, pilot)
        assert screen.selected_model() == other and screen.warmed == other
        assert tabs <= _reports_of(app.backend, other)
        computed = []
        report = app.backend.report
        app.backend.report = lambda name, **kw: (computed.append(name) if not app.backend.remembered(
            name, **kw) else None, report(name, **kw))[1]
        app.open_model(other)  # opens onto data: every report was in the memo already
        await settle(app, pilot)
        assert all(p.complete == app.screen.generation for p in app.screen.panels())
        assert computed == []


async def test_the_fleets_exact_metric_is_the_performance_tabs_report(ingested_sample) -> None:
    """Without profiles the fleet's live metric is the performance tab's own report call, so
    the two (asked at the same moment for the highlighted model) make one scan, not two."""
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen, backend = app.screen, app.backend
        other = next(r.model for r in screen.visible_rows() if r.model != screen.selected_model())
        assert "slices_report" not in _reports_of(backend, other)  # its tabs were not computed ahead
        row = next(r for r in screen.rows if r.model == other)
        assert row.metric_value is not None and row.metric_source == "exact"
        computed = []
        report = backend.report
        backend.report = lambda name, **kw: (computed.append(name) if not backend.remembered(
            name, **kw) else None, report(name, **kw))[1]
        from console.tui.panels.performance import PerformancePanel

        first = next(PerformancePanel.fetch(backend, other, None, backend.window(app.window, other)))
        assert computed == [] and first["report"]["live"]["value"] == row.metric_value


async def test_a_tab_the_prefetch_is_finishing_starts_no_second_load(ingested_sample) -> None:
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        gate = threading.Event()  # holds the drift trend (the prefetch's long tail) until set
        trend = app.backend.drift_trend
        app.backend.drift_trend = lambda *a, **kw: (gate.wait(30), trend(*a, **kw))[1]
        try:
            app.open_model("credit-risk")
            for _ in range(1000):  # until every tab's first paint is in (the trend still held)
                screen = app.screen
                if type(screen).__name__ == "ModelScreen" and screen.generation and all(
                        p.shown == screen.generation for p in screen.panels()):
                    break
                await pilot.pause(0.01)
            drift = screen.query_one("#panel-drift")
            assert drift.complete != screen.generation and screen.running("prefetch")
            loads = []
            reload_tab = screen.reload_tab
            screen.reload_tab = lambda: (loads.append(screen.active_tab()), reload_tab())
            await pilot.press("2", "1")  # back to drift while the prefetch finishes its trend
            assert loads == []  # no second worker for what the prefetch is finishing
        finally:
            gate.set()
        await settle(app, pilot)
        assert all(p.complete == screen.generation for p in screen.panels())
        assert len(drift.data["trend"]["points"]) == 8


async def test_new_data_recomputes_the_highlighted_model_at_most_once_a_minute(ingested_sample, monkeypatch) -> None:
    import console.tui.screens.fleet as fleet_mod
    from console.tui.window import make_window

    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        model = screen.selected_model()
        started = []
        screen._warm = lambda m, window: started.append((m, window.choice.key))
        clock = [1000.0]
        monkeypatch.setattr(fleet_mod, "monotonic", lambda: clock[0])
        screen._warmed_for = (model, app.window.choice.key, screen.generation, clock[0])
        screen.reload()  # new data (what a refresh that found some does)
        await settle(app, pilot)
        assert started == []  # the same model and window a moment later: not again
        clock[0] += fleet_mod.FleetScreen.WARM_AGAIN_S
        screen.reload()
        await settle(app, pilot)
        assert started == [(model, "all")]  # a minute on: computed again
        app.window = make_window("7d", app.now())  # another window: at once
        screen.reload()
        await settle(app, pilot)
        assert started == [(model, "all"), (model, "7d")]
        screen.running = lambda group: group == "fleet-warm"  # new data while it still runs: cut short, so again at once
        screen.reload()
        await settle(app, pilot)
        assert started == [(model, "all"), (model, "7d"), (model, "7d")]


def test_the_first_paint_waits_for_no_heavy_import() -> None:
    """The app and its fleet screen import none of the libraries only the analytics need: scipy
    alone took 1.1 s of the first paint when the fleet's glance module pulled it in at import
    (they load in the workers, when a report needs them)."""
    import subprocess
    import sys
    from pathlib import Path

    heavy = ("scipy", "sklearn", "pandas", "pyarrow.dataset", "plotext")
    code = ("import sys, console.tui.app, console.tui.screens.fleet\n"
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == []
