"""TUI measurements, each run as its own process by ``run.py`` and driven headless by Textual's
Pilot (the real app, the real store, real worker threads):

    python -m tests.benchmarks.tui_jobs launch --ws W [--idle 2] [--live]
    python -m tests.benchmarks.tui_jobs panels --ws W --model M [--rounds 3] [--think S] [--timeout S] [--open-timeout S]

``launch`` times, from the top of this process's work (before Textual or the console is
imported), the app ready (its first frame), the fleet's first paint (registry rows in the
table), the fleet **populated** (the first paint after which every row shows real numbers:
requests, and for a model with traffic its error rate, p95 latency, cost today and
month-to-date), when each slow column was in (``parts_in_s``: latest labelled metric, drift,
alerts — each from its own worker) and **complete** (all of them in), then sits idle and
reports the process's peak RSS and current RSS. The times are taken after the fleet screen's
``show`` ran (wrapped to record it; nothing of the app's behaviour is replaced).

``panels`` waits for the fleet to be complete, opens a model as a user does — the cursor on its
row (``model_highlighted_before_open``: it was there already, so the fleet computed its tabs
ahead as it does for the highlighted row), then enter (``open_model_s``: until the visible
drift panel has painted data) — and then — at once, or ``--think`` seconds after each
panel — sends the tab keys ``2``…``6``, ``1`` for ``--rounds`` rounds, as the terminal driver
delivers keys (``pilot.press`` would also wait for the tab bar's underline animation). A switch
is timed from the key to the moment the new tab is the visible one, its panel has painted data
of the screen's current load, and the screen has refreshed. The model screen prefetches every
tab in the background, so a first visit may still wait for its data (counted, never skipped);
``model_loaded_s`` is the screen's own load (open → every tab complete, drift trend included).
``summary`` gives p50/p95/max (nearest rank; a timed-out switch counts as infinitely slow) for
first visits, revisits and all switches together.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _until(pilot, cond, deadline: float) -> float | None:
    """Poll ``cond`` every 5 ms until it holds (its time) or the deadline passes (None). A plain
    sleep: ``pilot.pause`` would also send a message to every widget of the screen on each poll
    and wait for all of them, loading the event loop it measures."""
    while not cond():
        if time.perf_counter() > deadline:
            return None
        await asyncio.sleep(0.005)
    return time.perf_counter()


def _app(ws_dir: Path, live: bool):
    from console.tui.app import ConsoleApp
    from console.workspace import load_dir

    return ConsoleApp(load_dir(ws_dir), read_only=True, live=live, refresh_interval=0)


def _record_fleet(events: list[tuple[float, dict[str, Any]]]) -> None:
    """After every fleet paint: its time, what the rows show and what is still loading."""
    from console.tui.screens.fleet import FleetScreen

    original = FleetScreen.show

    def show(self, data):
        original(self, data)
        events.append((time.perf_counter(), {
            "waiting_for": set(self.waiting_for), "models": len(self.rows),
            "with_traffic": sum(1 for r in self.rows if r.requests),
            "populated": _populated(self.rows) and "summary" not in self.waiting_for,
            "complete": not self.waiting_for, "problems": [p for v in self.problems.values() for p in v],
        }))

    FleetScreen.show = show


def _populated(rows) -> bool:
    """Every row shows real numbers: requests, and for a model with traffic its error rate,
    p95 latency and cost (today and month-to-date)."""
    return bool(rows) and all(
        r.requests is not None and (not r.requests or (
            r.error_rate is not None and r.p95_ms is not None and r.cost_today is not None
            and r.cost_mtd is not None))
        for r in rows)


async def job_launch(a) -> dict[str, Any]:
    events: list[tuple[float, Any]] = []
    _record_fleet(events)
    imported_at = time.perf_counter()
    app = _app(Path(a.ws), a.live)
    out: dict[str, Any] = {"live_ingester": a.live, "imports_s": imported_at - T0}
    async with app.run_test(size=(160, 48)) as pilot:
        from textual.widgets import DataTable

        out["app_ready_s"] = time.perf_counter() - T0  # the first frame (header, empty fleet)
        deadline = time.perf_counter() + a.timeout

        def table_rows() -> int:
            try:
                return app.screen.query_one("#fleet", DataTable).row_count
            except Exception:
                return 0

        first = await _until(pilot, lambda: table_rows() > 0, deadline)
        await _until(pilot, lambda: any(e["populated"] for _, e in events), deadline)
        populated = next((t for t, e in events if e["populated"]), None)
        await _until(pilot, lambda: any(e["complete"] for _, e in events), deadline)
        complete = next((t for t, e in events if e["complete"]), None)
        parts: dict[str, float] = {}  # when each slow column was in (its worker finished)
        for t, e in events:
            for part in ("metric", "drift", "alerts"):
                if part not in e["waiting_for"] and e["populated"]:
                    parts.setdefault(part, t - T0)
        last = events[-1][1] if events else {"problems": [], "with_traffic": 0}
        since = lambda t: None if t is None else t - T0  # noqa: E731
        out.update({"first_paint_s": since(first), "populated_s": since(populated), "complete_s": since(complete),
                    "parts_in_s": parts, "timeout_s": a.timeout, "models": table_rows(),
                    "problems": list(last["problems"]), "models_with_traffic": last["with_traffic"]})
        await asyncio.sleep(a.idle)
        await pilot.pause()
        out.update({"idle_s": a.idle, "rss_idle_mb": _rss_now_mb(),
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        app.exit()
    return out


async def job_panels(a) -> dict[str, Any]:
    from console.tui.screens.model import TABS

    events: list[tuple[float, Any]] = []
    _record_fleet(events)
    app = _app(Path(a.ws), a.live)
    switches: list[dict[str, Any]] = []
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.perf_counter() + a.open_timeout
        if await _until(pilot, lambda: app.backend is not None, deadline) is None:
            raise TimeoutError("the console's backend did not open")
        # a user opens a model once the fleet has loaded: wait for it (or the deadline)
        fleet_done = await _until(pilot, lambda: any(e["complete"] for _, e in events), deadline)
        # ... the way a user does: the cursor on the model's row (where it is already when the
        # model is the one highlighted), then enter
        from textual.widgets import DataTable

        table = app.screen.query_one("#fleet", DataTable)
        row = table.get_row_index(a.model)
        highlighted = table.cursor_row == row
        if not highlighted:
            table.move_cursor(row=row)
            await pilot.pause(0)
        t_open = time.perf_counter()
        _send_key(app, "enter")
        await _until(pilot, lambda: type(app.screen).__name__ == "ModelScreen", deadline)
        screen = app.screen

        loaded_at: list[float] = []

        def painted(tab: str) -> bool:
            """The tab is the visible one and its panel painted data of the screen's latest load
            (and, on the side: the first moment every tab was complete)."""
            if not loaded_at and all_complete():
                loaded_at.append(time.perf_counter())
            try:
                panel = screen.query_one(f"#panel-{tab}")
            except Exception:  # not mounted yet
                return False
            return screen.active_tab() == tab and screen.generation > 0 and panel.shown == screen.generation

        def all_complete() -> bool:
            try:
                return screen.generation > 0 and all(p.complete == screen.generation for p in screen.panels())
            except Exception:
                return False

        first = await _until(pilot, lambda: painted(TABS[0]), deadline)
        if first is None:
            raise TimeoutError("the drift panel did not load")
        open_s = first - t_open
        seen = {TABS[0]}
        # the user starts switching as soon as the first panel shows (--think s between keys);
        # the model screen's own load (every tab complete) is timed alongside
        order = list(range(2, len(TABS) + 1)) + [1]
        for rnd in range(a.rounds):
            for number in order:
                tab = TABS[number - 1]
                if a.think:
                    await asyncio.sleep(a.think)
                t = time.perf_counter()
                _send_key(app, str(number))
                deadline = time.perf_counter() + a.timeout
                done = await _until(pilot, lambda tab=tab: painted(tab), deadline)
                if done is not None:
                    await pilot.pause(0)  # and the screen has refreshed with it
                    done = time.perf_counter()
                switches.append({"round": rnd, "tab": tab, "seconds": None if done is None else done - t,
                                 "timed_out": done is None, "first_visit": tab not in seen})
                seen.add(tab)
        if not loaded_at:
            got = await _until(pilot, all_complete, time.perf_counter() + a.open_timeout)
            loaded_at.append(got) if got is not None else None
        app.exit()
    return {"live_ingester": a.live, "open_model_s": open_s, "think_s": a.think,
            "model_loaded_s": (loaded_at[0] - t_open) if loaded_at else None,
            "switches": switches, "summary": _switch_summary(switches),
            "fleet_loaded_first": fleet_done is not None, "model_highlighted_before_open": highlighted}


def _send_key(app, key: str) -> None:
    """The key as the terminal driver delivers it (``pilot.press`` would also wait for the tab
    bar's underline animation to end — not something a user waits for)."""
    from textual import events

    event = events.Key(key, {"enter": "\r"}.get(key, key))
    event.set_sender(app)
    app._driver.send_message(event)


def _pct(xs: list[float], q: float) -> float | None:
    """Nearest-rank percentile (a timed-out switch counts as infinitely slow)."""
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(-(-q * len(xs) // 1)) - 1))]


def _switch_summary(switches: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, pick in (("first_visits", lambda s: s["first_visit"]),
                       ("revisits", lambda s: not s["first_visit"]), ("all", lambda s: True)):
        xs = [float("inf") if s["timed_out"] else s["seconds"] for s in switches if pick(s)]
        out[name] = {"n": len(xs), "p50_s": _pct(xs, 0.5), "p95_s": _pct(xs, 0.95),
                     "max_s": max(xs) if xs else None}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks.tui_jobs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="job", required=True)
    for name in ("launch", "panels"):
        s = sub.add_parser(name)
        s.add_argument("--ws", required=True)
        s.add_argument("--live", action="store_true", help="start the live ingester as the console does")
        s.add_argument("--timeout", type=float, default=120.0)
        if name == "launch":
            s.add_argument("--idle", type=float, default=2.0)
        else:
            s.add_argument("--model", required=True)
            s.add_argument("--rounds", type=int, default=3)
            s.add_argument("--think", type=float, default=0.0,
                           help="seconds between a panel painting and the next key (default 0: at once)")
            s.add_argument("--open-timeout", type=float, default=120.0,
                           help="for the fleet to load and the model screen's first panel")
    a = p.parse_args(argv)
    fn = job_launch if a.job == "launch" else job_panels
    print(json.dumps(asyncio.run(fn(a)), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
