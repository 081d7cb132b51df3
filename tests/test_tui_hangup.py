"""A hung-up console leaves within its grace even when a thread would keep it alive
(console.tui.hangup), in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


HOOK = """
import sys, threading
from console import inflight
from console.tui import hangup
def effect():  # a governance effect under way: a hook and its outcome, still to be journaled
    with inflight.must_finish():
        print("running", flush=True)
        sys.stdin.readline()
        print("journaled", flush=True)
threading.Thread(target=effect).start()
threading.Thread(target=threading.Event().wait).start()  # and a thread that never ends
hangup.arm(129, grace=float(sys.argv[1]))
"""


def test_a_governance_effect_under_way_is_finished_before_leaving(tmp_path) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", HOOK, "0.2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "running"
        with pytest.raises(subprocess.TimeoutExpired):  # the grace has passed: it waits for the effect
            proc.wait(timeout=1.0)
        proc.stdin.write("done\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 129
        assert proc.stdout.read().strip() == "journaled"
    finally:
        if proc.poll() is None:
            proc.kill()
