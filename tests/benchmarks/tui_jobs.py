"""TUI measurements, each run as its own process by ``run.py`` and driven headless by Textual's
Pilot (the real app, the real store, real worker threads):

    python -m tests.benchmarks.tui_jobs launch --ws W [--idle 2] [--live]
    python -m tests.benchmarks.tui_jobs panels --ws W --model M [--rounds 3] [--timeout S] [--open-timeout S]

``launch`` times, from the top of this process's work (before Textual or the console is
imported), the app ready (its first frame), the fleet's first paint (registry rows in the
table — what the fleet screen calls its first paint), the fleet populated (the first
paint with traffic, errors, latency, metrics and cost of every model) and complete (drift and
alerts in too), then sits idle and reports the process's peak RSS and current RSS.
``panels`` waits for the fleet to load, opens a model and presses ``1``…``6`` (the tab keys) ``--rounds`` times; a switch is
timed from the key press to the moment the new panel has painted its data. The timestamps come
from wrapping the screens' ``show`` (the main-thread paint of a finished load) to record when it
ran; nothing of the app's behaviour is replaced.
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
    """Poll ``cond`` every 5 ms until it holds (its time) or the deadline passes (None)."""
    while not cond():
        if time.perf_counter() > deadline:
            return None
        await pilot.pause(0.005)
    return time.perf_counter()


def _app(ws_dir: Path, live: bool):
    from console.tui.app import ConsoleApp
    from console.workspace import load_dir

    return ConsoleApp(load_dir(ws_dir), read_only=True, live=live, refresh_interval=0)


def _record_fleet(events: list[tuple[float, Any]]) -> None:
    from console.tui.screens.fleet import FleetScreen

    original = FleetScreen.show

    def show(self, data):
        original(self, data)
        events.append((time.perf_counter(), data))

    FleetScreen.show = show


def _populated(data) -> bool:
    """The fleet's first progressive paint: quick reports of every model are in."""
    return bool(data[0])


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
        await _until(pilot, lambda: any(_populated(d) for _, d in events), deadline)
        populated = next((t for t, d in events if _populated(d)), None)
        await _until(pilot, lambda: any(_populated(d) and not d[2] for _, d in events), deadline)
        complete = next((t for t, d in events if _populated(d) and not d[2]), None)
        last = events[-1][1] if events else ([], [], "")
        since = lambda t: None if t is None else t - T0  # noqa: E731
        out.update({"first_paint_s": since(first), "populated_s": since(populated), "complete_s": since(complete),
                    "timeout_s": a.timeout, "models": table_rows(), "problems": list(last[1]),
                    "models_with_traffic": sum(1 for r in last[0] if r.requests)})
        await asyncio.sleep(a.idle)
        await pilot.pause()
        out.update({"idle_s": a.idle, "rss_idle_mb": _rss_now_mb(),
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        app.exit()
    return out


async def job_panels(a) -> dict[str, Any]:
    from console.tui.screens.model import TABS, ModelScreen

    shown: list[tuple[float, str]] = []
    original = ModelScreen.show

    def show(self, data):
        original(self, data)
        shown.append((time.perf_counter(), data[0].TAB))

    ModelScreen.show = show
    events: list[tuple[float, Any]] = []
    _record_fleet(events)
    app = _app(Path(a.ws), a.live)
    switches: list[dict[str, Any]] = []
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.perf_counter() + a.open_timeout
        if await _until(pilot, lambda: app.backend is not None, deadline) is None:
            raise TimeoutError("the console's backend did not open")
        # a user opens a model once the fleet has loaded: wait for it (or the deadline)
        fleet_done = await _until(pilot, lambda: any(not d[2] for _, d in events), deadline)
        t = time.perf_counter()
        app.open_model(a.model)
        if await _until(pilot, lambda: any(tab == "drift" for _, tab in shown), deadline) is None:
            raise TimeoutError("the drift panel did not load")
        open_s = next(ts for ts, tab in shown if tab == "drift") - t
        seen = {"drift"}
        order = list(range(2, len(TABS) + 1)) + [1]
        for rnd in range(a.rounds):
            for number in order:
                tab = TABS[number - 1]
                n_before = len(shown)
                t = time.perf_counter()
                await pilot.press(str(number))
                deadline = time.perf_counter() + a.timeout
                await _until(pilot, lambda tab=tab, n=n_before: any(s == tab for _, s in shown[n:]), deadline)
                done = next((ts for ts, s in shown[n_before:] if s == tab), None)
                switches.append({"round": rnd, "tab": tab, "seconds": None if done is None else done - t,
                                 "timed_out": done is None, "first_visit": tab not in seen})
                seen.add(tab)
        app.exit()
    return {"live_ingester": a.live, "open_model_s": open_s, "switches": switches,
            "fleet_loaded_first": fleet_done is not None}


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
            s.add_argument("--open-timeout", type=float, default=120.0,
                           help="for the fleet to load and the model screen's first panel")
    a = p.parse_args(argv)
    fn = job_launch if a.job == "launch" else job_panels
    print(json.dumps(asyncio.run(fn(a)), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
