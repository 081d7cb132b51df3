"""Audit: the journal with its verification state; a broken chain is a red banner, with a word
and a symbol, on every screen."""

from __future__ import annotations

import json

from tests.tui_helpers import CAROL, flat_text, make_app, screen_text, settle

BANNER = "✗ AUDIT CHAIN BROKEN"


def tamper(root) -> None:
    path = root / "journal.jsonl"
    lines = path.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["reason"] = "edited afterwards"
    lines[0] = json.dumps(entry, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")


async def test_audit_lists_the_journal_and_says_it_verifies(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await settle(app, pilot)
        text = screen_text(app)
        assert "✓ chain verified: 1 entries" in text
        assert "carol" in text and "request" in text
        assert BANNER not in text
        await pilot.press("slash", *"nothing-matches")
        await pilot.pause()
        assert app.screen.query_one("#audit-table").row_count == 0
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query_one("#audit-table").row_count == 1


async def test_broken_chain_is_a_banner_on_every_screen(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert BANNER not in screen_text(app)
        tamper(bare_sample)
        await pilot.press("ctrl+r")  # refresh now: re-verifies the journal
        await settle(app, pilot)
        assert BANNER in screen_text(app) and "entry 1" in screen_text(app)
        for keys in (("f2",), ("f3",), ("colon", *"credit-risk", "enter"), ("f5",), ("f4",)):
            await pilot.press(*keys)
            await settle(app, pilot)
            assert BANNER in screen_text(app), keys
        assert "✗ CHAIN BROKEN at entry 1" in flat_text(app)
        assert "✗ bad" in screen_text(app)


async def test_refresh_pauses_while_a_dialog_is_open(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")  # a dialog is open
        await pilot.pause()
        tamper(bare_sample)
        app._tick()  # a scheduled refresh while the dialog is up: skipped
        await settle(app, pilot)
        assert app.status.chain_ok is True
        await pilot.press("escape")
        await pilot.pause()
        app._tick()  # the next one after the dialog closed does the work
        await settle(app, pilot)
        assert app.status.chain_ok is False and BANNER in screen_text(app)
