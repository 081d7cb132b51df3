"""How the process's memory allocators hand freed memory back to the system (set once, on import of ``console``).

The console holds big NumPy arrays (the dedupe key set: 800 MB at 100M keys) beside four
allocators: glibc's (NumPy, Python), polars' jemalloc, DuckDB's and Arrow's. Left to their
defaults, the freed memory of a large Parquet adoption stayed in the process: glibc raises its
``mmap`` threshold each time a big array is freed (up to 32 MB), so the next arrays of a few MB
come from its heaps, which fragment and are not trimmed; polars' jemalloc keeps freed pages
for half a second. On the 100M-record benchmark that was 550 MB of peak RSS
(docs/benchmarks.md). So:

- glibc: a fixed ``M_MMAP_THRESHOLD`` of 1 MiB — every block from 1 MiB up is its own mapping,
  returned to the system when freed (``mallopt``; setting it also stops the dynamic raise);
- polars' jemalloc: freed pages returned at once (``dirty_decay_ms:0,muzzy_decay_ms:0``,
  read from ``_RJEM_MALLOC_CONF`` when polars is first imported, hence on ``console``'s import).

A user's own ``_RJEM_MALLOC_CONF`` or ``MALLOC_MMAP_THRESHOLD_`` wins over these.
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 1 << 20
JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def configure() -> None:
    """Apply the settings above (idempotent; nothing on a system without glibc)."""
    if "polars" not in sys.modules:  # (too late once polars is loaded: its jemalloc read the variable)
        os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)
    if sys.platform != "linux" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # (the interpreter's own C library; no ldconfig lookup)
    except (OSError, AttributeError):  # musl and others: no mallopt
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
