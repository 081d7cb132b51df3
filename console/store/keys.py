"""The dedupe key set: a 64-bit hash of ``(model, version, request_id)`` for every stored prediction.

Each prediction part stores its keys in a ``_key`` column. The ingester loads them once
(80 MB for 10M rows, and a 16 MB bitmap of their buckets) into a few sorted ``uint64`` arrays and checks new keys with
``numpy.searchsorted`` — a log-structured set: small sorted runs are merged as they pile up,
so adding a batch costs O(batch·log) and never re-sorts the whole history.

The hash comes from polars (``concat_str`` with a separator, then ``hash`` with a fixed
seed). Polars does not promise the same hash across its versions, so the checkpoint records
``HASHER``; when it differs, keys are recomputed from the stored strings instead of trusted.
A 64-bit hash makes a false duplicate among 10M keys about a 1-in-300,000 event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from console.fsio import replacing
from console.store.schema import KEY_COLUMN

SEED = 0x6D6C6F7073
MERGE_MAX = 16_000_000  # keys in a run made by merging smaller ones (100M keys: 7 runs; 2M made 50 to probe)
FILTER_BITS = 27  # the bitmap's least size: a bit per 2**27 buckets of the keys' top bits (16 MB) ...
FILTER_BITS_MAX = 31  # ... growing with the keys, up to 2**31 bits (256 MB, from 134M keys on)
FILTER_LOAD_BITS = 3  # ... so that at most one bucket in 2**3 is taken
FILTER_MIN = 65_536  # (no bitmap below this many keys)
WRITE_PIECE = 1 << 20  # keys written at once by ``write_sorted`` (about)
MARK_CHUNK = 1 << 22  # keys marked at once (a saved index of 100M keys: no 800 MB temporary)
HASHER = f"polars-{pl.__version__}-concat1f-{SEED}"


def key_expr(model: str = "model", version: str = "version", request_id: str = "request_id") -> pl.Expr:
    """The polars expression computing the dedupe key (``UInt64``)."""
    return pl.concat_str([pl.col(model), pl.col(version), pl.col(request_id)], separator="\x1f").hash(SEED)


def _sorted_unique(a: np.ndarray, runs: bool = False) -> np.ndarray:
    """Sorted distinct values of ``a``, sorted in place (the caller hands over a fresh array).
    ``runs``: ``a`` is a concatenation of sorted runs, which a stable sort (timsort) merges
    in one linear pass; otherwise quicksort (faster on unsorted keys)."""
    a.sort(kind="stable" if runs else "quicksort")
    if len(a) > 1:
        dup = a[1:] == a[:-1]
        if dup.any():
            a = a[np.concatenate(([True], ~dup))]
    return a


def first_occurrence(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of every key (in order); ``order`` is a stable argsort."""
    first = np.ones(len(keys), dtype=bool)
    if len(keys) > 1:
        sk = keys[order]
        repeat = np.concatenate(([False], sk[1:] == sk[:-1]))
        first[order[repeat]] = False
    return first


def member(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of ``keys`` (any order) are among ``values`` (sorted, distinct)."""
    if not len(values):
        return np.zeros(len(keys), dtype=bool)
    idx = np.searchsorted(values, keys)
    np.minimum(idx, len(values) - 1, out=idx)
    return values[idx] == keys


def distinct_first(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``keys`` sorted and distinct, and the mask of the first occurrence of every key in
    ``keys``' order — None when no key repeats (a file's usual case). One plain sort (NumPy's
    SIMD quicksort: 0.66 s for 10M keys here, where the stable argsort it replaced took 1.4 s);
    only the rows of repeated keys, when there are some, are argsorted to find which came first."""
    s = np.sort(keys)
    if len(s) < 2:
        return s, None
    dup = s[1:] == s[:-1]
    if not dup.any():
        return s, None
    repeated = s[1:][dup]
    repeated = repeated[np.concatenate(([True], repeated[1:] != repeated[:-1]))]
    uniq = s[np.concatenate(([True], ~dup))]
    del s, dup
    rows = np.flatnonzero(member(keys, repeated))
    sub = keys[rows]
    first = np.ones(len(keys), dtype=bool)
    first[rows[~first_occurrence(sub, np.argsort(sub, kind="stable"))]] = False
    return uniq, first


def _buckets(keys: np.ndarray, bits: int = FILTER_BITS) -> np.ndarray:
    return (np.asarray(keys, dtype=np.uint64) >> np.uint64(64 - bits)).astype(np.int64)


def filter_bits(n: int) -> int:
    """The bitmap's size (log2 of its bits) for ``n`` keys: at least 8 buckets per key, so a probe of an absent key
    passes it about 1 time in 8 or less — a fixed 2**27 bits let half of them through at 100M keys, and each of
    those was binary-searched in every run (with 50 runs: 81 s of probes to adopt 100M records; 10 s now, with 7)."""
    return min(FILTER_BITS_MAX, max(FILTER_BITS, int(n).bit_length() + FILTER_LOAD_BITS))


class KeySet:
    """A set of uint64 keys as a few sorted runs, and (once it holds ``FILTER_MIN`` keys) a
    bitmap of their top bits (``filter_bits``: it grows with the set, rebuilt from the runs
    when it doubles): a probe first looks there — one memory access — and binary-searches the
    runs only for the few keys whose bucket is taken (at most about 1 in 8), instead of twenty
    cache misses per run for every key."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self._bits: np.ndarray | None = None
        self._nbits = 0

    def _mark(self, keys: np.ndarray) -> None:
        """Set the bits of ``keys`` (just added); (re)build the bitmap from every run when there is none yet or the
        set outgrew it."""
        n = len(self)
        if n < FILTER_MIN and self._bits is None:
            return
        if not self._grow(filter_bits(n)):
            for at in range(0, len(keys), MARK_CHUNK):
                self._set_bits(keys[at:at + MARK_CHUNK])

    def _grow(self, want: int) -> bool:
        """Build the bitmap at ``want`` bits from every run, unless it is that large already (False)."""
        if self._bits is not None and want <= self._nbits:
            return False
        self._nbits = want
        self._bits = np.zeros(1 << (want - 3), dtype=np.uint8)
        for run in self._runs:
            for at in range(0, len(run), MARK_CHUNK):
                self._set_bits(run[at:at + MARK_CHUNK])
        return True

    def reserve(self, n: int) -> None:
        """Size the bitmap for ``n`` keys in all, when the caller knows how many are coming (an
        adoption: its files' footers), so that it is built once instead of rebuilt from every run
        each time the set doubles (to 100M keys: 117M keys marked again, 5 s)."""
        if n >= FILTER_MIN:
            self._grow(filter_bits(n))

    def _set_bits(self, keys: np.ndarray) -> None:
        """Set the bits of ``keys`` — sorted (every caller's are a run's), so their buckets are too."""
        assert self._bits is not None
        h = _buckets(keys, self._nbits)
        if not len(h):
            return
        byte = h >> 3
        starts = np.flatnonzero(np.concatenate(([True], byte[1:] != byte[:-1])))
        masks = np.left_shift(1, h & 7).astype(np.uint8)
        self._bits[byte[starts]] |= np.bitwise_or.reduceat(masks, starts)

    def _maybe(self, keys: np.ndarray) -> np.ndarray | None:
        """Which of ``keys`` may be in the set (None: no bitmap yet — any may)."""
        if self._bits is None:
            return None
        h = _buckets(keys, self._nbits)
        return ((self._bits[h >> 3] >> (h & 7).astype(np.uint8)) & 1).astype(bool)

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``keys`` are already in the set (probed as ``probe`` does: with
        the keys sorted and distinct, then the ones found looked up in ``keys``' order)."""
        uniq = np.unique(keys)  # (no first-occurrence mask: nothing here needs it)
        return member(keys, uniq[self._contains_sorted(uniq)])

    def probe(self, keys: np.ndarray, uniq: np.ndarray, first: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The keys to keep — the first of each value in ``keys`` and not in the set — as a mask
        in ``keys``' order, and those keys sorted and distinct, for ``add(..., presorted=True)``
        (``uniq``, ``first``: ``distinct_first(keys)``). The set is probed with the sorted
        ``uniq``; only the keys it already holds (none, for new data) are looked up in ``keys``."""
        found = self._contains_sorted(uniq)
        if found.any():
            keep = ~member(keys, uniq[found])
            fresh = uniq[~found]
            if first is not None:
                keep &= first
        else:
            keep = first.copy() if first is not None else np.ones(len(keys), dtype=bool)
            fresh = uniq
        return keep, fresh

    def _contains_sorted(self, sk: np.ndarray) -> np.ndarray:
        """Which of the sorted keys ``sk`` are in the set."""
        found_sorted = np.zeros(len(sk), dtype=bool)
        maybe = self._maybe(sk)
        at = None
        if maybe is not None:
            at = np.flatnonzero(maybe)  # (still in sorted order)
            sk = sk[at]
        hit = np.zeros(len(sk), dtype=bool)
        for run in self._runs:
            if len(run) == 0 or len(sk) == 0:
                continue
            idx = np.searchsorted(run, sk)
            idx[idx == len(run)] = len(run) - 1
            hit |= run[idx] == sk
        if at is None:
            return hit
        found_sorted[at] = hit
        return found_sorted

    def add(self, keys: np.ndarray, presorted: bool = False) -> None:
        """Add ``keys``; ``presorted``: they are sorted and distinct already (``probe``'s), and the
        array is handed over (kept as a run, not copied)."""
        if len(keys) == 0:
            return
        if presorted:
            self._runs.append(np.asarray(keys, dtype=np.uint64))
        else:
            self._runs.append(_sorted_unique(np.array(keys, dtype=np.uint64)))
        self._mark(self._runs[-1])
        # Keep runs in geometrically growing sizes: merge while the newest is at least half
        # the size of the one before it — up to MERGE_MAX keys, so a merge never needs more
        # than ~200 MB on top of the set (10M keys: 2 runs to probe; 100M: 7).
        while (
            len(self._runs) > 1
            and len(self._runs[-1]) * 2 >= len(self._runs[-2])
            and len(self._runs[-1]) + len(self._runs[-2]) <= MERGE_MAX
        ):
            b = self._runs.pop()
            a = self._runs.pop()
            self._runs.append(_sorted_unique(np.concatenate([a, b]), runs=True))

    def remove(self, keys: np.ndarray) -> None:
        """Take ``keys`` out of the set (an adopted file withdrawn: ``store.adopted``)."""
        if len(keys) == 0:
            return
        # (sorted here, not ``np.unique``: NumPy 2.3+ hashes integers there, 40x slower on 10M keys)
        gone = _sorted_unique(np.array(keys, dtype=np.uint64))
        runs = []
        for run in self._runs:
            idx = np.minimum(np.searchsorted(gone, run), len(gone) - 1)
            hit = gone[idx] == run
            runs.append(np.array(run[~hit]) if hit.any() else run)
        self._runs = [r for r in runs if len(r)]
        self._bits = None  # rebuilt from what is left
        self._mark(np.zeros(0, dtype=np.uint64))

    def sorted_array(self) -> np.ndarray:
        """Every key, sorted and distinct, in one array (merges the runs)."""
        if len(self._runs) > 1:
            # copied run by run into one array, each run let go once copied: the set's size
            # plus its largest run (not twice the set: 100M keys are 800 MB)
            out = np.empty(len(self), dtype=np.uint64)
            at = 0
            runs, self._runs = self._runs, []
            while runs:
                run = runs.pop(0)
                out[at:at + len(run)] = run
                at += len(run)
                del run
            self._runs = [_sorted_unique(out, runs=True)]
        return self._runs[0] if self._runs else np.zeros(0, dtype=np.uint64)

    def write_sorted(self, f) -> bool:
        """Write every key, sorted and distinct, to the file ``f`` as a ``.npy`` array, a slice of
        the key range at a time (``WRITE_PIECE`` keys: each run's part of it, merged and sorted):
        no second copy of the set in memory — ``sorted_array`` needs one (100M keys: 800 MB) and
        its merge 400 MB more, which made the end of a big adoption its peak. The runs stay as
        they are. False when some key is in two runs (the callers' are disjoint; then what was
        written is short of the header's count: write ``sorted_array()`` instead)."""
        n = len(self)
        descr = np.lib.format.dtype_to_descr(np.dtype("<u8"))
        np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": (n,)})
        pieces = max(1, n // WRITE_PIECE)
        inner = np.array([(i << 64) // pieces for i in range(1, pieces)], dtype=np.uint64)
        cuts = [np.concatenate(([0], np.searchsorted(run, inner), [len(run)])) for run in self._runs]
        written = 0
        for j in range(pieces):
            piece = np.concatenate([run[c[j]:c[j + 1]] for run, c in zip(self._runs, cuts, strict=True)]
                                   or [np.zeros(0, dtype=np.uint64)])
            piece = _sorted_unique(piece.astype("<u8", copy=False), runs=True)  # (sorted slices: one merge)
            f.write(memoryview(piece).cast("B"))
            written += len(piece)
        return written == n

    def add_sorted_run(self, run: np.ndarray) -> None:
        """Add an already sorted, distinct array (a saved index) as a run of its own."""
        if len(run):
            self._runs.insert(0, run)
            self._mark(run)

    def load_parts(self, paths: list, rehash: bool = False) -> None:
        """Add the keys stored in prediction parts (recomputed from strings when ``rehash``)."""
        chunks = []
        for path in paths:
            if rehash:
                df = pl.read_parquet(path, columns=["model", "version", "request_id"])
                chunks.append(df.select(key_expr()).to_series().to_numpy())
            else:
                col = pq.read_table(path, columns=[KEY_COLUMN]).column(0)
                chunks.append(col.to_numpy())
        if chunks:
            self.add(np.concatenate(chunks).astype(np.uint64, copy=False))


def adopted_keys(root: Path, adoptions: dict, rehash: bool = False) -> np.ndarray:
    """The dedupe keys of the shown rows of adopted files (``store.adopted``; ``adoptions``:
    path → adoption, all of one batch): their rows of the batch's keys sidecar; recomputed
    from the files themselves (their rows but the excluded ones) when ``rehash``."""
    if not adoptions:
        return np.zeros(0, dtype=np.uint64)
    if not rehash:
        sidecar = Path(root) / next(iter(adoptions.values())).keys
        df = pl.read_parquet(sidecar, columns=[KEY_COLUMN, "source"])
        df = df.filter(pl.col("source").is_in(list(adoptions)))
        return df[KEY_COLUMN].to_numpy().astype(np.uint64, copy=False)
    chunks = []
    for path, a in adoptions.items():
        df = pl.read_parquet(path, columns=["model", "version", "request_id"]).with_row_index("_row")
        if a.excluded:
            ex = pl.read_parquet(Path(root) / a.excluded, columns=["source", "_row", "batch"])
            ex = ex.filter((pl.col("source") == path) & (pl.col("batch") == a.batch))
            df = df.join(ex.select(pl.col("_row").cast(pl.UInt32)), on="_row", how="anti")
        chunks.append(df.select(key_expr()).to_series().to_numpy())
    return np.concatenate(chunks)


def index_path(keys_dir: Path, batch: int, store_id: str) -> Path:
    return keys_dir / f"keys-{store_id}-b{batch}.npy"


def save_index(keys_dir: Path, keys: KeySet, batch: int, store_id: str, hasher: str) -> Path | None:
    """Persist the sorted key array as of committed ``batch`` (derived data: safe to delete).
    Only for the current hasher; older index files of the store are removed."""
    if hasher != HASHER or not store_id:
        return None
    final = index_path(keys_dir, batch, store_id)
    with replacing(final, sync=False) as tmp:  # derived data: a lost file is only slower
        if not keys.write_sorted(tmp.file):  # (a key in two runs: cannot happen, but if it did)
            tmp.file.seek(0)
            tmp.file.truncate()
            np.save(tmp.file, keys.sorted_array(), allow_pickle=False)
    for old in keys_dir.glob("keys-*.npy"):
        if old != final:
            old.unlink(missing_ok=True)
    return final


def load_index(keys_dir: Path, max_batch: int, store_id: str, hasher: str) -> tuple[np.ndarray, int] | None:
    """The newest saved key index of this store with batch ≤ ``max_batch`` (memory-mapped)."""
    if hasher != HASHER or not store_id:
        return None
    best: tuple[int, Path] | None = None
    for path in keys_dir.glob(f"keys-{store_id}-b*.npy"):
        try:
            batch = int(path.stem.rsplit("-b", 1)[1])
        except (IndexError, ValueError):
            continue
        if batch <= max_batch and (best is None or batch > best[0]):
            best = (batch, path)
    if best is None:
        return None
    try:
        arr = np.load(best[1], mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if arr.dtype != np.uint64 or arr.ndim != 1:
        return None
    return arr, best[0]
