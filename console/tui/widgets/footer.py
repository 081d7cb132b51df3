"""The console's footer: Textual's ``Footer`` (keys of the focused widget and screen, disabled
ones greyed with their reason as tooltip), recomposed only when what it shows changes.

Textual's footer rebuilds all of its key widgets on every bindings signal — each focus change
and each refresh of the bindings, several per tab switch — and every rebuild reflows the whole
screen. Here the signal is coalesced (one check per refresh) and the keys are rebuilt only when
the shown set (key, label, action, enabled, tooltip) differs from the one on screen.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class ConsoleFooter(Footer):
    """A ``Footer`` that skips rebuilds which would show the same keys."""

    _shown: tuple | None = None
    _check_pending = False

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
