"""Work a process must finish before it may end early: ``must_finish()`` around it, and
``wait_idle()`` before leaving without the interpreter's own exit (``console.tui.hangup``).

A hung-up console ends itself a few seconds after its terminal went away, whatever its worker
threads are doing — except this: a governance effect (an approved request's hook running and its
outcome journaled, ``governance.effects``) is never abandoned half-way, or a deploy the hook
started would act with no outcome in the journal. Everything else the console writes is safe to
cut at any moment (store batches, journal appends).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Condition()
_RUNNING = 0


@contextmanager
def must_finish() -> Iterator[None]:
    """The enclosed work holds off ``wait_idle`` until it ends (however it ends)."""
    global _RUNNING
    with _LOCK:
        _RUNNING += 1
    try:
        yield
    finally:
        with _LOCK:
            _RUNNING -= 1
            _LOCK.notify_all()


def wait_idle() -> None:
    """Return once no ``must_finish`` block is under way."""
    with _LOCK:
        _LOCK.wait_for(lambda: _RUNNING == 0)
