"""Governance: requests for retrain, rollback and promotion, four-eyes decisions, gates and their
evidence, break-glass, the hash-chained journal, and the effects (``serving.json``, hooks).

The journal (``<workspace>/journal.jsonl``) is the source of truth for stages and decisions;
the registry files are only the starting point. Uses ``store``; never imports ``tui``.
"""
