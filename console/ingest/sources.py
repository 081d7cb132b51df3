"""Finding source files and knowing which stream each one is.

A *stream* is one log followed across its life: appended to, renamed by rotation,
copy-truncated, gzipped. It is identified by a fingerprint of its content, not by its path:
the SHA-256 of the first ``min(4096, size)`` bytes of its (decompressed) content, together
with that length. A file continues a known stream when its first ``fp_len`` bytes hash to the
stream's fingerprint and either

1. it is at the stream's last path (and not shorter than what was consumed), or
2. the stream's last path no longer holds it (renamed, truncated, gzipped, deleted) —
   a rotated file picks up exactly where the stream left off, in decompressed bytes.

Anything else is a new stream read from its start (records already stored count as
duplicates). Parquet files are immutable wholes: fingerprint = hash of size, first and last
4 KiB; progress is counted in rows. A Delta Lake table (a folder holding ``_delta_log/``) is one
source followed by its path, never read as a folder of files (``console.ingest.delta``): its
"size" is its number of versions, and a table recreated at the same path is told by its id
when it is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from console import clock
from console.ingest import delta
from console.store.checkpoint import Checkpoint, SourceState

FP_BYTES = 4096
PRUNE_GONE_AFTER_S = 7 * 24 * 3600
SUFFIXES = {
    ".jsonl": ("jsonl", False),
    ".jsonl.gz": ("jsonl", True),
    ".csv": ("csv", False),
    ".csv.gz": ("csv", True),
    ".parquet": ("parquet", False),
}


@dataclass
class SourceFile:
    path: Path
    kind: str
    fmt: str
    gz: bool
    ino: int
    size: int
    mtime_ns: int
    prefix: bytes = b""


def classify(path: Path) -> tuple[str, bool] | None:
    name = path.name.lower()
    for suffix, fmt in SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return None


def follow_links_setting(ws) -> bool:
    """``[sources] follow_links`` of a workspace (default false); anything but a boolean is a
    configuration error."""
    value = ws.section("sources").get("follow_links", False)
    if not isinstance(value, bool):
        from console.errors import WorkspaceError

        raise WorkspaceError(f"{ws.config_path}: [sources] follow_links must be true or false, not {value!r}")
    return value


def discover(
    roots: list[Path],
    kind: str,
    follow_links: bool = False,
    inside: list[Path] | None = None,
    skipped: dict[str, str] | None = None,
) -> list[SourceFile]:
    """Every source file below ``roots`` (recursively), sorted by path; hidden files skipped.

    Symbolic links are never followed out of the source folders: a link to a file is read
    only when its target lies inside one of ``inside`` (default ``roots``; the configured
    folders themselves may be links), a link to a folder is not descended (its files, if
    inside, are read at their real path). With ``follow_links`` (``[sources] follow_links =
    true``) every link is followed. Each link skipped is recorded in ``skipped`` (path →
    why), and so is a folder that cannot be listed or a source file that cannot be looked at
    (``permission denied``; one that vanished meanwhile is not a problem)."""
    found: dict[str, SourceFile] = {}
    allowed = [os.path.realpath(r) for r in (inside if inside is not None else roots)]

    def within(target: str) -> bool:
        return any(target == a or target.startswith(a.rstrip(os.sep) + os.sep) for a in allowed)

    def skip(path: Path, what: str) -> None:
        if skipped is not None:
            target = os.path.realpath(path)
            skipped[str(path)] = (
                f"symbolic link to {what} {target} outside the source folders: not read "
                "(set [sources] follow_links = true to read it)"
            )

    def report(exc: OSError) -> None:
        if skipped is not None and not isinstance(exc, FileNotFoundError) and exc.filename is not None:
            skipped[os.fsdecode(exc.filename)] = os_problem(exc)

    def consider(path: Path, is_link: bool) -> None:
        fmt = classify(path)
        if fmt is None or path.name.startswith("."):
            return
        if is_link and not follow_links and not within(os.path.realpath(path)):
            skip(path, "a file")
            return
        try:
            st = os.stat(path)
        except OSError as exc:
            report(exc)
            return
        found[str(path)] = SourceFile(path, kind, fmt[0], fmt[1], st.st_ino, st.st_size, st.st_mtime_ns)

    def consider_table(path: Path) -> None:
        try:
            ino, size, mtime_ns = delta.log_state(path)
        except OSError as exc:
            report(exc)
            return
        found[str(path)] = SourceFile(path, kind, "delta", False, ino, size, mtime_ns)

    for root in roots:
        if root.is_file():
            consider(root, False)  # named in console.toml: read wherever it points
            continue
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_links, onerror=report):
            real = os.path.realpath(dirpath)
            if real in seen:  # a link loop (only when following links)
                dirnames[:] = []
                continue
            seen.add(real)
            if delta.LOG_DIR in dirnames and delta.is_table(Path(dirpath)):
                consider_table(Path(dirpath))  # one source, not a folder of Parquet files
                dirnames[:] = []
                continue
            keep = []
            for d in sorted(dirnames):
                if d.startswith("."):
                    continue
                sub = Path(dirpath) / d
                if not follow_links and os.path.islink(sub):
                    if not within(os.path.realpath(sub)):
                        skip(sub, "a folder")
                    continue
                keep.append(d)
            dirnames[:] = keep
            for name in filenames:
                path = Path(dirpath) / name
                consider(path, os.path.islink(path))
    return [found[k] for k in sorted(found)]


def os_problem(exc: OSError) -> str:
    """One short line for a source that cannot be read (its ``ingest_status.last_error``)."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or type(exc).__name__).lower()


def gz_prefix(path: Path, n: int) -> bytes:
    """Up to ``n`` decompressed bytes from the start of a gzip file (less if it is cut short)."""
    out = bytearray()
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        with open(path, "rb") as fh:
            while len(out) < n:
                chunk = fh.read(65536)
                if not chunk:
                    break
                out += d.decompress(chunk, n - len(out))
                while d.unconsumed_tail and len(out) < n:
                    out += d.decompress(d.unconsumed_tail, n - len(out))
                if d.eof:
                    break
    except (OSError, zlib.error):
        pass
    return bytes(out[:n])


def read_prefix(f: SourceFile) -> bytes:
    if f.fmt == "delta":
        return b""  # followed by its path (and its table id, checked when read)
    try:
        if f.fmt == "parquet":
            with open(f.path, "rb") as fh:
                head = fh.read(FP_BYTES)
                if f.size > FP_BYTES:
                    fh.seek(max(f.size - FP_BYTES, FP_BYTES))
                tail = fh.read(FP_BYTES) if f.size > FP_BYTES else b""
            return str(f.size).encode() + b"\0" + head + tail
        if f.gz:
            return gz_prefix(f.path, FP_BYTES)
        with open(f.path, "rb") as fh:
            return fh.read(FP_BYTES)
    except OSError:
        return b""


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _matches(st: SourceState, prefix: bytes) -> bool:
    if st.fp_len == 0 or st.fp_len > len(prefix):
        return False
    return fingerprint(prefix[: st.fp_len]) == st.fp


def assign_streams(cp: Checkpoint, files: list[SourceFile]) -> list[tuple[SourceFile, str]]:
    """Match every file to its stream id (creating streams as needed; mutates ``cp``)."""
    by_path: dict[str, SourceFile] = {str(f.path): f for f in files}
    # Which streams does each known path still hold?
    holds: dict[str, bool] = {}
    held_at: dict[str, list[str]] = {}
    for sid, st in cp.sources.items():
        f = by_path.get(st.path)
        if f is None or f.kind != st.kind or f.fmt != st.fmt:
            holds[sid] = False
            continue
        if f.fmt == "delta" or (f.ino, f.size, f.mtime_ns) == (st.ino, st.size, st.mtime_ns):
            same = True
        else:
            if not f.prefix:
                f.prefix = read_prefix(f)
            same = _matches(st, f.prefix)
            if same and f.fmt not in ("parquet", "delta") and not f.gz and f.size < st.offset:
                same = False  # truncated below what we consumed: a new stream at this path
        holds[sid] = same
        if same:
            held_at.setdefault(st.path, []).append(sid)
    # Streams whose path no longer holds them, by (kind, fmt, fp_len) -> fp -> [sid]
    loose: dict[tuple[str, str, int], dict[str, list[str]]] = {}
    for sid, st in cp.sources.items():
        if not holds.get(sid) and st.fp_len:
            loose.setdefault((st.kind, st.fmt, st.fp_len), {}).setdefault(st.fp, []).append(sid)
    assigned: list[tuple[SourceFile, str]] = []
    claimed: set[str] = set()
    for f in files:
        key = str(f.path)
        sid = next((s for s in held_at.get(key, []) if cp.sources[s].kind == f.kind), None)
        if sid is None and f.size > 0 and loose:
            if not f.prefix:
                f.prefix = read_prefix(f)
            cands: list[str] = []
            for (kind, fmt, fp_len), by_fp in loose.items():
                if kind != f.kind or fmt != f.fmt or fp_len > len(f.prefix):
                    continue
                cands += [s for s in by_fp.get(fingerprint(f.prefix[:fp_len]), []) if s not in claimed]
            if cands:
                sid = max(cands, key=lambda s: (cp.sources[s].fp_len, cp.sources[s].offset))
        if sid is None:
            if f.size == 0:
                continue  # nothing to read yet; it gets a stream once it has content
            sid = f"s{cp.next_source}"
            cp.next_source += 1
            cp.sources[sid] = SourceState(path=key, kind=f.kind, fmt=f.fmt, gz=f.gz)
        claimed.add(sid)
        st = cp.sources[sid]
        st.path, st.gz, st.gone = key, f.gz, False
        assigned.append((f, sid))
    now = clock.now()
    for sid, st in list(cp.sources.items()):
        if sid in claimed:
            st.gone_since = None
            continue
        st.gone = str(st.path) not in by_path or not holds.get(sid, False)
        if not st.gone:
            st.gone_since = None
        elif st.gone_since is None:
            st.gone_since = now.isoformat()
        elif (now - dt.datetime.fromisoformat(st.gone_since)).total_seconds() > PRUNE_GONE_AFTER_S:
            # a log rotated away and deleted long ago: forget it (should it come back, its
            # records are recognised as duplicates; none is stored twice)
            del cp.sources[sid]
    return assigned
