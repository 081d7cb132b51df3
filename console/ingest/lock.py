"""The ingest lock: an ``flock`` on ``.console/ingest.lock`` so one console ingests at a time.

Other consoles only read. The holder writes its pid into the file so a waiting console can
say who is ingesting. The lock is released when the holder exits, even on ``kill -9``.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


class IngestLock:
    """A non-blocking, re-checkable ``flock``; ``acquire(timeout)`` polls until it gets it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # 0666 minus the umask: in a shared workspace (umask 002) every member of the group
        # can take the lock next; never through a symlink planted at the lock's name.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            if self.try_acquire():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.1)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def __enter__(self) -> IngestLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
