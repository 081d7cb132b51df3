"""Snapshot tests of the main screens at 80×24 and 120×40 on the ingested sample workspace,
with the clock frozen at the end of the sample's story (so every "ago", window and
sparkline is stable). Update after a deliberate change with ``pytest --snapshot-update``
and look at the SVGs under ``tests/__snapshots__/``."""

from __future__ import annotations

import pytest

from tests.tui_helpers import ALICE, make_app, settle

SIZES = [(80, 24), (120, 40)]


def runner(*keys: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
        app.screen.set_focus(None) if keys and keys[-1] == "f3" else None
        await pilot.pause()

    return run_before


SCREENS = {
    "fleet": (),
    "model": ("enter", "3"),  # slices
    "drift": ("enter", "1"),  # the ranked features, the first one's distribution and score over time
    "alerts": ("f2",),
    "signoff": ("f3", "enter"),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_main_screens(snap_compare, sample_ws, screen, size) -> None:
    app = make_app(sample_ws, ALICE)  # a private copy: no alert history other tests' checks left
    assert snap_compare(app, terminal_size=size, run_before=runner(*SCREENS[screen]))
