"""The columns of the store's parts and views (docs/architecture.md, "console.store").

One place names every stored column and its type, for the writer (ingest) and the views (db).
"""

from __future__ import annotations

# Prediction parts: these columns, then one f_<feature> column per feature, then the tail.
PREDICTION_COLUMNS: list[tuple[str, str]] = [
    ("ts", "TIMESTAMP"),
    ("day", "DATE"),
    ("model", "VARCHAR"),
    ("version", "VARCHAR"),
    ("request_id", "VARCHAR"),
    ("prediction", "VARCHAR"),
    ("prediction_num", "DOUBLE"),
    ("score", "DOUBLE"),
    ("label", "VARCHAR"),
    ("label_num", "DOUBLE"),
    ("latency_ms", "DOUBLE"),
    ("status", "VARCHAR"),
    ("error", "VARCHAR"),
    ("cost_usd", "DOUBLE"),
]
PREDICTION_TAIL: list[tuple[str, str]] = [("source", "VARCHAR"), ("line", "BIGINT"), ("batch", "BIGINT")]
KEY_COLUMN = "_key"  # UBIGINT hash of (model, version, request_id); stored, not shown in views

LABEL_COLUMNS: list[tuple[str, str]] = [
    ("model", "VARCHAR"),
    ("request_id", "VARCHAR"),
    ("label", "VARCHAR"),
    ("label_num", "DOUBLE"),
    ("ts", "TIMESTAMP"),
    ("arrived_at", "TIMESTAMP"),
    ("source", "VARCHAR"),
    ("line", "BIGINT"),
    ("batch", "BIGINT"),
    ("ord", "BIGINT"),  # arrival order inside the batch: later replaces earlier
]

QUARANTINE_COLUMNS: list[tuple[str, str]] = [
    ("kind", "VARCHAR"),
    ("source", "VARCHAR"),
    ("line", "BIGINT"),
    ("byte_offset", "BIGINT"),
    ("reason", "VARCHAR"),
    ("raw", "VARCHAR"),
    ("batch", "BIGINT"),
]

RESERVED_PREDICTION_FIELDS = (
    "ts",
    "model",
    "version",
    "request_id",
    "features",
    "prediction",
    "score",
    "label",
    "latency_ms",
    "status",
    "error",
    "cost_usd",
)
LABEL_FIELDS = ("request_id", "label", "model", "ts")

KIND_SQL = {"numeric": "DOUBLE", "categorical": "VARCHAR"}
