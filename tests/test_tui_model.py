"""The model screen on the ingested sample: every tab paints what the engine reports — drift
ranked with the drifted features first, performance against offline, flagged slices first,
ops, cost with the budget, versions with lineage and journal history."""

from __future__ import annotations

from tests.tui_helpers import CAROL, make_app, screen_text, settle


async def test_every_tab_of_a_model(ingested_sample) -> None:
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("credit-risk")
        await settle(app, pilot)
        screen = app.screen
        drift = screen.query_one("#panel-drift")
        feats = drift.data["report"]["features"]
        table = screen.query_one("#drift-features")
        ranked = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        drifted = [f["feature"] for f in feats if f["drifted"]]
        assert drifted and set(ranked[: len(drifted)]) == set(drifted)  # drifted first
        assert "✗ dataset drift" in screen_text(app)
        assert len(drift.data["trend"]["points"]) == 8  # one score per day, last 8 days
        assert "score over time" in screen_text(app)
        await pilot.press("down")  # another feature: its own plots
        await pilot.pause()
        assert f"{ranked[1]}: reference vs current" in screen_text(app)

        await pilot.press("2")
        await settle(app, pilot)
        text = screen_text(app)
        assert "roc_auc: live" in text and "vs offline" in text and "label coverage" in text

        await pilot.press("3")
        await settle(app, pilot)
        text = screen_text(app)
        assert "flagged first" in text
        slices = screen.query_one("#slices-table")
        first = slices.get_row_at(0)
        assert first[0].plain == "✗ flagged" and "[" in first[4]  # with a confidence interval

        await pilot.press("4")
        await settle(app, pilot)
        text = screen_text(app)
        assert "latency p50" in text and "requests and error rate" in text
        traffic = screen.query_one("#ops-traffic").render().plain
        assert "error % (right)" in traffic and "├" in traffic  # the error rate on a y axis of its own
        assert screen.query_one("#ops-traffic").region.right < screen.query_one("#ops-latency").region.x

        await pilot.press("5")
        await settle(app, pilot)
        assert "monthly budget $500" in screen_text(app)
        assert screen.query_one("#cost-versions").row_count == 3

        await pilot.press("6")
        await settle(app, pilot)
        text = screen_text(app)
        assert "● production" in text and "◐ candidate" in text and "model card" in text
        assert "lineage" in screen.query_one("#versions-lineage").render().plain  # below the card, scrolled to
        assert screen.query_one("#versions-history").row_count >= 1  # the promotion request

        await pilot.press("v")  # another version: the title says which
        await settle(app, pilot)
        assert "showing v1" in screen_text(app)


async def test_the_drift_tab_over_all_data_reads_fresh_profiles_and_says_so(sample_ws) -> None:
    """With fresh daily profiles the drift tab (all data) answers from them: the same drifted
    features and dataset verdict as the exact report on the sample, the last 8 days' trend and
    each feature's distribution plot, and the note line says where it came from."""
    from console.profiles import local
    from tests.test_profiles_reader import _open

    async def drift_tab() -> tuple[dict, list]:
        app = make_app(sample_ws, CAROL)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            app.open_model("credit-risk")
            await settle(app, pilot)
            data = app.screen.query_one("#panel-drift").data
            await pilot.press("down")
            await pilot.pause()
            return data, [screen_text(app)]

    exact, _ = await drift_tab()
    assert exact["report"]["source"] == "exact"
    db = _open(sample_ws)
    try:
        local.profile_store(db)
    finally:
        db.close()
    prof, texts = await drift_tab()
    report = prof["report"]
    assert report["source"] == "profiles"
    assert "from daily profiles" in texts[0] and "reference vs current" in texts[0]

    def states(rep: dict) -> dict:
        return {f["feature"]: (f["method"], f["drifted"]) for f in rep["features"]}

    assert states(report) == states(exact["report"])
    assert report["dataset_drift"]["drifted"] == exact["report"]["dataset_drift"]["drifted"]
    assert report["current"]["rows"] == exact["report"]["current"]["rows"]
    assert report["reference"]["rows"] == exact["report"]["reference"]["rows"]
    assert all(f["stats"]["histogram"]["labels"] for f in report["features"] if f["method"])
    assert len(prof["trend"]["points"]) == 8
    for p, e in zip(prof["trend"]["points"], exact["trend"]["points"], strict=True):
        assert p["start"] == e["start"]
        assert p.keys() == e.keys()
