"""The ``/`` filter line: an input at the bottom of a screen; typing narrows the list, enter
keeps the filter (the header keeps naming it), esc clears and closes it.

The bar is one line: Textual's own ``Input:focus`` rule (a tall border) is more specific than
a plain type selector, so the borderless style names ``:focus`` too — else the focused bar is
all border and what is typed cannot be seen. It is not docked: a widget docked at the bottom
sits under the footer (docked widgets on one edge overlap), so the bar takes its place in the
screen's flow — the last line above the footer."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar, FilterBar:focus { display: none; height: 1; border: none; padding: 0 1; }
    FilterBar.-open, FilterBar.-open:focus { display: block; }
    """
    BINDINGS = [Binding("escape", "clear_close", "Clear filter", show=False)]

    class Updated(Message):
        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    class Done(Message):
        pass

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="filter… (enter keeps, esc clears)", **kwargs)

    def open(self, current: str = "") -> None:
        self.value = current
        self.add_class("-open")
        self.focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Updated(event.value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.value:
            self.remove_class("-open")
        self.post_message(self.Done())

    def action_clear_close(self) -> None:
        self.value = ""
        self.remove_class("-open")
        self.post_message(self.Updated(""))
        self.post_message(self.Done())
