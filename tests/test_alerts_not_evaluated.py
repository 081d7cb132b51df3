"""A rule ``check`` skipped (no traffic, no reference) is said as "? not evaluated" beside the
verdict, in the CLI's title and the Alerts screen's summary alike — never left out of an "ok"."""

from __future__ import annotations

from console.analytics.alerts import not_evaluated
from tests.tui_helpers import ALICE, flat_text, make_app, settle

SKIPPED = [{"model": f"m{i}", "kinds": ["drift", "performance"], "reason": "no traffic in the window"}
           for i in range(5)]


def test_the_words_for_skipped_rules() -> None:
    assert not_evaluated({"skipped": []}) == "" and not_evaluated({}) == ""
    one = not_evaluated({"skipped": SKIPPED[:1]})
    assert one == "? 1 rule set(s) not evaluated: m0 drift, performance (no traffic in the window)"
    five = not_evaluated({"skipped": SKIPPED})
    assert five.startswith("? 5 rule set(s) not evaluated: m0 ") and five.endswith(" · and 2 more") and "m3" not in five


async def test_the_alerts_screen_says_what_was_not_evaluated(ingested_sample) -> None:
    app = make_app(ingested_sample, ALICE)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        assert "not evaluated" not in flat_text(app)  # the sample: every rule ran
        app.screen.show({"ok": True, "alerts": [], "errors": [], "skipped": SKIPPED[:1]})
        await pilot.pause()
        text = flat_text(app)
        assert "✓ ok: nothing to report · ? 1 rule set(s) not evaluated: m0 drift, performance" in text, text
