"""The console's garbage-collection policy: no full collection while the user is at the keys.

CPython's automatic full (generation-2) collection walks every tracked object — the modules,
Textual's widgets, the reports the backend remembers — and stops the event loop while it does.
On the 10M-row bench store that was 80–140 ms, four times within one second of tab switching:
the slowest switches were collections, not work. So, while the console runs:

- what exists once the store is open is frozen (``gc.freeze``): long-lived, not scanned again;
- automatic full collections are made rare (the oldest generation's threshold raised); the
  young generations, where most garbage dies, are collected as usual;
- a full collection runs once the user has been idle for ``IDLE_S`` (no key or click), at most
  every ``EVERY_S``, and in any case after ``FORCE_S``: everything is unfrozen, collected and
  frozen again, so garbage that outlived the young generations is freed then;
- when the app ends everything is unfrozen and the thresholds restored.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

IDLE_S = 3.0  # no key or click for this long: a full collection will not be noticed
EVERY_S = 30.0  # at most this often when idle
FORCE_S = 300.0  # at the latest this long after the last one, idle or not
OLDEST_THRESHOLD = 1000  # gen-1 collections between automatic full ones (CPython's default: 10)


class QuietGC:
    """Full collections when the user is idle. ``clock`` is monotonic seconds (tests pass one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.active = False
        self.collections = 0
        self._saved: tuple[int, int, int] | None = None
        self._last_input = self._last_full = clock()

    def start(self) -> None:
        if self.active:
            return
        self.active = True
        self._saved = gc.get_threshold()
        young, middle, _ = self._saved
        gc.set_threshold(young, middle, max(OLDEST_THRESHOLD, self._saved[2]))
        gc.freeze()

    def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        gc.unfreeze()
        if self._saved is not None:
            gc.set_threshold(*self._saved)

    def touched(self) -> None:
        """A key or a click: the user is here."""
        self._last_input = self.clock()

    def freeze(self) -> None:
        """What exists now is long-lived (the store just opened): stop scanning it."""
        if self.active:
            gc.freeze()

    def tick(self) -> bool:
        """Called every second or two: a full collection when it is time (True if it ran)."""
        if not self.active:
            return False
        now = self.clock()
        since = now - self._last_full
        if since < FORCE_S and (since < EVERY_S or now - self._last_input < IDLE_S):
            return False
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._last_full = self.clock()
        self.collections += 1
        return True
