"""CPU priority of the console's threads: the event loop first.

The event loop (the main thread) paints the screen and reads the keys; the worker threads and
DuckDB's own thread pool compute reports. On a 2-core box DuckDB keeps both cores busy during a
large query, and a key press then waits for the scheduler behind it. Every thread that does the
engine's work lowers its own priority (Linux per-thread nice, ``BACKGROUND_NICE``) before it
starts, and DuckDB's pool inherits it from the thread that opens the store, so the event loop —
idle most of the time — runs at once when it has something to do. Elsewhere (or if the OS says
no) this does nothing: it only ever lowers a priority, so it needs no privilege.
"""

from __future__ import annotations

import os
import threading

BACKGROUND_NICE = 10


def background() -> None:
    """Lower the calling thread's CPU priority to ``BACKGROUND_NICE`` (never the main thread's)."""
    if threading.current_thread() is threading.main_thread():
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: the default priority stays
        pass


def nice_of_current_thread() -> int | None:
    """The calling thread's nice value (None where it cannot be read)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return None
