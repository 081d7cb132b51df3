"""How the process's C allocator hands freed memory back to the system, and how many arenas it
keeps: set on import of ``console``, and again by a process's first drift computation
(``for_drift``).

The console holds big NumPy arrays (the dedupe key set: 800 MB at 100M keys, and a few arrays of
the size of a file's records for each Parquet file it adopts). glibc's default raises its
``mmap`` threshold each time a big array is freed (up to 32 MB), so the next arrays of a few MB
come from its heaps, which fragment and are not trimmed: on the 100M-record benchmark that was
600 MB of peak RSS (docs/benchmarks.md). So ``M_MMAP_THRESHOLD`` is fixed at 1 MiB (``mallopt``;
setting it also stops the dynamic raise): every block from 1 MiB up is its own mapping, returned
to the system when freed. A user's ``MALLOC_MMAP_THRESHOLD_`` wins.

Threads that allocate at once each get an arena of their own, up to 8 per core by glibc's
default, and what one arena frees only that arena reuses: the TUI's worker threads, DuckDB's and
pyarrow's spread the same few hundred MB of short-lived blocks over 14–16 arenas. So the arenas
are capped at the process's cores (at least 2; ``M_ARENA_MAX``): on the 100M-record benchmark the
TUI's cold peak went from 1,990 to 1,934 MiB, and its reports were no slower. A user's
``MALLOC_ARENA_MAX`` wins.

(polars' jemalloc keeps its own defaults: returning its freed pages at once saved no peak
memory once this was set, and cost 10 s of the same adoption's 65.)

A drift computation then moves the threshold to 4 MiB, once per process (``for_drift``): its
merges make and free NumPy temporaries of 0.1–16 MB by the thousand, and the page faults of a
fresh mapping for each cost as much as the arithmetic (30 daily windows: about -35 % CPU). Up
to 64 MiB freed at the top of a heap stays there for reuse (``M_TRIM_THRESHOLD``). A console
that both adopts and reckons drift (the TUI following new files) has the drift setting from its
first drift on. A user's ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` wins here too.
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 1 << 20
DRIFT_MMAP_THRESHOLD = 4 << 20
DRIFT_TRIM_THRESHOLD = 64 << 20
_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_DRIFT_SET = False


def _mallopt():
    """glibc's ``mallopt`` (None: not Linux, or a C library without it, such as musl)."""
    if sys.platform != "linux":
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt  # (the interpreter's own C library; no ldconfig lookup)
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def arenas() -> int:
    """The most malloc arenas the process gets: its cores, at least 2."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(2, cores)


def configure() -> None:
    """Apply the process's settings above (idempotent; nothing without glibc's ``mallopt``)."""
    mallopt = _mallopt()
    if mallopt is None:
        return
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    if "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(_M_ARENA_MAX, arenas())


def for_drift() -> None:
    """The drift setting above, once per process (nothing when the user set either threshold)."""
    global _DRIFT_SET
    if _DRIFT_SET:
        return
    _DRIFT_SET = True
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return
    mallopt = _mallopt()
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, DRIFT_MMAP_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, DRIFT_TRIM_THRESHOLD)
