"""The batch being filled: validated, deduplicated rows waiting to be written.

``Batch.add`` takes parsed blocks of one kind (predictions or labels) and validates them
together (``normalize``); it keeps the valid records whose key is not in the store or the
batch yet, converts features to typed columns, quarantines the rest with their raw text, and
counts all of it on the streams' ``SourceState``. ``add_oversized`` quarantines a line too
long to read. When the batch is full the ingester hands ``preds``, ``labels`` and ``quar`` to
the store's ``BatchWriter``, which decides nothing about them: it writes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from console import clock
from console.ingest.blocks import Oversized
from console.ingest.formats import MAX_LINE
from console.ingest.limits import IngestLimits
from console.ingest.normalize import (
    FeatureCatalog,
    apply_features,
    validate_labels,
    validate_predictions,
)
from console.ingest.sources import SourceFile
from console.store.checkpoint import SourceState
from console.store.keys import KeySet, distinct_first, key_expr
from console.store.schema import KEY_COLUMN


@dataclass
class IngestResult:
    """New rows of one pass, or of one batch (docs/formats.md, 'The ingest command')."""

    predictions: int = 0
    labels: int = 0
    quarantined: int = 0
    duplicates: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "predictions": self.predictions,
            "labels": self.labels,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
        }

    def add(self, other: IngestResult) -> None:
        self.predictions += other.predictions
        self.labels += other.labels
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        self.batches += other.batches
        self.errors += other.errors


@dataclass
class Pending:
    """A parsed block waiting to be validated with others; ``start`` = (offset, line) before it."""

    f: SourceFile
    st: SourceState
    df: pl.DataFrame
    raw_of: Callable[[pl.Series], list[str]]
    start: tuple[int, int]


ADOPT_WEIGHT = 16  # an adopted record weighs 1/16 of a record read into a part (``Batch.size``)


class Batch:
    """Rows of batch ``number`` so far: prediction frames (one model each), label and
    quarantine frames, and the counts of what they hold (``result``)."""

    def __init__(self, number: int):
        self.number = number
        self.preds: list[pl.DataFrame] = []
        self.labels: list[pl.DataFrame] = []
        self.quar: list[pl.DataFrame] = []
        self.quar_bytes = 0  # about what ``quar`` holds: its raw text, and a little per row
        self.rows = 0
        self.adopted_rows = 0  # of ``rows``: records of Parquet files adopted in place
        self.result = IngestResult()
        self.label_ord = 0

    def size(self) -> int:
        """Its records toward the batch's size (``Ingester(batch_rows=…)``): an adopted record
        counts for ``1 / ADOPT_WEIGHT`` — it holds no row here, only its dedupe key until the
        commit — so a bulk adoption commits ~16 times fewer batches, and the ``predictions`` view,
        one SELECT per adoption batch, binds as many times faster."""
        return self.rows - self.adopted_rows + self.adopted_rows // ADOPT_WEIGHT

    def add(self, entries: list[Pending], known: dict, keys: KeySet | None, catalog: FeatureCatalog,
            limits: IngestLimits) -> None:
        """Validate parsed blocks of one kind together; keep the valid rows not stored yet
        (``keys``: every key committed or in this pass so far; ``known``: the features each
        model has), quarantine the rest, and count them for their streams. Everything is
        computed first and the buffers, ``keys`` and counters change at the end, all at
        once: a failure leaves no trace and the blocks can be retried one by one."""
        kind = entries[0].f.kind
        after: list[Callable[[], None]] = []
        if len(entries) == 1:
            df = entries[0].df
        else:
            df = pl.concat(
                [e.df.with_columns(pl.lit(i, pl.Int32).alias("_src")) for i, e in enumerate(entries)],
                how="diagonal_relaxed",
            )
            # a field one block lacks is missing there (tag 0), not unknown (null)
            df = df.with_columns(pl.col(r"^.*\|t$").fill_null(0))
        paths = pl.Series("source", [str(e.f.path) for e in entries], dtype=pl.String)

        def sources(frame: pl.DataFrame) -> pl.Series:
            if "_src" not in frame.columns:
                return pl.repeat(paths[0], frame.height, dtype=pl.String, eager=True).alias("source")
            return paths.gather(frame["_src"]).alias("source")

        def per_entry(frame: pl.DataFrame, mask: np.ndarray | None = None) -> np.ndarray:
            if "_src" not in frame.columns:
                return np.array([frame.height if mask is None else int(mask.sum())])
            idx = frame["_src"].to_numpy()
            if mask is not None:
                idx = idx[mask]
            return np.bincount(idx, minlength=len(entries))

        ts_max = None
        if limits.max_future_skew_s is not None:
            ts_max = clock.now_naive() + dt.timedelta(seconds=limits.max_future_skew_s)
        if kind == "predictions":
            v = validate_predictions(df, ts_max, limits.max_features_per_model, lambda m: known.get(m, {}))
            good = v.good.with_columns(key_expr().alias(KEY_COLUMN))
            hashes = good[KEY_COLUMN].to_numpy()
            uniq, first = distinct_first(hashes)
            assert keys is not None
            keep, fresh = keys.probe(hashes, uniq, first)
            kept = per_entry(good, keep)
            dup = per_entry(good, ~keep)
            good = good.filter(pl.Series(keep)) if not keep.all() else good
            good = good.with_columns(sources(good), pl.lit(self.number, pl.Int64).alias("batch"))
            if "_src" in good.columns:
                good = good.drop("_src")
            frames = apply_features(good, v.features, catalog)

            def commit_predictions() -> None:
                keys.add(fresh, presorted=True)
                self.preds.extend(frames)
                for e, n_ok, n_dup in zip(entries, kept, dup, strict=True):
                    e.st.rows += int(n_ok)
                    e.st.duplicates += int(n_dup)
                self.result.predictions += int(kept.sum())
                self.result.duplicates += int(dup.sum())

            after.append(commit_predictions)
        else:
            v = validate_labels(df, ts_max)
            good = v.good
            kept = per_entry(good)
            if good.height:
                good = good.with_columns(
                    pl.lit(clock.now_naive()).cast(pl.Datetime("us")).alias("arrived_at"),
                    sources(good),
                    pl.lit(self.number, pl.Int64).alias("batch"),
                    pl.Series("ord", np.arange(self.label_ord, self.label_ord + good.height, dtype=np.int64)),
                )
                if "_src" in good.columns:
                    good = good.drop("_src")
            labels = good

            def commit_labels() -> None:
                if labels.height:
                    self.label_ord += labels.height
                    self.labels.append(labels)
                for e, n_ok in zip(entries, kept, strict=True):
                    e.st.rows += int(n_ok)
                self.result.labels += int(kept.sum())

            after.append(commit_labels)
        bad = v.bad
        if bad.height:
            raws: list[str] = []
            src_idx = bad["_src"].to_numpy() if "_src" in bad.columns else np.zeros(bad.height, dtype=np.int64)
            lines = bad["_line"]
            for i in range(len(entries)):
                sel = np.flatnonzero(src_idx == i)
                if len(sel):
                    got = entries[i].raw_of(lines.gather(sel))
                    raws.extend(got)
            # raws are grouped by entry; put them back in the rows' order
            if len(entries) == 1:
                raw_col = raws
            else:
                back = np.empty(bad.height, dtype=object)
                back[np.argsort(src_idx, kind="stable")] = raws
                raw_col = back.tolist()
            q = bad.select(
                pl.lit(kind).alias("kind"),
                sources(bad),
                pl.col("_line").alias("line"),
                pl.col("_offset").alias("byte_offset"),
                pl.col("reason"),
            ).with_columns(pl.Series("raw", raw_col, dtype=pl.String))
            raw_bytes = int(q["raw"].str.len_bytes().sum() or 0) + 64 * q.height
            nbad = per_entry(bad)

            def commit_quarantine() -> None:
                self.quar.append(q)
                self.quar_bytes += raw_bytes
                for e, n in zip(entries, nbad, strict=True):
                    e.st.quarantined += int(n)
                self.result.quarantined += bad.height

            after.append(commit_quarantine)
        # Everything above only computes; the buffers and counters change here, all at once,
        # so a failure above leaves no trace and the blocks can be retried one by one.
        for commit in after:
            commit()
        self.rows += df.height
        now = clock.now_naive().isoformat()
        for e in entries:
            e.st.last_ingest = now

    def add_oversized(self, f: SourceFile, st: SourceState, item: Oversized) -> None:
        """A line too long to read: quarantined, and its stream moves past it."""
        q = pl.DataFrame(
            {
                "kind": [f.kind],
                "source": [str(f.path)],
                "line": pl.Series([item.line], dtype=pl.Int64),
                "byte_offset": pl.Series([item.offset], dtype=pl.Int64),
                "reason": [f"line longer than {MAX_LINE} bytes"],
                "raw": [item.raw],
            }
        )
        self.quar.append(q)
        self.quar_bytes += len(item.raw) + 64
        self.rows += 1
        st.quarantined += 1
        self.result.quarantined += 1
        st.line = item.line
        st.offset = item.end
        st.last_ingest = clock.now_naive().isoformat()
