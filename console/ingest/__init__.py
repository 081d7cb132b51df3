"""Ingest: reading prediction logs and label files into the store — parsing every contract
format, validating, quarantining bad records, deduplicating, following live and rotated files,
exactly once across crashes. Uses ``store``; never imports ``tui``.
"""
