"""Reading the content of a ``.gz`` source as far as it goes.

``gzip.open`` raises as soon as the compressed data ends early (a file still being written, or
cut short by a full disk) or turns corrupt, and the bytes it had decompressed in that read are
lost with the exception: a truncated file yielded none of its lines. ``GzipReader`` returns
every byte that decompresses, then reads as the end and says why it stopped
(``problem``): the ingester stores every complete line before the damage, reports the rest,
and continues from there, without duplicates, once the file is completed.

Several gzip members one after the other (``cat a.gz b.gz``) are one content; zero padding
after the last member is ignored, as ``gzip`` does.
"""

from __future__ import annotations

import zlib
from pathlib import Path

CHUNK = 1 << 18  # compressed bytes read at a time
MAGIC = b"\x1f\x8b"


class GzipReader:
    """A read-only, forward-only binary file over the decompressed content of ``path``."""

    def __init__(self, path: str | Path):
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()/__exit__
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pos = 0
        self._input = b""  # compressed bytes read but not yet given to the decompressor
        self._done = False
        self.problem: str | None = None  # why the content ended early: "incomplete gzip: …" or "corrupt gzip: …"

    def __enter__(self) -> GzipReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    def tell(self) -> int:
        """Decompressed bytes returned so far."""
        return self._pos

    def read(self, n: int) -> bytes:
        """Up to ``n`` (> 0) decompressed bytes; ``b""`` at the end of what can be read."""
        while not self._done:
            if self._d.eof and not self._next_member():
                break
            src = self._d.unconsumed_tail or self._input or self._fh.read(CHUNK)
            self._input = b""
            if not src:
                self._stop(f"incomplete gzip: the file ends before its end-of-stream marker, after {self._pos} bytes of content")
                break
            try:
                out = self._d.decompress(src, n)
            except zlib.error as exc:
                self._stop(f"corrupt gzip: unreadable data after {self._pos} bytes of content ({exc})")
                break
            if out:
                self._pos += len(out)
                return out
        return b""

    def _next_member(self) -> bool:
        """After a member's end: start the next one (True), or the content is over (False)."""
        rest = self._d.unused_data
        while True:
            rest = rest.lstrip(b"\0")
            if len(rest) >= len(MAGIC):
                break
            more = self._fh.read(CHUNK)
            if not more:
                if rest:
                    self._stop(f"incomplete gzip: the file ends inside a header, after {self._pos} bytes of content")
                else:
                    self._done = True
                return False
            rest += more
        if not rest.startswith(MAGIC):
            self._stop(f"corrupt gzip: data that is not gzip after the end of a stream, after {self._pos} bytes of content")
            return False
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input = rest  # the next member's first bytes: read() feeds them first
        return True

    def _stop(self, why: str) -> None:
        self.problem = why
        self._done = True
