"""Governance: requests for retrain, rollback and promotion, four-eyes decisions, gates and their
evidence, break-glass, the hash-chained journal, and the effects (``serving.json``, hooks).

The journal (``<workspace>/journal.jsonl``) is the source of truth for stages and decisions;
the registry files are only the starting point. Modules: ``journal`` (append, lock, verify),
``requests`` (replaying a request's state), ``state`` (stages and production per model),
``engine`` (who may do what; request, decide, cancel), ``gates`` (promotion checks with their
evidence), ``effects`` (hooks and ``serving.json``), ``report`` (the auditor's report) and
``seed`` (the sample workspace's pending request). Uses ``store`` and ``analytics``; never
imports ``tui``. See docs/governance.md.
"""
