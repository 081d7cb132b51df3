"""Helpers for the analytics tests: a real in-memory DuckDB holding tables with exactly the
columns of the store's views (docs/architecture.md), for exact checks of the SQL against
scikit-learn/scipy on seeded arrays, independent of ingest."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from console.store.registry import Registry, VersionInfo
from console.store.snapshot import Memo

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


class TableStore:
    """A ``StoreSnapshot`` (what analytics needs of the store) over tables instead of Parquet
    parts: no files, so no parts, no cache folder and no workspace configuration."""

    def __init__(self, registry: Registry | None = None, production: dict[str, str] | None = None,
                 batch: int = 1):
        self.conn = duckdb.connect(":memory:")
        self.conn.execute("SET TimeZone='UTC'")
        self.registry = registry or Registry()
        self.production = dict(production or {})
        self.batch = batch
        self.config: dict[str, Any] = {}
        self.store_dir = None
        self.cache_dir = None
        self.memo = Memo(f"mem:{uuid.uuid4().hex}")

    def cursor(self):
        return self.conn.cursor()

    def parts(self, model: str, start=None, end=None) -> None:
        return None  # rows are tables: read them with SQL

    def labelled_subset(self, cond: str) -> str:
        return f"(SELECT * FROM predictions_labelled WHERE {cond})"

    def training_usd(self, model: str, version: str) -> float | None:
        info = self.registry.get(model, version)
        usd = info.cost.get("training_usd") if info is not None else None
        return None if usd is None else float(usd)

    def alone(self):
        return contextlib.nullcontext()


def version(model: str, ver: str, task: str, **kw: Any) -> VersionInfo:
    return VersionInfo(model=model, version=ver, task=task, path=Path(f"/nonexistent/{model}/{ver}.json"), **kw)


def predictions_table(n: int, model: str = "m", ver: str = "1", *, features: dict[str, np.ndarray] | None = None,
                      prediction=None, prediction_num=None, score=None, label=None, label_num=None,
                      latency_ms=None, status=None, cost_usd=None, ts=None, batch=None) -> pa.Table:
    """A table with the ``predictions_labelled`` columns; arrays default to nulls."""
    def col(values, typ):
        if values is None:
            return pa.nulls(n, typ)
        return pa.array(values, type=typ, from_pandas=True)

    if ts is None:
        ts = [T0 + dt.timedelta(seconds=int(i) * 60) for i in range(n)]
    ts = [t.astimezone(dt.UTC).replace(tzinfo=None) for t in ts]
    lab = col(label, pa.string())
    data = {
        "ts": pa.array(ts, type=pa.timestamp("us")),
        "day": pa.array([t.date() for t in ts], type=pa.date32()),
        "model": pa.array([model] * n), "version": pa.array([ver] * n),
        "request_id": pa.array([f"{model}-{ver}-{i}" for i in range(n)]),
        "prediction": col(prediction, pa.string()), "prediction_num": col(prediction_num, pa.float64()),
        "score": col(score, pa.float64()), "label": lab, "label_num": col(label_num, pa.float64()),
        "latency_ms": col(latency_ms, pa.float64()),
        "status": col(status if status is not None else ["ok"] * n, pa.string()),
        "error": pa.nulls(n, pa.string()), "cost_usd": col(cost_usd, pa.float64()),
    }
    for name, values in (features or {}).items():
        typ = pa.float64() if np.asarray(values).dtype.kind in "fiu" else pa.string()
        data[f"f_{name}"] = col(values, typ)
    data["source"] = pa.array(["test"] * n)
    data["line"] = pa.array(range(n), type=pa.int64())
    data["batch"] = pa.array(batch if batch is not None else [1] * n, type=pa.int64())
    data["label_ts"] = pa.nulls(n, pa.timestamp("us"))
    data["labelled"] = pa.array([v is not None for v in lab.to_pylist()])
    return pa.table(data)


def load(store: TableStore, tables: list[pa.Table], features: list[tuple[str, str, str]] = ()) -> None:
    """Create ``predictions``/``predictions_labelled``/``features``/``_label_rows`` from tables."""
    t = pa.concat_tables(tables, promote_options="default")
    store.conn.register("_t", t)
    store.conn.execute("CREATE OR REPLACE TABLE predictions_labelled AS SELECT * FROM _t")
    store.conn.execute(
        "CREATE OR REPLACE VIEW predictions AS SELECT * EXCLUDE (label_ts, labelled) FROM predictions_labelled"
    )
    store.conn.unregister("_t")
    store.conn.execute(
        "CREATE OR REPLACE TABLE features (model VARCHAR, feature VARCHAR, \"column\" VARCHAR, kind VARCHAR)"
    )
    for f in features:
        store.conn.execute("INSERT INTO features VALUES (?, ?, ?, ?)", list(f))
    store.conn.execute(
        "CREATE OR REPLACE TABLE _label_rows (model VARCHAR, request_id VARCHAR, label VARCHAR, batch BIGINT)"
    )
