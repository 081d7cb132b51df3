"""The live metric names itself and the labels behind it: ``performance_report``'s ``live`` (the
primary metric in the newest window that has it, its labelled rows, low confidence under
``[performance] min_labelled``), the same in ``performance --format json`` and its title, and
the fleet's cell and note at 80x24."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sklearn import metrics as skm

from console import analytics
from console.store.registry import Registry
from tests.analytics_support import T0, TableStore, load, predictions_table, version
from tests.test_analytics_cli import iso, js, registry, run, write_jsonl
from tests.tui_helpers import CAROL, make_app, screen_text, settle

from .conftest import write_workspace


def two_days(labelled_day2: int) -> tuple[TableStore, np.ndarray, np.ndarray]:
    """300 predictions a day for two days: every one labelled on day 1, ``labelled_day2`` on day 2."""
    rng = np.random.default_rng(7)
    n = 600
    ts = [T0 + dt.timedelta(seconds=int(i) * 288) for i in range(n)]  # 300 per UTC day
    score = rng.random(n)
    truth = (rng.random(n) < score).astype(int)
    label = [str(t) if i < 300 or i < 300 + labelled_day2 else None for i, t in enumerate(truth)]
    t = predictions_table(n, ts=ts, score=score, prediction=[str(int(s >= .5)) for s in score], label=label)
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", "binary")
    s = TableStore(reg, {"m": "1"})
    load(s, [t])
    return s, score, truth


def test_live_value_is_the_newest_windows_primary_metric_with_its_labels() -> None:
    s, score, truth = two_days(20)
    rep = analytics.performance_report(s, "m", window="1d")
    live = rep["live"]
    assert live["metric"] == "roc_auc" and live["labelled"] == 20
    assert abs(live["value"] - skm.roc_auc_score(truth[300:320], score[300:320])) < 1e-9
    assert live["start"] == "2026-11-02T00:00:00Z" and live["end"] == "2026-11-03T00:00:00Z"
    assert live["min_labelled"] == 100 and live["low_confidence"] is True  # 20 < the default 100

    s, _, _ = two_days(20)
    s.config = {"performance": {"min_labelled": 20}}  # console.toml's key: 20 are enough now
    live = analytics.performance_report(s, "m", window="1d")["live"]
    assert live["labelled"] == 20 and live["low_confidence"] is False

    s, score, truth = two_days(0)  # the newest window has no labels: the one before stands
    live = analytics.performance_report(s, "m", window="1d")["live"]
    assert live["labelled"] == 300 and live["low_confidence"] is False
    assert abs(live["value"] - skm.roc_auc_score(truth[:300], score[:300])) < 1e-9


def test_performance_command_names_the_live_metric_and_its_labels(tmp_path) -> None:
    ws = write_workspace(tmp_path / "ws")
    recs = [{"ts": iso(T0 + dt.timedelta(minutes=10 * i)), "model": "m", "version": "1",
             "request_id": f"q{i}", "prediction": i % 2, "score": (i % 10) / 10} for i in range(100)]
    write_jsonl(ws / "logs" / "m.jsonl", recs)
    write_jsonl(ws / "labels" / "m.jsonl", [{"request_id": f"q{i}", "label": i % 3 % 2} for i in range(30)])
    registry(ws, {"model": "m", "version": "1", "task": "binary", "stage": "production"})
    run(ws, "ingest")
    live = js(ws, "performance", "--model", "m")["live"]
    assert live["metric"] == "roc_auc" and live["labelled"] == 30 and live["low_confidence"] is True
    title = run(ws, "performance", "--model", "m").stdout.splitlines()[0]
    assert "live: roc_auc" in title and "on 30 labels ~ low confidence (< 100)" in title
    with (ws / "console.toml").open("a") as f:
        f.write("\n[performance]\nmin_labelled = 30\n")
    assert js(ws, "performance", "--model", "m")["live"]["low_confidence"] is False


async def test_fleet_at_80x24_names_the_metric_and_marks_few_labels(ingested_sample) -> None:
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        rows = {r.model: r for r in app.screen.rows}
        cr, eta = rows["credit-risk"], rows["delivery-eta"]
        perf = app.backend.report("performance_report", model="credit-risk", window="1d")
        assert cr.metric_labelled == perf["live"]["labelled"] < 100 and cr.metric_low
        assert eta.metric_labelled >= 100 and not eta.metric_low
        text = screen_text(app)
        assert all(len(line) <= 80 for line in text.splitlines())
        assert "live/offl. n" in text
        line = next(ln for ln in text.splitlines() if ln.startswith(" credit-risk"))
        assert f"~{cr.metric_value:.2f}/{cr.metric_offline:.2f} n={cr.metric_labelled}" in line  # a symbol, not colour alone
        assert "~" not in next(ln for ln in text.splitlines() if ln.startswith(" delivery-eta"))
        app.screen.query_one("DataTable").move_cursor(row=app.screen.visible_rows().index(cr))
        await settle(app, pilot)
        assert (f"credit-risk: live roc_auc {cr.metric_value:.2f} on {cr.metric_labelled} labels "
                "~ low confidence (< 100)") in screen_text(app)
