"""The model screen's tabs, one module each: drift, performance, slices, ops, cost, versions, quality.
Each panel has ``fetch(backend, model, version, window)`` (worker thread: calls the engine) and
``show(data)`` (main thread: paints)."""
