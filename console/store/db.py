"""``StoreDB``: a per-process in-memory DuckDB with the documented SQL views over the store.

Every console opens its own in-memory DuckDB and reads the committed Parquet parts with
``read_parquet`` (no database file, so no lock: any number of consoles can read while one
ingests). ``refresh()`` re-reads ``checkpoint.json`` and the registry and re-creates the views
when something changed. The views and their columns are specified in docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from console.store.checkpoint import Checkpoint, read_checkpoint, stat_key
from console.store.layout import StoreLayout
from console.store.registry import Registry, canonical_text, load_registry, registry_signature
from console.store.schema import (
    KIND_SQL,
    LABEL_COLUMNS,
    PREDICTION_COLUMNS,
    PREDICTION_TAIL,
    QUARANTINE_COLUMNS,
)
from console.workspace import Workspace


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    """A SQL literal for a query parameter (text, number, bool, date, naive-UTC timestamp)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return f"'{value!r}'::DOUBLE"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _parts_view(c, name: str, files: list, columns) -> None:
    """``name`` as a view over the committed Parquet ``files`` with ``columns`` (name, type)
    cast to their types; with no files, the same columns and zero rows."""
    if files:
        select = ", ".join(f"{_q(n)}::{t} AS {_q(n)}" for n, t in columns)
        c.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT {select} "
            f"FROM read_parquet({_files_sql(files)}, union_by_name=true)"
        )
    else:
        c.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT "
            + ", ".join(f"NULL::{t} AS {_q(n)}" for n, t in columns)
            + " WHERE false"
        )


# the latest label row per key: later batch wins, then later arrival inside the batch
_EFFECTIVE = (
    "SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY model, request_id "
    "ORDER BY batch DESC, ord DESC) AS rn FROM {rows}) WHERE rn = 1"
)


def labelled_sql(predictions: str, effective: str) -> str:
    """``predictions`` (a relation) with the effective label of ``effective`` (the latest label
    row per key): the model's own label, or a model-less one when that one arrived later, else
    the inline label — the body of the ``predictions_labelled`` view."""
    win = (
        "ls.request_id IS NOT NULL AND (la.request_id IS NULL OR ls.batch > la.batch "
        "OR (ls.batch = la.batch AND ls.ord >= la.ord))"
    )
    return (
        "SELECT j.* EXCLUDE (_wl, _wn, _wt) REPLACE ("
        "  CASE WHEN _wl IS NOT NULL THEN _wl ELSE label END AS label,"
        "  CASE WHEN _wl IS NOT NULL THEN _wn ELSE label_num END AS label_num),"
        " _wt AS label_ts, (_wl IS NOT NULL OR label IS NOT NULL) AS labelled "
        "FROM (SELECT p.*,"
        f" CASE WHEN {win} THEN ls.label ELSE la.label END AS _wl,"
        f" CASE WHEN {win} THEN ls.label_num ELSE la.label_num END AS _wn,"
        f" CASE WHEN {win} THEN ls.ts ELSE la.ts END AS _wt "
        f"FROM {predictions} p "
        f"LEFT JOIN {effective} ls ON ls.model = p.model AND ls.request_id = p.request_id "
        f"LEFT JOIN (SELECT * FROM {effective} WHERE model IS NULL) la "
        "ON la.request_id = p.request_id) j"
    )


def labelled_subset_sql(cond: str) -> str:
    """The rows of ``predictions_labelled`` matching ``cond`` (SQL over ``predictions``' columns),
    as a relation that joins only the label rows of those predictions' request ids (a semi-join
    before the label dedupe): the same rows and columns, much cheaper when ``cond`` selects a small
    part of the store (a week of a month, a few late windows). ``cond`` is repeated inside, so it
    must be literal SQL (no ``?`` parameters)."""
    preds = f"(SELECT * FROM predictions WHERE {cond})"
    rows = f"(SELECT * FROM _label_rows WHERE request_id IN (SELECT request_id FROM predictions WHERE {cond}))"
    return f"({labelled_sql(preds, '(' + _EFFECTIVE.format(rows=rows) + ')')})"


def _files_sql(files: list[Path]) -> str:
    return "[" + ", ".join(sql_literal(str(f)) for f in files) + "]"


def feature_columns(cp: Checkpoint, registry: Registry | None = None) -> list[tuple[str, str, bool]]:
    """(column, SQL type, written to any part) for every known feature column, sorted by name.

    Features of the catalogue (seen in data) first decide their columns; features declared
    in the registry but not seen yet get ``f_<name>`` as an all-NULL column when it is free.
    """
    seen: dict[str, tuple[str, str, bool]] = {}
    for model in sorted(cp.features):
        for feature in sorted(cp.features[model]):
            st = cp.features[model][feature]
            if st.column is None or st.kind is None:
                continue
            prev = seen.get(st.column.lower())
            written = st.written or (prev[2] if prev else False)
            seen[st.column.lower()] = (st.column, KIND_SQL[st.kind], written)
    if registry is not None:
        for info in registry.versions.values():
            for feature, kind in info.features.items():
                col = f"f_{feature}"
                if col.lower() not in seen and col.lower() not in cp.columns:
                    seen[col.lower()] = (col, KIND_SQL[kind], False)
    return sorted(seen.values(), key=lambda c: c[0].lower())


class StoreDB:
    """A DuckDB connection with the store's views; ``refresh()`` picks up new batches."""

    def __init__(
        self,
        ws: Workspace,
        stages: dict[tuple[str, str], str] | None = None,
        production: dict[str, str | None] | None = None,
    ):
        self.ws = ws
        self.layout = StoreLayout(ws.store_dir)
        self.stages = dict(stages or {})
        self.production: dict[str, str | None] = dict(production or {})
        self.conn = duckdb.connect(":memory:")
        self.conn.execute("SET TimeZone='UTC'")
        try:
            self.conn.execute("SET enable_object_cache=true")
        except duckdb.Error:
            pass
        self._lock = threading.RLock()
        self._cp_key: tuple[int, int, int] | None = ("unset",)  # type: ignore[assignment]
        self._reg_sig: tuple | None = None
        self.checkpoint = Checkpoint()
        self.registry = Registry()
        self.refresh(force=True)

    # -- public API ----------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for use in one thread (DuckDB connections are not shared across threads)."""
        return self.conn.cursor()

    @property
    def batch(self) -> int:
        """The last committed batch the views show."""
        return self.checkpoint.batch

    def set_fleet(self, stages: dict[tuple[str, str], str], production: dict[str, str | None]) -> None:
        """New current stages / production versions (from governance); rebuilds ``versions``."""
        with self._lock:
            self.stages = dict(stages)
            self.production = dict(production)
            self._build_versions()

    def refresh(self, force: bool = False) -> bool:
        """Re-read the checkpoint and the registry; re-create the views when either changed."""
        with self._lock:
            changed = False
            reg_sig = registry_signature(self.ws.registry)
            if force or reg_sig != self._reg_sig:
                self.registry = load_registry(self.ws.registry, self.ws.root)
                self._reg_sig = reg_sig
                self._build_versions()
                changed = True
                force = True  # registry features may add columns to ``predictions``
            cp_key = stat_key(self.layout.checkpoint_path)
            if force or cp_key != self._cp_key:
                self._cp_key = cp_key
                cp = read_checkpoint(self.layout.checkpoint_path)
                if force or cp.to_json() != self.checkpoint.to_json():
                    self.checkpoint = cp
                    self._build_data_views()
                    changed = True
            return changed

    def close(self) -> None:
        self.conn.close()

    def labelled_subset(self, cond: str) -> str:
        """``predictions_labelled`` restricted to ``cond`` (literal SQL), joining only those rows'
        labels: see ``labelled_subset_sql``."""
        return labelled_subset_sql(cond)

    # -- views ---------------------------------------------------------------------------
    def _load_table(self, name: str, table: pa.Table) -> None:
        tmp = f"_arrow_{name}_{os.getpid()}_{threading.get_ident()}"
        self.conn.register(tmp, table)
        try:
            self.conn.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {_q(tmp)}")
        finally:
            self.conn.unregister(tmp)

    def _build_versions(self) -> None:
        rows: dict[str, list[Any]] = {k: [] for k in VERSION_FIELDS}
        for (model, version), v in sorted(self.registry.versions.items()):
            rows["model"].append(model)
            rows["version"].append(version)
            rows["task"].append(v.task)
            rows["stage"].append(self.stages.get((model, version), v.stage))
            rows["registry_stage"].append(v.stage)
            rows["created_at"].append(_parse_ts(v.created_at))
            rows["created_by"].append(v.created_by)
            rows["reference"].append(str(v.reference) if v.reference else None)
            rows["metrics"].append(json.dumps(v.metrics))
            rows["slices"].append(list(v.slices))
            rows["positive_label"].append(canonical_text(v.positive_label))
            rows["threshold"].append(v.threshold)
            rows["lineage"].append(json.dumps(v.lineage, default=str))
            rows["per_1k_predictions_usd"].append(v.cost.get("per_1k_predictions_usd"))
            rows["training_usd"].append(v.cost.get("training_usd"))
            rows["monthly_budget_usd"].append(v.cost.get("monthly_budget_usd"))
            rows["path"].append(str(v.path))
        table = pa.table({k: pa.array(rows[k], type=t) for k, t in VERSION_FIELDS.items()})
        self._load_table("_versions", table)
        self.conn.execute(
            "CREATE OR REPLACE VIEW versions AS SELECT model, version, task, stage, registry_stage, "
            "created_at, created_by, reference, metrics::JSON AS metrics, slices, positive_label, "
            "threshold, lineage::JSON AS lineage, per_1k_predictions_usd, training_usd, "
            "monthly_budget_usd, path FROM _versions"
        )

    def _build_data_views(self) -> None:
        cp = self.checkpoint
        c = self.conn
        fcols = feature_columns(cp, self.registry)

        # predictions
        pred_files = self.layout.parts("predictions", cp.batch, cp.retired)
        cols: list[tuple[str, str, bool]] = [(n, t, True) for n, t in PREDICTION_COLUMNS]
        cols += fcols
        cols += [(n, t, True) for n, t in PREDICTION_TAIL]
        if pred_files:
            select = [f"{_q(n) if present else 'NULL'}::{t} AS {_q(n)}" for n, t, present in cols]
            frm = f"read_parquet({_files_sql(pred_files)}, union_by_name=true)"
            c.execute(f"CREATE OR REPLACE VIEW predictions AS SELECT {', '.join(select)} FROM {frm}")
        else:
            select = [f"NULL::{t} AS {_q(n)}" for n, t, _ in cols]
            c.execute(f"CREATE OR REPLACE VIEW predictions AS SELECT {', '.join(select)} WHERE false")

        # labels (every label row) and the effective label per key
        label_files = self.layout.parts("labels", cp.batch, cp.retired)
        _parts_view(c, "_label_rows", label_files, LABEL_COLUMNS)
        c.execute(f"CREATE OR REPLACE VIEW _labels_effective AS {_EFFECTIVE.format(rows='_label_rows')}")
        c.execute(
            "CREATE OR REPLACE VIEW labels AS SELECT model, request_id, label, label_num, ts, arrived_at, "
            "source, line FROM _labels_effective"
        )
        c.execute(
            "CREATE OR REPLACE VIEW predictions_labelled AS "
            + labelled_sql("predictions", "_labels_effective")
        )

        # quarantine
        q_files = self.layout.parts("quarantine", cp.batch, cp.retired)
        _parts_view(c, "quarantine", q_files, QUARANTINE_COLUMNS)

        # features (catalogue + data-quality counters)
        frows: dict[str, list[Any]] = {k: [] for k in FEATURE_FIELDS}
        for model in sorted(cp.features):
            for feature, st in sorted(cp.features[model].items()):
                frows["model"].append(model)
                frows["feature"].append(feature)
                frows["column"].append(st.column)
                frows["kind"].append(st.kind)
                frows["kind_source"].append(st.kind_source)
                frows["type_errors"].append(st.type_errors)
        self._load_table(
            "_features", pa.table({k: pa.array(frows[k], type=t) for k, t in FEATURE_FIELDS.items()})
        )
        c.execute("CREATE OR REPLACE VIEW features AS SELECT * FROM _features")

        # ingest_status: one row per source file
        srows: dict[str, list[Any]] = {k: [] for k in STATUS_FIELDS}
        for st in sorted(cp.sources.values(), key=lambda s: s.path):
            srows["source"].append(st.path)
            srows["kind"].append(st.kind)
            srows["offset"].append(st.offset)
            srows["size"].append(st.total)
            srows["rows"].append(st.rows)
            srows["quarantined"].append(st.quarantined)
            srows["duplicates"].append(st.duplicates)
            srows["last_error"].append(st.last_error)
            srows["last_ingest"].append(_parse_ts(st.last_ingest))
            srows["lag_bytes"].append(max(st.total - st.offset, 0) if not st.gone else 0)
        for path, (kind, why) in sorted(cp.skipped.items()):  # links not followed: a row saying why
            for key, value in (("source", path), ("kind", kind), ("offset", 0), ("size", 0), ("rows", 0),
                               ("quarantined", 0), ("duplicates", 0), ("last_error", why),
                               ("last_ingest", None), ("lag_bytes", 0)):
                srows[key].append(value)
        self._load_table(
            "_ingest_status", pa.table({k: pa.array(srows[k], type=t) for k, t in STATUS_FIELDS.items()})
        )
        c.execute('CREATE OR REPLACE VIEW ingest_status AS SELECT * FROM _ingest_status')


def _parse_ts(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


VERSION_FIELDS: dict[str, pa.DataType] = {
    "model": pa.string(),
    "version": pa.string(),
    "task": pa.string(),
    "stage": pa.string(),
    "registry_stage": pa.string(),
    "created_at": pa.timestamp("us"),
    "created_by": pa.string(),
    "reference": pa.string(),
    "metrics": pa.string(),
    "slices": pa.list_(pa.string()),
    "positive_label": pa.string(),
    "threshold": pa.float64(),
    "lineage": pa.string(),
    "per_1k_predictions_usd": pa.float64(),
    "training_usd": pa.float64(),
    "monthly_budget_usd": pa.float64(),
    "path": pa.string(),
}
FEATURE_FIELDS: dict[str, pa.DataType] = {
    "model": pa.string(),
    "feature": pa.string(),
    "column": pa.string(),
    "kind": pa.string(),
    "kind_source": pa.string(),
    "type_errors": pa.int64(),
}
STATUS_FIELDS: dict[str, pa.DataType] = {
    "source": pa.string(),
    "kind": pa.string(),
    "offset": pa.int64(),
    "size": pa.int64(),
    "rows": pa.int64(),
    "quarantined": pa.int64(),
    "duplicates": pa.int64(),
    "last_error": pa.string(),
    "last_ingest": pa.timestamp("us"),
    "lag_bytes": pa.int64(),
}


def open_store(
    ws: Workspace,
    stages: dict[tuple[str, str], str] | None = None,
    production: dict[str, str | None] | None = None,
) -> StoreDB:
    """Open the store of ``ws`` for reading: an in-memory DuckDB with the documented views."""
    return StoreDB(ws, stages=stages, production=production)
