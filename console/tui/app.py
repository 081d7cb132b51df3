"""The Textual application: owns the workspace, the identity (the OS account's roles, or one
injected by tests), the clock, the theme and keymap, the header status, and the refresh loop.

The loop (as in dolphie): a thread worker refreshes the store and collects the header status,
the main thread repaints, then ``set_timer`` schedules the next run — refreshes never overlap,
and they pause while a dialog is open. SIGHUP (the SSH connection dropped) exits cleanly.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterable
from datetime import datetime

from rich.terminal_theme import TerminalTheme
from textual import events, work
from textual.app import App, SystemCommand
from textual.filter import LineFilter, Monochrome
from textual.screen import ModalScreen, Screen
from textual.worker import get_current_worker

from console import clock
from console.identity import Identity
from console.tui import hangup
from console.tui.actions import bindings_for
from console.tui.backend import Backend
from console.tui.contrast import ReadableMonochrome, ansi_palette
from console.tui.gcpolicy import QuietGC
from console.tui.keymap import load_keymap
from console.tui.status import Status
from console.tui.themes import BUNDLED_DIR, load_themes, resolve_name
from console.tui.window import custom_window, make_window
from console.workspace import Workspace

VIEWS = ("fleet", "alerts", "approvals", "audit", "query", "report")


class ConsoleApp(App):
    """mlops-console."""

    TITLE = "mlops-console"
    CSS_PATH = "console.tcss"
    BINDINGS = bindings_for("app")
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, workspace: Workspace, read_only: bool = False,
                 identity: Identity | None = None, *,
                 live: bool = True, refresh_interval: float = 5.0, theme: str | None = None):
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # no animations unless asked: over SSH each frame of a sliding tab underline is
            # bytes on the wire and a repaint of the screen, while the user waits for the tab
            self.animation_level = "none"
        self.workspace = workspace
        self.read_only = read_only
        self.identity = identity or workspace.identity()
        self.refresh_interval = refresh_interval
        self.status = Status()
        self.picked = "all"  # the span last picked with `w` (a custom range's esc returns to it)
        self.window = make_window(self.picked, self.now())
        self.backend: Backend | None = None
        self.preview: Backend | None = None  # registry and stages only, for the first paint
        try:  # files only (milliseconds): the fleet paints its rows before the store opens
            preview = Backend(workspace, self.identity, live=False)
            preview.load_state()
            self.preview = preview
        except Exception:  # the store-opening worker reports any problem
            self.preview = None
        self._live = live
        self.first_data = threading.Event()  # set by the first screen that paints its data
        self._hung_up = False
        self.quiet_gc = QuietGC()
        self._told: set[str] = set()
        ui = workspace.section("ui")
        self._problems: list[str] = []
        themes, problems = load_themes(BUNDLED_DIR, workspace.root / "themes")
        self._problems += problems
        for t in themes:
            self.register_theme(t)
        self.console_themes = [t.name for t in themes]
        wanted = theme or (ui.get("theme") if isinstance(ui.get("theme"), str) else None) or "dark"
        name = resolve_name(wanted, list(self.available_themes))
        if name is None:
            self._problems.append(f"unknown theme {wanted!r}; using dark")
            name = resolve_name("dark", list(self.available_themes)) or "textual-dark"
        self.theme = name
        keymap, problems = load_keymap(ui, workspace.root)
        self._problems += problems
        self.user_keymap = keymap
        if keymap:
            self.set_keymap(keymap)

    # -- colour ----------------------------------------------------------------------------
    @property
    def ansi_theme(self) -> TerminalTheme:
        """The palette ANSI colour names map to: Textual's, with red, green and yellow taken
        from the console theme (``console.tui.contrast``) so each state reads on its background."""
        theme, base = self.current_theme, super().ansi_theme
        key = (theme.name, id(base))  # asked on every render: built once per theme
        palettes = self.__dict__.setdefault("_palettes", {})
        if key not in palettes:
            palettes[key] = ansi_palette(theme, base)
        return palettes[key]

    _readable_grey = ReadableMonochrome()

    def get_line_filters(self) -> list[LineFilter]:
        """Textual's filters, with ``NO_COLOR``'s monochrome replaced by one that keeps every
        word readable (``console.tui.contrast``)."""
        return [self._readable_grey if isinstance(f, Monochrome) else f for f in super().get_line_filters()]

    # -- time ------------------------------------------------------------------------------
    def now(self) -> datetime:
        return clock.now()

    # -- screens ---------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        from console.tui.screens.fleet import FleetScreen

        return FleetScreen()

    def breadcrumb(self) -> list[str]:
        return [s.crumb for s in self.screen_stack if getattr(s, "crumb", None)]

    def make_view(self, name: str) -> Screen:
        from console.tui.screens.alerts import AlertsScreen
        from console.tui.screens.approvals import ApprovalsScreen
        from console.tui.screens.audit import AuditScreen
        from console.tui.screens.fleet_report import FleetReportScreen
        from console.tui.screens.query import QueryScreen

        return {"alerts": AlertsScreen, "approvals": ApprovalsScreen, "audit": AuditScreen,
                "query": QueryScreen, "report": FleetReportScreen}[name]()

    def action_goto(self, name: str) -> None:
        """Show a view (k9s style): back to the fleet, then the view on top of it."""
        if isinstance(self.screen, ModalScreen):
            return
        if getattr(self.screen, "VIEW", None) == name:
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if name != "fleet":
            self.push_screen(self.make_view(name))

    def open_model(self, model: str, tab: str | None = None) -> None:
        from console.tui.screens.model import ModelScreen

        if model not in self.backend.registry.models() if self.backend else True:
            self.notify(f"no model named {model!r}", severity="warning")
            return
        self.push_screen(ModelScreen(model, tab=tab))

    def action_back(self) -> None:
        if isinstance(self.screen, ModalScreen):
            self.screen.dismiss(None)
        elif len(self.screen_stack) > 1:
            self.pop_screen()

    def action_help(self) -> None:
        from console.tui.screens.help import HelpScreen

        if not isinstance(self.screen, ModalScreen):
            self.push_screen(HelpScreen(getattr(self.screen, "SCOPE", None)))

    def action_jump(self) -> None:
        from console.tui.screens.jump import JumpScreen
        from console.tui.screens.model import TABS

        if isinstance(self.screen, ModalScreen):
            return
        models = self.backend.registry.models() if self.backend else []
        self.push_screen(JumpScreen(list(VIEWS), models, list(TABS)), self._jump_to)

    def _jump_to(self, target: str | None) -> None:
        """Go to what ``:`` resolved: a view, a tab (of the model on screen, else of the
        model highlighted in the fleet), a model, or ``model/tab``."""
        from console.tui.screens.model import TABS, ModelScreen

        if not target:
            return
        if target.startswith("explain:"):
            from console.tui.screens.explain import ExplainScreen

            self.push_screen(ExplainScreen(*target.removeprefix("explain:").split("\t")))
            return
        if target in VIEWS:
            self.action_goto(target)
            return
        model, _, tab = target.rpartition("/") if "/" in target else ("", "", target)
        if not model and tab not in TABS:
            model, tab = tab, ""
        if isinstance(self.screen, ModelScreen) and model in ("", self.screen.model):
            if tab:
                self.screen.show_tab(tab)
            return
        if not model:
            fleet = self.screen_stack[0] if self.screen_stack else None
            model = fleet.selected_model() if hasattr(fleet, "selected_model") else None
            if model is None:
                self.notify(f"no model to show {tab} of: open one first", severity="warning")
                return
        self.open_model(model, tab=tab or None)

    def action_pick_window(self) -> None:
        from console.tui.screens.window_picker import WindowPicker

        if not isinstance(self.screen, ModalScreen):
            self.push_screen(WindowPicker(self.window.choice.key), self.set_window)

    def action_pick_range(self) -> None:
        from console.tui.screens.range_dialog import RangeDialog

        if not isinstance(self.screen, ModalScreen):
            w = self.window
            self.push_screen(RangeDialog(w.start, w.end) if w.custom else RangeDialog(), self.set_range)

    def set_range(self, bounds: tuple | None) -> None:
        """A custom ``(start, end)`` from the range dialog; ``None`` (esc): the default window,
        the span last picked with ``w`` ending at the newest data."""
        self.apply_window(custom_window(*bounds) if bounds is not None else make_window(self.picked, self.now()))

    def set_window(self, key: str | None) -> None:
        if key is None:
            return
        self.picked = key
        self.apply_window(make_window(key, self.now()))

    def apply_window(self, window) -> None:
        """Every screen's reports now cover ``window`` (the visible screen reloads, the others
        when shown again)."""
        if window.key == self.window.key:
            return
        self.window = window
        for s in self.screen_stack:
            if hasattr(s, "reload"):
                s.reload() if s is self.screen else setattr(s, "stale", True)
        self.screen.repaint_status() if hasattr(self.screen, "repaint_status") else None

    def action_next_theme(self) -> None:
        names = self.console_themes or [self.theme]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"theme: {self.theme}")

    def action_quit_console(self) -> None:
        self.exit(0)

    def action_refresh_now(self) -> None:
        self._tick(force=True)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from console.tui.palette import system_commands

        yield from system_commands(self, screen)
        yield from super().get_system_commands(screen)

    # -- life cycle ------------------------------------------------------------------------
    def on_mount(self) -> None:
        for p in self._problems:
            self.notify(p, severity="warning", timeout=10)
        try:
            import asyncio

            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hangup)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        self.quiet_gc.start()  # full collections when the user is idle (console.tui.gcpolicy)
        self.set_interval(1.0, self.quiet_gc.tick)
        self._tty_fd = _terminal_fd() if not self.is_headless else None
        if self._tty_fd is not None:
            self.set_interval(2.0, self._check_terminal)
        self._open_backend()

    def _check_terminal(self) -> None:
        """A hung-up terminal (the SSH connection dropped but no SIGHUP reached us, say under
        ``nohup`` or a shell that ignores it) stops being a tty: leave as on SIGHUP."""
        if self._tty_fd is not None and not os.isatty(self._tty_fd):
            self._hangup()

    def _hangup(self) -> None:
        """The terminal went away (SSH dropped): stop the ingester and leave, quietly — within
        ``hangup.GRACE`` seconds, whatever is still running (``console.tui.hangup``)."""
        if self._hung_up:
            return
        self._hung_up = True
        hangup.arm(129)
        self.exit(return_code=129)

    @work(thread=True, exclusive=True, exit_on_error=False, group="open")
    def _open_backend(self) -> None:
        backend = Backend(self.workspace, self.identity, live=self._live)
        try:
            backend.open()
            backend.refresh()
            opened = True
        except Exception as exc:
            backend.load_state()
            status = Status(ingest_state="error", problems=[f"{type(exc).__name__}: {exc}"])
            opened = False
        if opened:  # the screens start loading now; the header's status follows their first
            self.call_from_thread(self._backend_ready, backend, None)  # data paint (≤ 1 s later)
            self.first_data.wait(timeout=1.0)
            try:
                status = backend.status()
            except Exception as exc:
                status = Status(ingest_state="error", problems=[str(exc)])
            if backend.ingest_problem:
                status.problems.append(backend.ingest_problem)
            self.call_from_thread(self._set_status, status)
            self.call_from_thread(self._schedule)
        else:
            self.call_from_thread(self._backend_ready, backend, status)
            self.call_from_thread(self._schedule)

    def _backend_ready(self, backend: Backend, status: Status | None) -> None:
        self.backend = backend
        self.quiet_gc.freeze()  # the store, registry and state are in: long-lived
        if status is not None:
            self._set_status(status)
        for s in self.screen_stack:
            if hasattr(s, "reload"):
                s.reload()

    def _schedule(self) -> None:
        if self.refresh_interval > 0 and not self._exit_renderables and self.is_running:
            self.set_timer(self.refresh_interval, self._tick)

    @work(thread=True, exclusive=True, exit_on_error=False, group="tick")
    def _tick(self, force: bool = False) -> None:
        worker = get_current_worker()
        if self.backend is None:
            return
        if isinstance(self.screen, ModalScreen) and not force:  # paused under a dialog
            self.call_from_thread(self._schedule)
            return
        try:
            changed = self.backend.refresh()
            status = self.backend.status()
        except Exception as exc:
            changed, status = False, Status(ingest_state="error", problems=[str(exc)])
        if not worker.is_cancelled:
            self.call_from_thread(self._after_tick, changed or force, status, force)

    def _after_tick(self, changed: bool, status: Status, force: bool) -> None:
        self._set_status(status)
        if changed and hasattr(self.screen, "reload") and not isinstance(self.screen, ModalScreen):
            getattr(self.screen, "data_changed", self.screen.reload)()
        for s in self.screen_stack[:-1]:
            if changed:
                s.stale = True
        if not force:
            self._schedule()

    def _set_status(self, status: Status) -> None:
        self.status = status
        for p in status.problems:
            if p not in self._told:  # each problem once, not on every refresh
                self._told.add(p)
                self.notify(p, severity="error", timeout=10)
        if hasattr(self.screen, "repaint_status"):
            self.screen.repaint_status()

    def on_unmount(self) -> None:
        if self.backend is not None:
            self.backend.close()
        self.quiet_gc.stop()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):
            self.quiet_gc.touched()
        await super().on_event(event)



def _terminal_fd() -> int | None:
    """The fd of the terminal we draw on, when it is one."""
    for stream in (sys.__stdin__, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None and os.isatty(stream.fileno()):
                return stream.fileno()
        except (OSError, ValueError):
            continue
    return None
