"""A hung-up console leaves within its grace even when a thread would keep it alive
(console.tui.hangup), in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LINGER = """
import sys, threading
from console.store import duck
from console.tui import hangup
print(duck.spill_dir(), flush=True)
threading.Thread(target=threading.Event().wait).start()  # joined at exit: forever
hangup.arm(129, grace=float(sys.argv[1]))
"""


def _run(tmp_path: Path, grace: str, code: str = LINGER) -> tuple[int, str]:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", code, grace], stdout=subprocess.PIPE, text=True, env=env)
    try:
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return rc, proc.stdout.read().strip()


def test_a_lingering_thread_does_not_keep_a_hung_up_console(tmp_path) -> None:
    rc, spill = _run(tmp_path, "0.2")
    assert rc == 129
    assert Path(spill).parent == tmp_path and not Path(spill).exists()


def test_a_console_that_leaves_in_time_keeps_its_own_exit(tmp_path) -> None:
    quick = "import sys\nfrom console.tui import hangup\nhangup.arm(129, grace=float(sys.argv[1]))\nsys.exit(7)\n"
    rc, _ = _run(tmp_path, "60", quick)
    assert rc == 7
