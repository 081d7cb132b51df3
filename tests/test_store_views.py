"""The store's views exist with the documented columns, even on an empty store."""

from __future__ import annotations

import json
from pathlib import Path

from console.store.db import open_store
from console.workspace import load_dir

EXPECTED = {
    "predictions": ["ts", "day", "model", "version", "request_id", "prediction", "prediction_num", "score",
                    "label", "label_num", "latency_ms", "status", "error", "cost_usd", "source", "line", "batch"],
    "labels": ["model", "request_id", "label", "label_num", "ts", "arrived_at", "source", "line"],
    "quarantine": ["kind", "source", "line", "byte_offset", "reason", "raw", "batch"],
    "features": ["model", "feature", "column", "kind", "kind_source", "type_errors"],
    "ingest_status": ["source", "kind", "offset", "size", "rows", "quarantined", "duplicates", "last_error",
                      "last_ingest", "lag_bytes"],
    "versions": ["model", "version", "task", "stage", "registry_stage", "created_at", "created_by", "reference",
                 "metrics", "slices", "positive_label", "threshold", "lineage", "per_1k_predictions_usd",
                 "training_usd", "monthly_budget_usd", "path"],
}


def columns(db, view: str) -> list[str]:
    cur = db.cursor()
    cur.execute(f"SELECT * FROM {view}")
    assert cur.fetchall() == []
    return [d[0] for d in cur.description]


def test_views_on_empty_store_have_documented_columns(workspace_dir: Path) -> None:
    db = open_store(load_dir(workspace_dir))
    for view, cols in EXPECTED.items():
        assert columns(db, view) == cols, view
    pl_cols = columns(db, "predictions_labelled")
    assert pl_cols == EXPECTED["predictions"] + ["label_ts", "labelled"]
    assert db.refresh() is False


def test_registry_version_appears_on_refresh_with_features(workspace_dir: Path) -> None:
    db = open_store(load_dir(workspace_dir))
    assert db.cursor().execute("SELECT count(*) FROM versions").fetchone() == (0,)
    (workspace_dir / "registry" / "m").mkdir()
    (workspace_dir / "registry" / "m" / "1.json").write_text(
        json.dumps({"model": "m", "version": 1, "task": "binary", "stage": "production",
                    "features": {"income": "numeric", "region": "categorical"}, "metrics": {"auc": 0.9}})
    )
    (workspace_dir / "registry" / "m" / "2.json").write_text("{not json")
    assert db.refresh() is True
    cur = db.cursor()
    assert cur.execute("SELECT model, version, stage, metrics->>'auc' FROM versions").fetchall() == [
        ("m", "1", "production", "0.9")
    ]
    assert [e.path.name for e in db.registry.errors] == ["2.json"]
    cur.execute("SELECT f_income, f_region FROM predictions")
    assert [d[1] for d in cur.description] == ["DOUBLE", "VARCHAR"]
