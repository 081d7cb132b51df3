"""How the process's C allocator hands freed memory back to the system (set once, on import of ``console``).

The console holds big NumPy arrays (the dedupe key set: 800 MB at 100M keys, and a few arrays of
the size of a file's records for each Parquet file it adopts). glibc's default raises its
``mmap`` threshold each time a big array is freed (up to 32 MB), so the next arrays of a few MB
come from its heaps, which fragment and are not trimmed: on the 100M-record benchmark that was
600 MB of peak RSS (docs/benchmarks.md). So ``M_MMAP_THRESHOLD`` is fixed at 1 MiB (``mallopt``;
setting it also stops the dynamic raise): every block from 1 MiB up is its own mapping, returned
to the system when freed. A user's ``MALLOC_MMAP_THRESHOLD_`` wins.

(polars' jemalloc keeps its own defaults: returning its freed pages at once saved no peak
memory once this was set, and cost 10 s of the same adoption's 65.)
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def configure() -> None:
    """Apply the setting above (idempotent; nothing on a system without glibc's ``mallopt``)."""
    if sys.platform != "linux" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # (the interpreter's own C library; no ldconfig lookup)
    except (OSError, AttributeError):  # musl and others: no mallopt
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
