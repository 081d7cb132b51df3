"""Leaving after the terminal hung up (SSH dropped): a bounded grace, then the exit of a kill.

A hung-up console asks Textual to exit, and its backend stops the live ingester and cancels the
running DuckDB queries. The interpreter still joins every worker thread before it exits, and
Python work in flight (a drift test in NumPy, a file the ingester is reading) runs to its end.
Nobody is there to wait for it: ``arm`` starts a daemon timer that, should the process still be
alive ``grace`` seconds later, removes this process's DuckDB spill folder and ends the process
with ``os._exit`` — what ``kill -9`` would do, which the store's commit protocol makes safe (a
batch is committed whole or not at all; what an unfinished one wrote is swept by the next
ingest). A governance effect under way (a hook and its journaled outcome) is waited for first
(``console.inflight``). A console that finishes in time exits normally and the timer dies with
it.
"""

from __future__ import annotations

import os
import threading

from console import inflight
from console.store import duck

GRACE = 5.0  # seconds a hung-up console may take to leave on its own


def arm(code: int, grace: float = GRACE) -> threading.Timer:
    """Exit with ``code`` in ``grace`` seconds unless the process has ended by then."""
    timer = threading.Timer(grace, leave_now, args=(code,))
    timer.daemon = True
    timer.name = "hangup-exit"
    timer.start()
    return timer


def leave_now(code: int) -> None:
    """End the process with ``code`` once no governance effect is under way: the spill folder
    removed, nothing else waited for."""
    inflight.wait_idle()
    try:
        duck.discard_spill()
    finally:
        os._exit(code)
