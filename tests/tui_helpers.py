"""Helpers for the TUI tests: the screen as plain text (what a person would read)."""

from __future__ import annotations


def screen_text(app) -> str:
    """Every line of the current screen (and its dialogs) as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)
