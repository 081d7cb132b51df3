"""The console as a real process on a real terminal (a pty): it draws, and when the terminal
hangs up (SIGHUP, as when an SSH connection drops) it exits cleanly — no traceback, no
leftover process."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

from tests.frozen_time import CONSOLE


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while time.monotonic() < deadline and needle not in seen:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def test_sighup_exits_cleanly(bare_sample) -> None:
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24")
    proc = subprocess.Popen([*CONSOLE, "--workspace", str(bare_sample)],
                            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    try:
        seen = _read_until(master, b"acme-risk", time.monotonic() + 30)
        assert b"acme-risk" in seen, seen[-500:]
        proc.send_signal(signal.SIGHUP)
        code = proc.wait(timeout=20)
        rest = _read_until(master, b"\x00never", time.monotonic() + 1)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert code in (129, 128 + signal.SIGHUP, -signal.SIGHUP)
    assert b"Traceback" not in rest
