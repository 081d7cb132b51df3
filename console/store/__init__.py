"""The store: what the console derives from its sources, under ``<workspace>/.console/``.

It owns the on-disk layout (immutable Parquet parts, ``checkpoint.json``, compaction, the
saved dedupe keys), every write to it (``writer.BatchWriter``: the ingester hands it batches),
the registry reader, and ``db.open_store``: an immutable snapshot of the committed store
(``snapshot.StoreSnapshot``, the read boundary) over a per-process in-memory DuckDB
(``StoreDB``) with the documented SQL views (``predictions``, ``labels``,
``predictions_labelled``, ``versions``, ``features``, ``quarantine``, ``ingest_status``).
Everything here can be deleted and rebuilt from the sources.
"""
