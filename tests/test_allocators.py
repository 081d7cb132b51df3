"""The process's allocator setting (``console.allocators``), seen from a fresh interpreter:
after a big array is freed, a 2 MiB array must still get its own mapping (returned to the
system when freed), not a piece of the heap — which is what glibc's default does once its
dynamic threshold has risen. Once a drift computation set its own (``for_drift``), the same
array comes from the heap (a merge's temporaries are not fresh mappings). A user's
``MALLOC_MMAP_THRESHOLD_`` wins over both.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

# After a 16 MiB array is freed (glibc raises its threshold to the size of a freed mapping up to 32 MiB), is a new 2 MiB array inside the [heap] (brk) area?
PROBE = """
import sys
if sys.argv[1] in ("console", "drift"):
    import console  # noqa: F401
if sys.argv[1] == "drift":
    from console import allocators
    allocators.for_drift()
import numpy as np
def heap():
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            return lo, hi
    return 0, 0
big = np.ones(16 << 20, dtype=np.uint8)
del big
small = np.ones(2 << 20, dtype=np.uint8)
lo, hi = heap()
at = small.ctypes.data
print("heap" if lo <= at < hi else "own-mapping")
"""


def _run(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    mine = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX")
    env = {k: v for k, v in os.environ.items() if k not in mine} | (env or {})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False, timeout=120, env=env)


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_freed_arrays_of_a_few_mb_go_back_to_the_system_after_a_big_one_was_freed():
    plain = _run(["-c", PROBE, "plain"])
    ours = _run(["-c", PROBE, "console"])
    assert plain.returncode == 0 and ours.returncode == 0, plain.stderr + ours.stderr
    # the test's premise: glibc's default puts it in the heap (where freeing it returns nothing)
    assert plain.stdout.strip() == "heap"
    assert ours.stdout.strip() == "own-mapping"


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_the_users_own_threshold_wins():
    theirs = _run(["-c", PROBE, "console"], env={"MALLOC_MMAP_THRESHOLD_": str(32 << 20)})
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout.strip() == "heap"


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_a_drift_computation_serves_temporaries_of_a_few_mb_from_the_heap_unless_the_user_chose():
    drift = _run(["-c", PROBE, "drift"])
    assert drift.returncode == 0, drift.stderr
    assert drift.stdout.strip() == "heap"
    theirs = _run(["-c", PROBE, "drift"], env={"MALLOC_MMAP_THRESHOLD_": str(1 << 20)})
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout.strip() == "own-mapping"


# Threads that each allocate once at the same moment: how many malloc arenas does the process have?
ARENA_PROBE = """
import ctypes, sys, threading
if sys.argv[1] == "console":
    import console  # noqa: F401
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
n = int(sys.argv[2])
together = threading.Barrier(n)
def work():
    together.wait()
    libc.malloc(1000)  # (ctypes lets go of the GIL: the threads allocate at once)
    together.wait()
threads = [threading.Thread(target=work) for _ in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc.malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas(proc: subprocess.CompletedProcess) -> int:
    assert proc.returncode == 0, proc.stderr
    return sum(line.startswith("Arena ") for line in proc.stderr.splitlines())


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_threads_share_at_most_one_arena_per_core():
    from console import allocators

    n = str(allocators.arenas() + 4)
    plain = _arenas(_run(["-c", ARENA_PROBE, "plain", n]))
    ours = _arenas(_run(["-c", ARENA_PROBE, "console", n]))
    theirs = _arenas(_run(["-c", ARENA_PROBE, "console", n], env={"MALLOC_ARENA_MAX": "1"}))
    assert plain > allocators.arenas()  # the premise: glibc's default gives each thread its own
    assert 1 < ours <= allocators.arenas()
    assert theirs == 1  # the user's MALLOC_ARENA_MAX wins

