"""Governance: requests for retrain, rollback and promotion, four-eyes decisions, gates and their
evidence, break-glass, the hash-chained journal, and the effects (``serving.json``, hooks).

The journal (``<workspace>/journal.jsonl``) is the source of truth for stages and decisions;
the registry files are only the starting point. Modules: ``journal`` (append, lock, verify),
``signing`` (each account's ed25519 key, the allowed-signers file, signing entries), ``audit``
(verifying a workspace's journal with its signatures), ``trust`` (refusing to act when
configuration, hooks or signers could be changed by someone other than the administrator),
``requests`` (replaying a request's state), ``state`` (stages and production per model),
``engine`` (who may do what; request, decide, cancel), ``workflow`` (the steps in order —
ingest pass, gates, decision, execution — for the CLI and the TUI alike), ``gates`` (promotion checks with their
evidence), ``effects`` (hooks and ``serving.json``), ``report`` (the auditor's report) and
``seed`` (the sample workspace's pending request). Uses ``store`` and ``analytics``; never
imports ``tui``. See docs/governance.md.
"""
