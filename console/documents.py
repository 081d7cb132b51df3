"""Reading JSON and TOML documents safely: every file the console reads from a workspace that a
person or another program wrote (``console.toml``, registry files, ``serving.json``, keymap and
theme files, the journal's head) and the console's own state files under ``.console/``.

A document that is too big, nested too deeply, not UTF-8, not valid JSON/TOML, or holding a
number JSON does not have (``NaN``, ``Infinity``, ``1e999``) is a ``DocumentError`` naming the
file and the problem in one line — never a ``RecursionError`` or a traceback. The limits are
documented in docs/formats.md ("Limits on the files the console reads"):

- ``MAX_BYTES`` (4 MiB) per document people write; the console's own state files have no size
  limit (``max_bytes=None``);
- ``MAX_DEPTH`` (64) levels of nested arrays/objects/tables.

Non-regular files (a FIFO, a device) are refused before they are read, so a stray FIFO named
``*.json`` cannot hang the console.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from console.errors import WorkspaceError

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64


class DocumentError(WorkspaceError, ValueError):
    """A document that cannot be used; ``path`` and ``reason`` separately, ``str()`` both.
    Also a ``ValueError``, so code that treats a bad value as absent keeps doing so."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str):
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path is not None else reason)


def read_bytes(path: str | os.PathLike[str], max_bytes: int | None = MAX_BYTES) -> bytes:
    """The bytes of a regular file, at most ``max_bytes`` of them (else ``DocumentError``)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise  # callers decide what a missing file means
        raise DocumentError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DocumentError(path, "not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise DocumentError(path, f"too big: {st.st_size} bytes (at most {max_bytes})")
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise DocumentError(path, f"too big: over {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise DocumentError(path, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _decode(raw: bytes | str, path) -> str:
    if isinstance(raw, str):
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(path, f"not UTF-8 text (byte {exc.start})") from None
    return text[1:] if text.startswith("\ufeff") else text


def depth_of(value: Any) -> int:
    """How deeply ``value`` nests lists/dicts (a scalar is 0), computed without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def _too_deep(path, max_depth: int) -> DocumentError:
    return DocumentError(path, f"nested too deeply (more than {max_depth} levels)")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_json(
    raw: bytes | str, path: str | os.PathLike[str] | None = None, max_depth: int = MAX_DEPTH,
    allow_nan: bool = False,
) -> Any:
    """Parse one JSON document; ``DocumentError`` (naming ``path``) when it is not usable.
    ``allow_nan`` accepts ``NaN``/``Infinity`` (Python's own ``json.dumps`` writes them: for the
    console's own files)."""
    text = _decode(raw, path)
    try:
        if allow_nan:
            value = json.loads(text)
        else:
            value = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep(path, max_depth) from None
    except json.JSONDecodeError as exc:
        raise DocumentError(path, f"not valid JSON: {exc}") from None
    except ValueError as exc:  # NaN/Infinity, 1e999, an integer of more than 4300 digits
        raise DocumentError(path, f"not valid JSON: {str(exc).splitlines()[0]}") from None
    if depth_of(value) > max_depth:
        raise _too_deep(path, max_depth)
    return value


def loads_toml(raw: bytes | str, path: str | os.PathLike[str] | None = None, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse one TOML document; ``DocumentError`` (naming ``path``) when it is not usable."""
    text = _decode(raw, path)
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise _too_deep(path, max_depth) from None
    except tomllib.TOMLDecodeError as exc:
        raise DocumentError(path, f"malformed TOML: {exc}") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise DocumentError(path, f"malformed TOML: {str(exc).splitlines()[0]}") from None
    if depth_of(value) > max_depth:
        raise _too_deep(path, max_depth)
    return value


def read_json(
    path: str | os.PathLike[str], max_bytes: int | None = MAX_BYTES, max_depth: int = MAX_DEPTH,
    allow_nan: bool = False,
) -> Any:
    """Read and parse a JSON file (``FileNotFoundError`` passes through; every other problem is
    a ``DocumentError``)."""
    return loads_json(read_bytes(path, max_bytes), path, max_depth, allow_nan)


def read_toml(path: str | os.PathLike[str], max_bytes: int | None = MAX_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Read and parse a TOML file (``FileNotFoundError`` passes through; every other problem is
    a ``DocumentError``)."""
    return loads_toml(read_bytes(path, max_bytes), path, max_depth)
