"""``open_store``: an immutable ``Snapshot`` of the store, read through a per-process in-memory
DuckDB with the documented SQL views.

Every console opens its own in-memory DuckDB (``StoreDB``) and reads the committed Parquet parts
with ``read_parquet`` (no database file, so no lock: any number of consoles can read while one
ingests). Each state of the store it shows — a committed batch, a registry, a production map —
is a ``Snapshot`` with its own schema of views in that DuckDB: ``Snapshot.refresh()`` re-reads
``checkpoint.json`` and the registry and, when something changed, builds the views of a new
snapshot, while the old one keeps reading its own batch until nobody holds it any more (then its
schema is dropped). The surface readers may use is ``console.store.snapshot.StoreSnapshot``; the
views and their columns are specified in docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import uuid
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb

from console import clock
from console.store import duck
from console.store.adopted import adopted_models, adopted_relations, superseded_quarantine
from console.store.checkpoint import Checkpoint, read_checkpoint, stat_key
from console.store.layout import PartFile, StoreLayout
from console.store.registry import Registry, canonical_text, load_registry, registry_signature
from console.store.schema import (
    KIND_SQL,
    LABEL_COLUMNS,
    PREDICTION_COLUMNS,
    PREDICTION_TAIL,
    QUARANTINE_COLUMNS,
)
from console.store.snapshot import Memo
from console.store.sql import ident, literal
from console.workspace import Workspace


def _parts_view(c, name: str, files: list, columns, wrap=None) -> None:
    """``name`` as a view over the committed Parquet ``files`` with ``columns`` (name, type)
    cast to their types; with no files, the same columns and zero rows. ``wrap``: a function
    of the SELECT giving the view's SELECT."""
    if files:
        select = ", ".join(f"{ident(n)}::{t} AS {ident(n)}" for n, t in columns)
        sql = f"SELECT {select} FROM read_parquet({_files_sql(files)}, union_by_name=true)"
        c.execute(f"CREATE OR REPLACE VIEW {name} AS {wrap(sql) if wrap else sql}")
    else:
        c.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT "
            + ", ".join(f"NULL::{t} AS {ident(n)}" for n, t in columns)
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
    return "[" + ", ".join(literal(str(f)) for f in files) + "]"


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


class Snapshot:
    """One committed state of the store, immutable (``console.store.snapshot.StoreSnapshot``).

    ``cursor()`` reads this snapshot's views whatever the store shows later; ``refresh()`` and
    ``with_fleet()`` return the store's newest snapshot (this one when nothing changed)."""

    __slots__ = ("batch", "registry", "production", "stages", "training", "checkpoint", "config", "store_dir",
                 "cache_dir", "layout", "memo", "_reader", "_schema", "_parts", "__weakref__")

    def __init__(self, reader: StoreDB, schema: str, checkpoint: Checkpoint, registry: Registry,
                 stages: Mapping[tuple[str, str], str], production: Mapping[str, str | None],
                 training: Mapping[tuple[str, str], float | None] | None = None) -> None:
        ws = reader.ws
        sets = object.__setattr__
        sets(self, "batch", checkpoint.batch)
        sets(self, "registry", registry)
        sets(self, "production", MappingProxyType(dict(production)))
        sets(self, "stages", MappingProxyType(dict(stages)))
        sets(self, "training", MappingProxyType(dict(training or {})))
        sets(self, "checkpoint", checkpoint)
        sets(self, "config", MappingProxyType(dict(ws.config or {})))
        sets(self, "layout", reader.layout)
        sets(self, "store_dir", reader.layout.root)
        sets(self, "cache_dir", reader.layout.analytics_cache_dir)
        namespace = _namespace(reader.layout.root)
        sets(self, "memo", Memo(namespace))
        sets(self, "_reader", reader)
        sets(self, "_schema", schema)
        sets(self, "_parts", Memo(namespace))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a store snapshot is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a store snapshot is immutable (cannot delete {name!r})")

    def __repr__(self) -> str:
        return f"<Snapshot {self.store_dir} batch {self.batch} ({self._schema})>"

    # -- the read surface --------------------------------------------------------------------
    def training_usd(self, model: str, version: str) -> float | None:
        """The version's training cost: what its retrain hook reported (journaled, governance's
        ``FleetState.training``; a report that was not a number is unknown), else its registry
        entry's ``cost.training_usd``; None unknown."""
        if (model, version) in self.training:
            return self.training[(model, version)]
        info = self.registry.get(model, version)
        usd = info.cost.get("training_usd") if info is not None else None
        return None if usd is None else float(usd)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor over this snapshot's views, for use in one thread (DuckDB connections are
        not shared across threads)."""
        cur = self._reader.conn.cursor()
        cur.execute(f"SET search_path = {literal(self._schema)}")
        return cur

    def parts(self, model: str, start: dt.datetime | None = None,
              end: dt.datetime | None = None) -> list[PartFile]:
        """The committed prediction parts of ``model`` whose day meets ``[start, end)``; None
        when some of its rows are read from adopted Parquet sources (``store.adopted``): then
        only the views show all of them."""
        cp = self.checkpoint
        if model in self._parts.compute(("adopted models",), lambda: adopted_models(cp.adopted)):
            return None
        files = self._parts.compute(model, lambda: self.layout.model_parts(model, cp.batch, cp.retired))
        first = _naive(start).date() if start is not None else None
        last = (_naive(end) - dt.timedelta(microseconds=1)).date() if end is not None else None
        return [p for p in files if (first is None or p.day >= first) and (last is None or p.day <= last)]

    def labelled_subset(self, cond: str) -> str:
        """``predictions_labelled`` restricted to ``cond`` (literal SQL), joining only those rows'
        labels: see ``labelled_subset_sql``."""
        return labelled_subset_sql(cond)

    def alone(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to wait for: used directly, a snapshot runs one report at a time (through
        ``analytics.runner`` the runner's gate answers; ``StoreSnapshot.alone``)."""
        return contextlib.nullcontext()

    # -- newer snapshots -----------------------------------------------------------------------
    def refresh(self, force: bool = False) -> Snapshot:
        """The store's newest snapshot: new parts or registry files since this one was taken
        give a new snapshot (this one still reads its own batch); ``force``: a new one even
        when nothing changed (every view rebuilt, nothing remembered)."""
        self._reader.refresh(force=force)
        return self._reader.current

    def with_fleet(self, stages: Mapping[tuple[str, str], str],
                   production: Mapping[str, str | None],
                   training: Mapping[tuple[str, str], float | None] | None = None) -> Snapshot:
        """The newest snapshot with these current stages / production versions / hook-reported
        training costs (governance; ``training`` None: unchanged)."""
        self._reader.set_fleet(stages, production, training)
        return self._reader.current

    def close(self) -> None:
        """Close the store's DuckDB (every snapshot of it)."""
        self._reader.close()


class StoreDB:
    """The DuckDB connection behind a store's snapshots; ``refresh()`` picks up new batches."""

    def __init__(
        self,
        ws: Workspace,
        stages: Mapping[tuple[str, str], str] | None = None,
        production: Mapping[str, str | None] | None = None,
        training: Mapping[tuple[str, str], float | None] | None = None,
    ):
        self.ws = ws
        self.layout = StoreLayout(ws.store_dir)
        self.stages = dict(stages or {})
        self.production: dict[str, str | None] = dict(production or {})
        self.training: dict[tuple[str, str], float | None] = dict(training or {})
        self.conn = duck.connect(duck.memory_limit(ws.config))
        try:
            self.conn.execute("SET enable_object_cache=true")
        except duckdb.Error:
            pass
        self._lock = threading.RLock()
        self._cp_key: tuple[int, int, int] | None = ("unset",)  # type: ignore[assignment]
        self._reg_sig: tuple | None = None
        self._seq = 0
        self._dead: list[str] = []  # schemas of snapshots nobody holds any more
        self.checkpoint = Checkpoint()
        self.registry = Registry()
        self.current: Snapshot
        self.refresh(force=True)

    @property
    def batch(self) -> int:
        """The last committed batch the current snapshot shows."""
        return self.checkpoint.batch

    def set_fleet(self, stages: Mapping[tuple[str, str], str], production: Mapping[str, str | None],
                  training: Mapping[tuple[str, str], float | None] | None = None) -> bool:
        """New current stages / production versions / hook-reported training costs (from
        governance; ``training`` None: unchanged): a new snapshot when they differ from the
        current one's."""
        with self._lock:
            training = self.training if training is None else dict(training)
            if dict(stages) == self.stages and dict(production) == self.production and training == self.training:
                return False
            self.stages = dict(stages)
            self.production = dict(production)
            self.training = training
            self._snapshot()
            return True

    def refresh(self, force: bool = False) -> bool:
        """Re-read the checkpoint and the registry; a new snapshot when either changed."""
        with self._lock:
            changed = False
            reg_sig = registry_signature(self.ws.registry)
            if force or reg_sig != self._reg_sig:
                self.registry = load_registry(self.ws.registry, self.ws.root)
                self._reg_sig = reg_sig
                changed = True
            cp_key = stat_key(self.layout.checkpoint_path)
            if force or cp_key != self._cp_key:
                self._cp_key = cp_key
                cp = read_checkpoint(self.layout.checkpoint_path)
                if force or cp.to_json() != self.checkpoint.to_json():
                    self.checkpoint = cp
                    changed = True
            if changed:
                self._snapshot()
            return changed

    def close(self) -> None:
        self.conn.close()

    # -- snapshots -----------------------------------------------------------------------------
    def _snapshot(self) -> None:
        """Build the views of the current state in a schema of their own: the new snapshot."""
        self._drop_dead()
        self._seq += 1
        schema = f"s{self._seq}"
        self.conn.execute(f"CREATE SCHEMA {schema}")
        try:
            self._build_versions(schema)
            self._build_data_views(schema)
        except BaseException:
            self.conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            raise
        snap = Snapshot(self, schema, self.checkpoint, self.registry, self.stages, self.production, self.training)
        weakref.finalize(snap, self._dead.append, schema)
        self.current = snap

    def _drop_dead(self) -> None:
        while self._dead:
            schema = self._dead.pop()
            try:
                self.conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            except duckdb.Error:
                pass

    # -- views ---------------------------------------------------------------------------
    def _load_table(self, name: str, columns: dict[str, list[Any]], types: Mapping[str, str]) -> None:
        """Table ``name`` from Python columns (name → values; ``types``: name → SQL type), passed
        to DuckDB as list parameters. Not through pyarrow: its conversion from Python objects
        imports pandas when pandas is installed (0.4 s on every open)."""
        select = ", ".join(f"unnest(${i}::{types[k]}[]) AS {ident(k)}" for i, k in enumerate(types, 1))
        self.conn.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select}", [columns[k] for k in types])

    def _build_versions(self, s: str) -> None:
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
            rows["training_usd"].append(self.training.get((model, version), v.cost.get("training_usd")))
            rows["monthly_budget_usd"].append(v.cost.get("monthly_budget_usd"))
            rows["path"].append(str(v.path))
        self._load_table(f"{s}._versions", rows, VERSION_FIELDS)
        self.conn.execute(
            f"CREATE OR REPLACE VIEW {s}.versions AS SELECT model, version, task, stage, registry_stage, "
            "created_at, created_by, reference, metrics::JSON AS metrics, slices, positive_label, "
            "threshold, lineage::JSON AS lineage, per_1k_predictions_usd, training_usd, "
            f"monthly_budget_usd, path FROM {s}._versions"
        )

    def _build_data_views(self, s: str) -> None:
        cp = self.checkpoint
        c = self.conn
        fcols = feature_columns(cp, self.registry)

        # predictions
        pred_files = self.layout.parts("predictions", cp.batch, cp.retired)
        cols: list[tuple[str, str, bool]] = [(n, t, True) for n, t in PREDICTION_COLUMNS]
        cols += fcols
        cols += [(n, t, True) for n, t in PREDICTION_TAIL]
        adopted = adopted_relations(str(self.layout.root), cp.adopted, [(n, t) for n, t, _ in cols])
        if pred_files or adopted:
            relations = list(adopted)
            if pred_files:
                select = [f"{ident(n) if present else 'NULL'}::{t} AS {ident(n)}" for n, t, present in cols]
                frm = f"read_parquet({_files_sql(pred_files)}, union_by_name=true)"
                relations.insert(0, f"SELECT {', '.join(select)} FROM {frm}")
            c.execute(f"CREATE OR REPLACE VIEW {s}.predictions AS {' UNION ALL '.join(relations)}")
        else:
            select = [f"NULL::{t} AS {ident(n)}" for n, t, _ in cols]
            c.execute(f"CREATE OR REPLACE VIEW {s}.predictions AS SELECT {', '.join(select)} WHERE false")

        # labels (every label row) and the effective label per key
        label_files = self.layout.parts("labels", cp.batch, cp.retired)
        _parts_view(c, f"{s}._label_rows", label_files, LABEL_COLUMNS)
        c.execute(f"CREATE OR REPLACE VIEW {s}._labels_effective AS {_EFFECTIVE.format(rows=f'{s}._label_rows')}")
        c.execute(
            f"CREATE OR REPLACE VIEW {s}.labels AS SELECT model, request_id, label, label_num, ts, arrived_at, "
            f"source, line FROM {s}._labels_effective"
        )
        c.execute(
            f"CREATE OR REPLACE VIEW {s}.predictions_labelled AS "
            + labelled_sql(f"{s}.predictions", f"{s}._labels_effective")
        )

        # quarantine
        q_files = self.layout.parts("quarantine", cp.batch, cp.retired)
        _parts_view(c, f"{s}.quarantine", q_files, QUARANTINE_COLUMNS,
                    lambda sql: superseded_quarantine(sql, cp.withdrawn))

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
        self._load_table(f"{s}._features", frows, FEATURE_FIELDS)
        c.execute(f"CREATE OR REPLACE VIEW {s}.features AS SELECT * FROM {s}._features")

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
        self._load_table(f"{s}._ingest_status", srows, STATUS_FIELDS)
        c.execute(f"CREATE OR REPLACE VIEW {s}.ingest_status AS SELECT * FROM {s}._ingest_status")


def _namespace(root: Path) -> str:
    """The store's identity for caches: its folder, and that folder's inode (a rebuilt store —
    ``.console`` deleted — is a new namespace: batch numbers restart)."""
    try:
        return f"{root}:{os.stat(root).st_ino}"
    except OSError:
        return f"{root}:{uuid.uuid4().hex}"


_naive = clock.naive_utc


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
    return clock.naive_utc(parsed)


VERSION_FIELDS: dict[str, str] = {
    "model": "VARCHAR",
    "version": "VARCHAR",
    "task": "VARCHAR",
    "stage": "VARCHAR",
    "registry_stage": "VARCHAR",
    "created_at": "TIMESTAMP",
    "created_by": "VARCHAR",
    "reference": "VARCHAR",
    "metrics": "VARCHAR",
    "slices": "VARCHAR[]",
    "positive_label": "VARCHAR",
    "threshold": "DOUBLE",
    "lineage": "VARCHAR",
    "per_1k_predictions_usd": "DOUBLE",
    "training_usd": "DOUBLE",
    "monthly_budget_usd": "DOUBLE",
    "path": "VARCHAR",
}
FEATURE_FIELDS: dict[str, str] = {
    "model": "VARCHAR",
    "feature": "VARCHAR",
    "column": "VARCHAR",
    "kind": "VARCHAR",
    "kind_source": "VARCHAR",
    "type_errors": "BIGINT",
}
STATUS_FIELDS: dict[str, str] = {
    "source": "VARCHAR",
    "kind": "VARCHAR",
    "offset": "BIGINT",
    "size": "BIGINT",
    "rows": "BIGINT",
    "quarantined": "BIGINT",
    "duplicates": "BIGINT",
    "last_error": "VARCHAR",
    "last_ingest": "TIMESTAMP",
    "lag_bytes": "BIGINT",
}


def open_store(
    ws: Workspace,
    stages: Mapping[tuple[str, str], str] | None = None,
    production: Mapping[str, str | None] | None = None,
    training: Mapping[tuple[str, str], float | None] | None = None,
) -> Snapshot:
    """Open the store of ``ws`` for reading: the snapshot of its committed state, over an
    in-memory DuckDB with the documented views (``stages``, ``production`` and ``training``:
    governance's overlay, ``FleetState``)."""
    return StoreDB(ws, stages=stages, production=production, training=training).current
