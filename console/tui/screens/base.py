"""The base of every full screen: header, broken-chain banner, body, footer; bindings from the
action registry; role checks (``check_action``); and the load pattern — ``fetch`` runs in a
thread worker (exclusive: a newer load cancels the older), ``show`` paints on the main thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from console.tui.actions import action_for_method, bindings_for
from console.tui.widgets.filterbar import FilterBar
from console.tui.widgets.footer import ConsoleFooter
from console.tui.widgets.header import ChainBanner, ConsoleHeader


def role_block(app, role: str | None) -> tuple[bool | None, str | None]:
    """``(check_action result, reason)`` for an action needing ``role``."""
    if role is None:
        return True, None
    if app.read_only:
        return False, "read-only mode"
    ident = app.identity
    if (role == "operator" and not ident.operator) or (role == "reviewer" and not ident.reviewer):
        return None, f"needs the {role} role ({ident.user} is {ident.role})"
    return True, None


class ConsoleScreen(Screen):
    """A screen of the console. Subclasses set ``SCOPE``/``TITLE`` and implement ``compose_body``,
    ``fetch`` (thread) and ``show`` (main thread)."""

    SCOPE = "app"
    TITLE = ""
    window_shown = None  # the resolved window this screen's reports cover (the header names it)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.__dict__.get("SCOPE", "app") != "app" and "BINDINGS" not in cls.__dict__:
            cls.BINDINGS = bindings_for(cls.SCOPE)  # before Textual merges the bindings
        super().__init_subclass__(**kwargs)

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield ChainBanner()
        yield from self.compose_body()
        yield ConsoleFooter()

    def compose_body(self) -> ComposeResult:
        yield Static("")

    @property
    def crumb(self) -> str:
        return self.TITLE

    def on_mount(self) -> None:
        self.repaint_status()
        self.reload()

    stale = False

    def on_screen_resume(self) -> None:
        self.repaint_status()
        if self.stale:
            self.stale = False
            self.reload()

    def repaint_status(self) -> None:
        for header in self.query(ConsoleHeader):
            header.refresh()
        st = self.app.status
        for banner in self.query(ChainBanner):
            banner.update_state(st.chain_ok, st.chain_first_bad, st.untrusted)

    # -- loading ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Fetch this screen's data again in a worker (a pending fetch is cancelled)."""
        if self.app.backend is None:
            return
        self._load()  # cancels this screen's older load (exclusive) ...
        self.app.backend.cancel_stale()  # ... and that load's running queries

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def _load(self) -> None:
        worker = get_current_worker()
        try:
            data = self.fetch()
            if isinstance(data, Iterator):  # a progressive fetch: paint each step as it comes
                for step in data:
                    if worker.is_cancelled:
                        return
                    self.app.call_from_thread(self._apply, step)
                return
        except Exception as exc:  # shown on screen, never a crash of the console
            if not worker.is_cancelled:
                self.app.call_from_thread(self.show_error, exc)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._apply, data)

    def running(self, group: str) -> bool:
        """Whether a worker of this screen in ``group`` is still under way."""
        return any(w.node is self and w.group == group and not w.is_finished for w in self.workers)

    def _apply(self, data: Any) -> None:
        if self.is_attached:
            self.show(data)
            self.app.first_data.set()

    def fetch(self) -> Any:  # runs in a thread
        return None

    def show(self, data: Any) -> None:  # main thread
        pass

    def show_error(self, exc: Exception) -> None:
        self.notify(f"{type(exc).__name__}: {exc}".splitlines()[0], severity="error", timeout=8)

    # -- roles -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        entry = action_for_method(self.SCOPE, action)
        if entry is None:
            return True
        allowed, _ = role_block(self.app, entry.role)
        return allowed

    def disabled_reason(self, action: str, parameters: tuple[object, ...]) -> str | None:
        """Why ``action`` is shown disabled here (``check_action`` is None), in one line."""
        entry = action_for_method(self.SCOPE, action)
        if entry is None:
            return None
        _, reason = role_block(self.app, entry.role)
        return f"{entry.description}: {reason}" if reason else None

    def on_key(self, event) -> None:
        """A key of this screen whose action is shown disabled says why (Textual would ignore it)."""
        from textual.actions import parse

        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            try:
                _, name, params = parse(binding.action)
            except Exception:  # noqa: BLE001 - not an action string of ours
                continue
            if self.check_action(name, params) is None:
                reason = self.disabled_reason(name, params) or f"{binding.description}: not available here"
                self.notify(reason, severity="warning", timeout=6)
                event.stop()
                return


class FilteredTableScreen(ConsoleScreen):
    """A screen around one DataTable that ``/`` filters through its FilterBar: the subclass
    keeps ``filter_text`` and repaints from it; enter or esc in the bar returns to the table."""

    filter_text = ""

    def action_filter(self) -> None:
        self.query_one(FilterBar).open(self.filter_text)

    def on_filter_bar_updated(self, event: FilterBar.Updated) -> None:
        self.filter_text = event.value
        self.repaint()
        self.repaint_status()  # the header names the active filter

    def on_filter_bar_done(self, event: FilterBar.Done) -> None:
        self.query_one(DataTable).focus()
