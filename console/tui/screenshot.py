"""Export an SVG screenshot of a console screen (the README's ``docs/screenshot.svg``):

    python -m console.tui.screenshot WORKSPACE OUT.svg [--size 120x32] [--keys enter,3] [--at 2026-11-21T23:59:59Z]

The workspace must be ingested (``mlops-console ingest``). ``--at`` freezes the clock so the
picture does not depend on when it was taken; ``--keys`` are pressed (each after the screen has
loaded) before the picture is taken.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from pathlib import Path

from console import clock


async def _shoot(ws_dir: Path, out: Path, size: tuple[int, int], keys: list[str], at: datetime | None) -> None:
    from console.identity import Identity
    from console.tui.app import ConsoleApp
    from console.workspace import load_dir

    ws = load_dir(ws_dir)
    reviewer = ws.reviewers[0] if ws.reviewers else "reviewer"
    if at is not None:
        clock.freeze(at)
    app = ConsoleApp(ws, identity=Identity(reviewer, reviewer=True), live=False, refresh_interval=0)
    async with app.run_test(size=size) as pilot:
        for key in ["", *keys]:
            if key:
                await pilot.press(key)
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
        app.save_screenshot(out.name, path=str(out.parent))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m console.tui.screenshot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workspace")
    p.add_argument("out")
    p.add_argument("--size", default="120x32")
    p.add_argument("--keys", default="")
    p.add_argument("--at", help="freeze the clock at this RFC 3339 time")
    a = p.parse_args(argv)
    size = tuple(int(x) for x in a.size.split("x"))
    at = clock.as_utc(datetime.fromisoformat(a.at.replace("Z", "+00:00"))) if a.at else None
    keys = [k for k in a.keys.split(",") if k]
    asyncio.run(_shoot(Path(a.workspace), Path(a.out).resolve(), size, keys, at))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
