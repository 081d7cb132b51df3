"""The store: what the console derives from its sources, under ``<workspace>/.console/``.

It owns the on-disk layout (immutable Parquet parts, ingest checkpoints), the registry reader,
and ``open_connection``: a per-process in-memory DuckDB with the documented SQL views
(``predictions``, ``labels``, ``predictions_labelled``, ``versions``, ``quarantine``,
``ingest_status``). Everything here can be deleted and rebuilt from the sources.
"""
