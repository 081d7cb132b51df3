"""Reusable widgets of the console: the header, the broken-chain banner, plots, dialogs."""
