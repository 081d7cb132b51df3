"""Creating and replacing files safely in a workspace shared by several OS accounts.

Every file the console replaces (``serving.json``, ``journal.head``, ``checkpoint.json``,
Parquet parts, saved keys, cache entries) goes through this module, the one atomic-write
helper:

1. a temp file is created in the final file's folder under a unique hidden name
   (``.<name>.<pid>.<random>.tmp``) with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0666, so
   the umask decides its permissions (002 in a shared workspace: group read-write) and a name
   planted beforehand — a symlink to a file elsewhere, or a temp left by a dead process — is
   never written through: creation fails and another random name is tried;
2. the data is written through that file descriptor (never by re-opening the name) and
   fsynced;
3. the temp file is ``os.replace``d onto the final name, and the folder is fsynced so the
   rename survives a power cut.

Writers that insist on a path (polars, pyarrow) get :attr:`TempFile.target`: on Linux
``/proc/self/fd/<n>``, which re-opens the very file this module created even if someone swaps
the name in between; elsewhere the open file object itself.

Folders are created with mode 0777, so the umask decides them too (a setgid parent passes its
group on to them). Standard library only: every layer of the console may import it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: Flags every new file is created with: exclusive, never through a symlink.
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
#: Mode new files are created with; the umask removes what the deployment does not allow.
FILE_MODE = 0o666
_ATTEMPTS = 64
_PROC_FD = Path("/proc/self/fd")


def temp_path(final: Path) -> Path:
    """A fresh hidden temp name next to ``final``: ``.<name>.<pid>.<random>.tmp``."""
    final = Path(final)
    return final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of this module's temp names (for sweeping orphans)."""
    return name.startswith(".") and name.endswith(".tmp")


def make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents (mode 0777 minus the umask)."""
    Path(path).mkdir(parents=True, exist_ok=True)


def fsync_dir(path: Path) -> None:
    """fsync a folder so a rename inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_append(path: Path, encoding: str = "utf-8"):
    """Open a text file for appending (created 0666 minus the umask), never through a symlink."""
    make_dirs(Path(path).parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.fdopen(os.open(path, flags, FILE_MODE), "a", encoding=encoding)


class TempFile:
    """A new temp file next to ``final``, created exclusively and without following links.

    Write with :meth:`write`, :attr:`file` or :attr:`target`; then :meth:`publish` (fsync,
    rename onto ``final``, fsync the folder) or :meth:`discard`. :meth:`close` keeps the file
    for a later :func:`publish` of :attr:`path` (the store renames a batch's parts together).
    """

    def __init__(self, final: Path, mkdir: bool = True):
        self.final = Path(final)
        if mkdir:
            make_dirs(self.final.parent)
        for _ in range(_ATTEMPTS):
            path = temp_path(self.final)
            try:
                fd = os.open(path, CREATE_FLAGS, FILE_MODE)
            except FileExistsError:
                continue  # a name taken (a planted link, a dead process's temp): draw another
            break
        else:
            raise FileExistsError(f"no free temp name next to {self.final}")
        self.path = path
        self.file: BinaryIO = os.fdopen(fd, "wb")

    @property
    def fd(self) -> int:
        return self.file.fileno()

    @property
    def target(self) -> str | BinaryIO:
        """What to hand a writer that wants a path: a name for *this* open file (Linux's
        ``/proc/self/fd/<n>``), else the file object. Writing through it never follows
        whatever the temp name may point at by then."""
        self.file.flush()
        proc = _PROC_FD / str(self.fd)
        return str(proc) if _PROC_FD.is_dir() else self.file

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def sync(self) -> None:
        """Flush and fsync the data written so far."""
        self.file.flush()
        os.fsync(self.fd)

    def close(self, sync: bool = True) -> Path:
        """fsync (when ``sync``) and close; the temp file stays at :attr:`path`."""
        if not self.file.closed:
            try:
                if sync:
                    self.sync()
                else:
                    self.file.flush()
            finally:
                self.file.close()
        return self.path

    def publish(self, sync: bool = True) -> Path:
        """Make the written data ``final`` atomically; returns ``final``."""
        self.close(sync)
        publish(self.path, self.final, sync)
        return self.final

    def discard(self) -> None:
        """Close and delete the temp file (an error path: nothing replaces ``final``)."""
        try:
            self.file.close()
        finally:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def publish(tmp: Path, final: Path, sync: bool = True) -> None:
    """Rename an already written and closed temp file onto ``final`` and fsync the folder."""
    os.replace(tmp, final)
    if sync:
        fsync_dir(Path(final).parent)


@contextmanager
def replacing(final: Path, sync: bool = True) -> Iterator[TempFile]:
    """``with replacing(path) as tmp: ...`` — ``path`` is replaced by what was written to
    ``tmp`` when the block ends normally; on an exception the temp file is deleted."""
    tmp = TempFile(final)
    try:
        yield tmp
    except BaseException:
        tmp.discard()
        raise
    try:
        tmp.publish(sync)
    except BaseException:
        tmp.discard()
        raise


def write_atomic(final: Path, data: bytes, sync: bool = True) -> None:
    """Replace ``final`` with ``data`` atomically (temp, fsync, rename, fsync the folder)."""
    with replacing(final, sync) as tmp:
        tmp.write(data)
