"""``read_records``: read any prediction-log file (docs/formats.md, 'One prediction = one record') (a reference file, say) into the ``predictions`` columns.

Same parsing and validation as ingest, without the store: no dedupe, invalid records are
dropped and counted (``table.schema.metadata[b"quarantined"]``), feature columns typed by
``feature_kinds`` (name → ``numeric``/``categorical``), other features inferred.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from console.ingest import formats
from console.ingest.normalize import FeatureCatalog, apply_features, validate_predictions
from console.ingest.sources import classify
from console.store.checkpoint import Checkpoint
from console.store.registry import Registry
from console.store.schema import KIND_SQL, PREDICTION_COLUMNS, PREDICTION_TAIL

_PL_TYPES = {
    "TIMESTAMP": pl.Datetime("us"),
    "DATE": pl.Date,
    "VARCHAR": pl.String,
    "DOUBLE": pl.Float64,
    "BIGINT": pl.Int64,
}


class _GivenKinds(FeatureCatalog):
    def __init__(self, kinds: dict[str, str]):
        super().__init__(Checkpoint(), Registry())
        self.kinds = kinds

    def registry_kind(self, model: str, feature: str) -> str | None:
        return self.kinds.get(feature)

    def _column_for(self, feature: str, kind: str) -> str:
        return f"f_{feature}"


def read_records(path: str | Path, feature_kinds: dict[str, str] | None = None) -> pa.Table:
    """Every valid record of ``path`` as an Arrow table with the ``predictions`` columns."""
    from console.ingest.blocks import Oversized, iter_blocks  # shared block reader

    path = Path(path)
    kinds = dict(feature_kinds or {})
    fmt = classify(path)
    if fmt is None:
        raise ValueError(f"{path}: not a .jsonl, .csv, .parquet (or .gz) file")
    catalog = _GivenKinds(kinds)
    frames: list[pl.DataFrame] = []
    bad = 0

    def take(df: pl.DataFrame) -> None:
        nonlocal bad
        v = validate_predictions(df)
        bad += v.bad.height
        frames.extend(apply_features(v.good, v.features, catalog))

    if fmt[0] == "parquet":
        row = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=262_144):
            take(formats.tag_parquet_batch(batch, "predictions", row))
            row += batch.num_rows
    else:
        opener = gzip.open if fmt[1] else open
        header = None
        with opener(path, "rb") as fh:
            for item in iter_blocks(fh, 0, 1):
                if isinstance(item, Oversized):
                    bad += 1
                    continue
                block, _ = item
                if fmt[0] == "csv" and header is None:
                    first_end = int(block.ends[0]) + 1
                    header = formats.csv_header(block.data[:first_end])
                    if first_end == len(block.data):
                        continue
                    block = formats.LineBlock(block.data[first_end:], first_end, 2)
                take(formats.parse_block(block, "predictions", fmt[0], header))
    fcols: dict[str, str] = {f"f_{f}": KIND_SQL[k] for f, k in kinds.items()}
    for model_states in catalog.cp.features.values():
        for f, st in model_states.items():
            if st.kind is not None:
                fcols.setdefault(f"f_{f}", KIND_SQL[st.kind])
    columns = PREDICTION_COLUMNS + sorted(fcols.items()) + PREDICTION_TAIL
    out = []
    for fr in frames:
        fr = fr.with_columns(pl.lit(str(path)).alias("source"), pl.lit(None, pl.Int64).alias("batch"))
        out.append(fr.select([
            (pl.col(c) if c in fr.columns else pl.lit(None)).cast(_PL_TYPES[t]).alias(c) for c, t in columns
        ]))
    if out:
        df = pl.concat(out)
    else:
        df = pl.DataFrame({c: pl.Series([], dtype=_PL_TYPES[t]) for c, t in columns})
    table = df.to_arrow()
    return table.replace_schema_metadata({b"quarantined": str(bad).encode(), b"rows": str(df.height).encode()})
