"""TUI benchmark (not run by CI): launch to a populated fleet, then panel switches p50/p95, with
Textual's Pilot on the real app, store and worker threads.

    python -m tests.benchmarks.bench_tui [--ws DIR] [--model M] [--rounds 5] [--size 120x40]

Without ``--ws`` it copies the bundled sample workspace to a temp dir and ingests it with the
real ingester first. "Populated" is the fleet's first paint with every model's quick reports
(traffic, errors, latency, metric, cost); "complete" adds drift and alerts. A panel switch is
timed from the key press to the main-thread paint of that tab's data (``ModelScreen.show``).
``tests/benchmarks/tui_jobs.py`` runs the same measurements one process per job for the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def run(ws_dir: Path, model: str, rounds: int, size: tuple[int, int]) -> dict:
    from console.tui.app import ConsoleApp
    from console.tui.screens.fleet import FleetScreen
    from console.tui.screens.model import TABS, ModelScreen
    from console.workspace import load_dir

    fleet_paints: list[tuple[float, tuple]] = []
    panel_paints: list[tuple[float, str]] = []
    fleet_show, model_show = FleetScreen.show, ModelScreen.show

    def record_fleet(self, data):
        fleet_show(self, data)
        fleet_paints.append((time.perf_counter(), data))

    def record_panel(self, data):
        model_show(self, data)
        panel_paints.append((time.perf_counter(), data[0].TAB))

    FleetScreen.show, ModelScreen.show = record_fleet, record_panel
    t0 = time.perf_counter()
    app = ConsoleApp(load_dir(ws_dir), read_only=True, live=False, refresh_interval=0)

    async def until(pilot, cond, timeout: float = 300.0) -> float:
        deadline = time.perf_counter() + timeout
        while not cond():
            if time.perf_counter() > deadline:
                raise TimeoutError("benchmark step timed out")
            await pilot.pause(0.005)
        return time.perf_counter()

    out: dict = {"workspace": str(ws_dir), "size": f"{size[0]}x{size[1]}"}
    async with app.run_test(size=size) as pilot:
        out["first_frame_s"] = time.perf_counter() - t0
        populated = await until(pilot, lambda: bool(fleet_paints))
        complete = await until(pilot, lambda: any(not d[2] for _, d in fleet_paints))
        out["fleet_populated_s"] = populated - t0
        out["fleet_complete_s"] = complete - t0
        t = time.perf_counter()
        app.open_model(model)
        await until(pilot, lambda: any(tab == "drift" for _, tab in panel_paints))
        out["open_model_s"] = time.perf_counter() - t
        switches: list[float] = []
        for _ in range(rounds):
            for number in [*range(2, len(TABS) + 1), 1]:
                n = len(panel_paints)
                t = time.perf_counter()
                await pilot.press(str(number))
                done = await until(pilot, lambda n=n, tab=TABS[number - 1]: any(
                    s == tab for _, s in panel_paints[n:]))
                switches.append(done - t)
                out.setdefault("per_switch", []).append((TABS[number - 1], round(done - t, 3)))
        out.update({"switches": len(switches), "switch_p50_s": statistics.median(switches),
                    "switch_p95_s": quantile(switches, 0.95), "switch_max_s": max(switches)})
        app.exit()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_tui", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ws", help="an ingested workspace (default: a fresh copy of sample_data)")
    p.add_argument("--model", default="credit-risk")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--size", default="120x40")
    a = p.parse_args(argv)
    size = tuple(int(x) for x in a.size.split("x"))
    if a.ws:
        ws_dir = Path(a.ws)
    else:
        from console.ingest.engine import Ingester
        from console.workspace import load_dir

        ws_dir = Path(tempfile.mkdtemp(prefix="bench-tui-")) / "ws"
        shutil.copytree(REPO / "sample_data", ws_dir, ignore=shutil.ignore_patterns(".console"))
        Ingester(load_dir(ws_dir)).run_once()
    print(json.dumps(asyncio.run(run(ws_dir, a.model, a.rounds, size)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
