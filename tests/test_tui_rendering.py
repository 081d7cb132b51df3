"""What keeps the console responsive: the footer rebuilds its keys only when they change, a plot
is drawn once per data, size and theme (a tab shown again reuses it), no animations unless
``TEXTUAL_ANIMATIONS`` asks, full garbage collections wait for an idle user, and the engine's
threads (DuckDB's pool included) run at a lower CPU priority than the event loop."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input
from textual.widgets._footer import FooterKey

from console.tui.widgets.footer import ConsoleFooter
from console.tui.widgets.plots import ConsolePlot, line
from tests.tui_helpers import make_app


class _Table(DataTable):
    BINDINGS = [Binding("x", "noop", "Explain")]

    def action_noop(self) -> None:
        pass


class _FooterApp(App):
    def compose(self) -> ComposeResult:
        yield _Table(id="a")
        yield _Table(id="b")
        yield Input(id="c")
        yield ConsoleFooter()


async def test_footer_rebuilds_only_when_its_keys_change() -> None:
    app = _FooterApp()
    async with app.run_test(size=(80, 12)) as pilot:
        footer = app.query_one(ConsoleFooter)
        rebuilds = []
        recompose = footer.recompose

        async def counted():
            rebuilds.append(1)
            await recompose()

        footer.recompose = counted
        app.query_one("#a").focus()
        await pilot.pause()
        rebuilds.clear()
        shown = [k.description for k in footer.query(FooterKey)]
        assert "Explain" in shown
        app.query_one("#b").focus()  # another table: the same keys, nothing rebuilt
        await pilot.pause()
        assert rebuilds == [] and [k.description for k in footer.query(FooterKey)] == shown
        app.query_one("#c").focus()  # an input: the table's key goes, the footer follows
        await pilot.pause()
        assert rebuilds == [1] and "Explain" not in [k.description for k in footer.query(FooterKey)]
        app.query_one("#a").focus()
        await pilot.pause()
        assert rebuilds == [1, 1] and [k.description for k in footer.query(FooterKey)] == shown


class _PlotApp(App):
    def compose(self) -> ComposeResult:
        yield ConsolePlot(id="p")


async def test_a_plot_is_drawn_once_per_data_size_and_theme() -> None:
    app = _PlotApp()
    async with app.run_test(size=(60, 16)) as pilot:
        plot = app.query_one(ConsolePlot)
        draws = []

        def draw(plt, mono):
            draws.append(1)
            line(plt, mono, ["a", "b", "c"], [("auc", [0.9, 0.8, 0.85])], title="auc")

        plot.draw_with(draw)
        await pilot.pause()
        first = plot.render()
        assert len(draws) == 1 and "auc" in first.plain
        assert plot.render() is first and len(draws) == 1  # shown again: the same drawing
        plot.draw_with(draw)  # new data: drawn again
        assert plot.render() is not first and len(draws) == 2
        await pilot.resize_terminal(80, 20)  # new size: drawn again, at that size
        await pilot.pause()
        assert len(draws) == 3 and len(plot.render().plain.rstrip("\n").split("\n")) == plot.size.height
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        plot.render()
        assert len(draws) == 4


def test_no_animations_unless_asked(sample_ws, monkeypatch) -> None:
    monkeypatch.delenv("TEXTUAL_ANIMATIONS", raising=False)
    assert make_app(sample_ws).animation_level == "none"
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "full")
    import textual.constants

    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "full")
    assert make_app(sample_ws).animation_level == "full"


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_full_collections_wait_for_an_idle_user() -> None:
    import gc

    from console.tui import gcpolicy

    before = gc.get_threshold()
    clock = _Clock()
    quiet = gcpolicy.QuietGC(clock)
    quiet.start()
    try:
        assert gc.get_threshold()[2] >= gcpolicy.OLDEST_THRESHOLD and gc.get_freeze_count() > 0
        clock.t += gcpolicy.EVERY_S + 1
        quiet.touched()  # a key just now: not while the user is at the keys
        assert not quiet.tick()
        clock.t += gcpolicy.IDLE_S
        assert quiet.tick() and quiet.collections == 1  # idle: collected (and frozen again)
        assert gc.get_freeze_count() > 0
        clock.t += gcpolicy.IDLE_S + 1
        assert not quiet.tick()  # idle, but one ran a moment ago
        for _ in range(int(gcpolicy.FORCE_S // 10) + 1):  # busy for good: forced at FORCE_S
            clock.t += 10
            quiet.touched()
            quiet.tick()
        assert quiet.collections == 2
    finally:
        quiet.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def test_the_console_runs_the_gc_policy_and_ends_it(sample_ws) -> None:
    import gc

    app = make_app(sample_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.quiet_gc.active and gc.get_freeze_count() > 0
        seen = app.quiet_gc._last_input
        app.quiet_gc.clock = lambda: seen + 5.0
        await pilot.press("question_mark")
        assert app.quiet_gc._last_input == seen + 5.0  # a key counts as the user being there
    assert not app.quiet_gc.active and gc.get_freeze_count() == 0


def _thread_nices() -> dict[int, int]:
    """nice of every thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat)."""
    from pathlib import Path

    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        out[int(task.name)] = int(stat.rsplit(")", 1)[1].split()[16])
    return out


def test_the_engines_threads_yield_to_the_event_loop(sample_ws) -> None:
    import threading

    from console.analytics import priority
    from console.tui.backend import Backend
    from console.workspace import load_dir
    from tests.tui_helpers import CAROL

    main_nice = priority.nice_of_current_thread()
    priority.background()  # the main thread (the event loop) is never lowered
    assert priority.nice_of_current_thread() == main_nice
    before = set(_thread_nices())
    got: dict[str, object] = {}

    def work() -> None:  # a worker opens the store and asks for a report, as the console's do
        be = Backend(load_dir(sample_ws), CAROL, live=False)
        be.open()
        got["backend"] = be
        got["nice"] = priority.nice_of_current_thread()
        got["report"] = be.report("ops_report", model="credit-risk", window="all")
        got["threads"] = _thread_nices()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    try:
        assert got["nice"] == priority.BACKGROUND_NICE and got["report"]["windows"]
        new = {tid: nice for tid, nice in got["threads"].items() if tid not in before}
        assert len(new) >= 2 and all(n == priority.BACKGROUND_NICE for n in new.values())  # DuckDB's pool too
        assert got["threads"][threading.get_native_id()] == main_nice
    finally:
        got["backend"].close()
