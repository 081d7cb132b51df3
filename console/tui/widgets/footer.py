"""The console's footer: Textual's ``Footer`` (keys of the focused widget and screen, disabled
ones greyed with their reason as tooltip), recomposed only when what it shows changes.

Textual's footer rebuilds all of its key widgets on every bindings signal — each focus change
and each refresh of the bindings, several per tab switch — and every rebuild reflows the whole
screen. Here the signal is coalesced (one check per refresh) and the keys are rebuilt only when
the shown set (key, label, action, enabled, tooltip) differs from the one on screen.

Below 132 columns the footer is compact (one space between keys) and leaves out the command
palette's ``^p`` (``?`` lists it). Keys that do not fit whole are left out from the end (the
screen's own keys come first, then help and jump), so a key is never shown cut in half.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class ConsoleFooter(Footer):
    """A ``Footer`` that skips rebuilds which would show the same keys."""

    _shown: tuple | None = None
    _check_pending = False
    NARROW = 132  # columns below which the footer is compact and drops the palette key

    def on_resize(self, event: events.Resize) -> None:
        narrow = self.app.size.width < self.NARROW
        self.compact = narrow
        self.show_command_palette = not narrow
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Show the keys that fit whole, in order; leave out the rest (widths from their text:
        " k label " apart, "k label " compact)."""
        if not self.is_attached:
            return
        keys = list(self.query(FooterKey))
        pad = 2 if self.compact else 3
        width = {k: cell_len(k.key_display) + cell_len(k.description) + pad for k in keys}
        room = self.size.width - sum(width[k] for k in keys if k.has_class("-command-palette"))
        used, fits = 0, True
        for key in keys:
            if key.has_class("-command-palette"):
                continue
            fits = fits and used + width[key] <= room
            used += width[key] if fits else 0
            key.display = fits

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._recompose_if_changed)

    def shown_keys(self) -> tuple:
        """What the footer would show now: one entry per shown binding, in order."""
        app = self.app
        return tuple(
            (binding.key, app.get_key_display(binding), binding.description, binding.action, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values() if binding.show)

    async def _recompose_if_changed(self) -> None:
        self._check_pending = False
        if not self.is_attached:
            return
        keys = self.shown_keys()
        if keys != self._shown:
            self._shown = keys
            await self.recompose()
            self.call_after_refresh(self._fit)
