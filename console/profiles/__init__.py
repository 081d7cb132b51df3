"""Mergeable daily profiles (docs/architecture.md, "From one laptop to a cluster").

A *profile* summarises the predictions of one ``(model, version, day)`` in a few hundred rows
that can be added up: any window is the merge of its days, so readers that only need counts,
histograms or approximate quantiles cost O(days) instead of O(rows). Exact reports (drift on raw
values, exact quantiles) stay on the store's views.

- ``core``: the profile schema, the per-group computation both engines share, the merge and the
  window answers (counts, histogram, quantiles, drift on the sketch or the reference's bins).
- ``local``: the engine over the store (DuckDB) or a folder of prediction-log Parquet, writing
  ``.console/profiles/`` incrementally by day.
- ``spark``: the same profiles from a lake path with PySpark (optional extra ``spark``).
- ``reader`` answers ``trend``/``fleet`` from them; ``lake`` reads a folder of them alone;
  ``glance`` is what the TUI reads from them when they are fresh.
"""
