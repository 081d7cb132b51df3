"""The instant the console's clock is frozen at in every test (the last second of the sample
story), and a launcher that runs the console's command line in a new process on that clock.

``[*CONSOLE, "check", ...]`` replaces ``[*CONSOLE, "check", ...]`` in the
tests: the child freezes ``console.clock`` before it runs ``console.cli.main``, so nothing a
test starts reads the operating system's clock either.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

FROZEN = datetime(2026, 11, 21, 23, 59, 59, tzinfo=UTC)

CONSOLE = [sys.executable, str(Path(__file__).resolve())]

if __name__ == "__main__":
    from console import clock
    from console.cli import main

    clock.freeze(FROZEN)
    raise SystemExit(main(sys.argv[1:]))
