"""The tamper-evident journal (docs/governance.md, 'The journal'): ``<workspace>/journal.jsonl`` and its head file.

One JSON object per line, appended under an exclusive ``flock`` on the journal file itself.
Every entry carries ``seq`` (1, 2, …), ``ts``, ``actor``, ``action``, ``prev_hash`` and
``hash``, where::

    canonical(e) = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    hash         = sha256(canonical(entry without "hash").encode("utf-8")).hexdigest()

The entry without ``hash`` still contains ``prev_hash`` (the previous entry's ``hash``, or 64
zeros for the first entry), so the hash covers the entry and its predecessor. The hash of the
last entry is also written to ``<workspace>/journal.head`` (``{"seq": n, "hash": h}``) after
every append, so cutting entries off the end is noticed even though the remaining chain is
valid. A journal opened with a ``signer`` signs every entry it appends (``sig``, see
``console.governance.signing``; the hash covers the signature); ``verify`` checks signatures
when given a ``signature_problem`` function. A crashed append leaves at most a partial last line without its ``\\n``: readers ignore
it, ``verify`` reports it, and the next append (under the lock) cuts it away before writing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console import clock
from console.documents import DocumentError, loads_json, read_json
from console.errors import ConsoleError
from console.fsio import write_atomic

GENESIS = "0" * 64
HEAD_NAME = "journal.head"
RESERVED = ("seq", "ts", "actor", "action", "prev_hash", "hash", "sig")


def canonical(entry: dict[str, Any]) -> str:
    """The canonical JSON text the hash is computed over."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``entry`` without its ``hash`` key."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def format_ts(when: dt.datetime) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-11-01T12:00:03.123Z``."""
    return clock.rfc3339(when, "milliseconds")


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class ReadResult:
    """The entries that parsed, in file order, and what was odd about the file."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)  # 1-based line numbers that did not parse
    partial_tail: bool = False


def _parse(data: bytes) -> ReadResult:
    result = ReadResult()
    lines = data.split(b"\n")
    if lines and lines[-1] != b"":
        result.partial_tail = True  # the last line has no newline: a write that never finished
    for number, raw in enumerate(lines[:-1], start=1):
        try:
            obj = loads_json(raw, allow_nan=True)  # a line nested 100k deep is a bad line, not a crash
        except DocumentError:
            obj = None
        if not isinstance(obj, dict):
            result.bad_lines.append(number)
            result.entries.append({"_unparseable_line": number})
            continue
        result.entries.append(obj)
    return result


class JournalBroken(ConsoleError):
    """The journal and its head file disagree: appending would hide the evidence."""


class JournalUnwritable(ConsoleError):
    """This OS account cannot open the journal for appending."""


class Journal:
    """Append-only, hash-chained journal of one workspace."""

    def __init__(self, path: Path, head_path: Path | None = None, signer: Any = None):
        """``signer``: an object with ``user`` and ``sign(entry) -> str``; every entry appended
        through this journal is then signed, and only ``signer.user`` may be its actor."""
        self.path = Path(path)
        self.head_path = Path(head_path) if head_path else self.path.with_name(HEAD_NAME)
        self.signer = signer

    # -- reading ---------------------------------------------------------------------------
    def read_raw(self) -> ReadResult:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return ReadResult()
        return _parse(data)

    def entries(self) -> list[dict[str, Any]]:
        """Every complete entry that parses (a partial last line is ignored)."""
        return [e for e in self.read_raw().entries if "_unparseable_line" not in e]

    def read_head(self) -> dict[str, Any] | None:
        try:
            doc = read_json(self.head_path, allow_nan=True)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"seq": None, "hash": None, "unreadable": True}
        return doc if isinstance(doc, dict) else {"seq": None, "hash": None, "unreadable": True}

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[JournalTxn]:
        """Hold the exclusive lock; the transaction reads current entries and appends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666)
        except OSError as exc:
            raise JournalUnwritable(
                f"cannot write {self.path}: {exc.strerror or exc} (a shared workspace needs a "
                "group every operator and reviewer is in, and group-writable files)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield JournalTxn(self, fd)
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def append(self, actor: str, action: str, now: dt.datetime | None = None, **fields: Any) -> dict:
        """Append one entry under the lock; returns it (with seq and hash)."""
        with self.locked() as txn:
            return txn.append(actor, action, now=now, **fields)

    # -- verification ----------------------------------------------------------------------
    def verify(
        self,
        signature_problem: Callable[[dict[str, Any]], str | None] | None = None,
        unsigned_before: int = 1,
    ) -> dict[str, Any]:
        """``{"ok", "entries", "first_bad_seq", ...}``: the first entry that breaks the chain.

        With ``signature_problem`` (entry → why its signature fails, or None) every entry from
        seq ``unsigned_before`` on must be signed by its actor (earlier ones: when they carry a
        signature), and the result has ``signed`` (how many signatures verified).
        """
        raw = self.read_raw()
        problems: list[str] = []
        first_bad: int | None = None
        prev = GENESIS
        count = 0
        signed = 0

        def sig_problem(entry: dict[str, Any], position: int) -> str | None:
            if signature_problem is None or (position < unsigned_before and "sig" not in entry):
                return None
            return signature_problem(entry)

        for position, entry in enumerate(raw.entries, start=1):
            count = position
            if "_unparseable_line" in entry:
                problem = f"line {entry['_unparseable_line']} is not a JSON object"
            elif entry.get("seq") != position:
                problem = (
                    f"entry at line {position} has seq {entry.get('seq')!r}, expected {position} "
                    "(an entry was removed, inserted or moved)"
                )
            elif entry.get("prev_hash") != prev:
                problem = f"seq {position}: prev_hash does not match the hash of seq {position - 1}"
                if signature_problem is not None and position > 1 and "sig" in entry \
                        and sig_problem(entry, position) is None:
                    # This entry's own signature binds the prev_hash it was written after: the
                    # entry before it is the one that changed (edited and re-hashed).
                    position -= 1
                    problem = (f"seq {position} was changed after seq {position + 1} was signed "
                               "over it (edited and re-hashed)")
            elif entry.get("hash") != entry_hash(entry):
                problem = f"seq {position}: hash does not match its content (edited)"
            elif (why := sig_problem(entry, position)) is not None:
                problem = f"seq {position} ({entry.get('action')} by {entry.get('actor')}): {why}"
            else:
                signed += "sig" in entry and signature_problem is not None
                prev = entry["hash"]
                continue
            first_bad = position
            problems.append(problem)
            break
        if first_bad is None:
            head = self.read_head()
            if head is None:
                if count:
                    problems.append(f"{self.head_path.name} is missing: a cut-off tail cannot be ruled out")
            elif head.get("unreadable"):
                problems.append(f"{self.head_path.name} is unreadable")
            else:
                head_seq = head.get("seq")
                if not isinstance(head_seq, int) or head_seq < 0:
                    problems.append(f"{self.head_path.name} has no valid seq")
                elif head_seq > count:
                    first_bad = count + 1
                    problems.append(
                        f"the journal ends at seq {count} but {self.head_path.name} records seq "
                        f"{head_seq}: entries were cut off the end"
                    )
                elif head_seq >= 1 and raw.entries[head_seq - 1].get("hash") != head.get("hash"):
                    first_bad = head_seq
                    problems.append(
                        f"seq {head_seq}: hash differs from {self.head_path.name} (the chain was rewritten)"
                    )
                elif head_seq < count - 1:
                    # Every append rewrites the head; a crash leaves it at most one entry behind.
                    problems.append(
                        f"{self.head_path.name} records seq {head_seq} but the journal has {count} "
                        "entries: the head file was replaced by an older copy"
                    )
        if raw.partial_tail:
            problems.append("the last line is incomplete (an append that never finished); it is ignored")
        ok = not problems or (problems == [problems[-1]] and raw.partial_tail and first_bad is None)
        result = {
            "ok": ok,
            "entries": count,
            "first_bad_seq": first_bad,
            "problems": problems,
            "partial_tail": raw.partial_tail,
        }
        if signature_problem is not None:
            result["signed"] = int(signed)
        return result


class JournalTxn:
    """What holding the lock allows: read the current entries, append new ones."""

    def __init__(self, journal: Journal, fd: int):
        self.journal = journal
        self.fd = fd
        self._entries: list[dict[str, Any]] | None = None
        self._head_checked = False

    def _check_head(self, actor: str, now: dt.datetime | None) -> None:
        """Refuse to extend a journal whose tail was cut; record a lost head file."""
        if self._head_checked:
            return
        self._head_checked = True
        entries = self.entries()
        head = self.journal.read_head()
        name = self.journal.head_path.name
        if head is None:
            if entries:
                self._head_checked = True
                self.append(
                    actor,
                    "head_missing",
                    now=now,
                    detail=f"{name} was missing at seq {len(entries)}; recreated from the journal",
                )
            return
        seq = head.get("seq")
        if not isinstance(seq, int) or seq > len(entries) or (
            seq >= 1 and entries[seq - 1].get("hash") != head.get("hash")
        ):
            raise JournalBroken(
                f"{self.journal.path.name} does not match {name} (tail cut or chain rewritten); "
                "nothing was written — run `mlops-console audit verify`"
            )

    def entries(self) -> list[dict[str, Any]]:
        if self._entries is None:
            data = _read_fd(self.fd)
            raw = _parse(data)
            if raw.partial_tail:
                # An append that crashed before its newline was never acknowledged: cut it.
                os.ftruncate(self.fd, len(data) - len(data.split(b"\n")[-1]))
                os.fsync(self.fd)
            self._entries = [e for e in raw.entries if "_unparseable_line" not in e]
        return self._entries

    def append(self, actor: str, action: str, now: dt.datetime | None = None, **fields: Any) -> dict:
        entries = self.entries()
        for key in RESERVED:
            if key in fields:
                raise ValueError(f"{key!r} is set by the journal")
        self._check_head(actor, now)
        last = entries[-1] if entries else None
        seq = (last.get("seq", len(entries)) if last else 0) + 1
        entry: dict[str, Any] = {
            "seq": seq,
            "ts": format_ts(now or clock.now()),
            "actor": actor,
            "action": action,
            **fields,
            "prev_hash": last.get("hash", GENESIS) if last else GENESIS,
        }
        signer = self.journal.signer
        if signer is not None:
            if actor != signer.user:
                raise ValueError(f"{signer.user} cannot write an entry as {actor}")
            entry["sig"] = signer.sign(entry)
        entry["hash"] = entry_hash(entry)
        line = (canonical(entry) + "\n").encode("utf-8")
        view = memoryview(line)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        os.fsync(self.fd)
        entries.append(entry)
        _write_atomic(self.journal.head_path, canonical({"seq": seq, "hash": entry["hash"]}) + "\n")
        return entry


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: temp file, fsync, rename, fsync the folder."""
    write_atomic(path, text.encode("utf-8"))
