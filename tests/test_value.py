"""Value and ROI (``value``): a seeded binary model with per-class outcome values in console.toml,
a regression model valued from its registry entry, and a model with no value settings; every
figure checked against the same arithmetic done on the arrays written (numpy)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.conftest import write_workspace
from tests.test_analytics_cli import iso, js, registry, write_jsonl

T0 = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
N = 600
RATE = 0.4  # per_1k_predictions_usd


def _binary(seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, N)
    pred = np.where(rng.random(N) < 0.8, y, 1 - y)
    lab = rng.random(N) < 0.7
    return y, pred, lab


def _write(ws, model, version, task, y, pred, lab, value=None, training=None, offset=0):
    recs, labels = [], []
    for i in range(N):
        p = int(pred[i]) if task == "binary" else float(pred[i])
        recs.append({"ts": iso(T0 + dt.timedelta(minutes=10 * i + offset)), "model": model, "version": version,
                     "request_id": f"{model}{version}-{i}", "prediction": p, "latency_ms": 5.0,
                     "features": {"x": float(i % 7)}})
        if lab[i]:
            labels.append({"request_id": f"{model}{version}-{i}", "model": model,
                           "label": int(y[i]) if task == "binary" else float(y[i])})
    write_jsonl(ws / "logs" / f"{model}-{version}.jsonl", recs)
    write_jsonl(ws / "labels" / f"{model}-{version}.jsonl", labels)
    cost = {"per_1k_predictions_usd": RATE, **({"training_usd": training} if training is not None else {})}
    registry(ws, {"model": model, "version": version, "task": task, "stage": "production" if version == "1"
                  else "candidate", "created_at": iso(T0), **({"positive_label": 1} if task == "binary" else {}),
                  "features": {"x": "numeric"}, "metrics": {}, "cost": cost,
                  "lineage": {"data_hash": "h", "code_commit": "c"}, **({"value": value} if value else {})})


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = write_workspace(tmp_path_factory.mktemp("value") / "ws", extra_toml=(
        "\n[value]\ncorrect_usd = 2.0\nwrong_usd = 1.0\n"
        "[models.loan.value]\nwrong_usd_by_class = {\"1\" = 5.0}\n"))
    truth = {"loan1": _binary(1), "loan2": _binary(2)}
    _write(root, "loan", "1", "binary", *truth["loan1"], training=30.0)
    _write(root, "loan", "2", "binary", *truth["loan2"], training=None, offset=3)
    rng = np.random.default_rng(3)
    y = rng.normal(100, 10, N)
    pred = y + rng.normal(0, 4, N)
    lab = rng.random(N) < 0.5
    truth["price"] = (y, pred, lab)
    _write(root, "price", "1", "regression", y, pred, lab, training=12.0,
           value={"prediction_usd": 1.5, "usd_per_unit_error": 0.25})
    _write(root, "chat", "1", "binary", *_binary(4))  # valued by [value] alone
    (root / "registry" / "chat" / "1.json").write_text(
        (root / "registry" / "chat" / "1.json").read_text().replace('"value"', '"_"'))
    js(root, "ingest")
    return root, truth


def _row(rep, model, version):
    return next(r for r in rep["rows"] if r["model"] == model and r.get("version") == version)


def test_binary_value_net_and_roi_match_numpy(ws) -> None:
    root, truth = ws
    rep = js(root, "value", "--model", "loan")
    y, pred, lab = truth["loan1"]
    correct = (y == pred) & lab
    wrong = (y != pred) & lab
    # correct: 2.0 for either class; wrong: 5.0 when the model said 1 (its by-class cost), else 1.0
    value = 2.0 * correct.sum() - (5.0 * (wrong & (pred == 1)).sum() + 1.0 * (wrong & (pred == 0)).sum())
    r = _row(rep, "loan", "1")
    assert r["labelled"] == lab.sum() and r["correct"] == correct.sum()
    assert r["value_usd"] == pytest.approx(value)
    expected = value / lab.sum() * N
    assert r["expected_value_usd"] == pytest.approx(expected)
    serving = N * RATE / 1000
    assert r["serving_usd"] == pytest.approx(serving)
    assert r["training_usd_amortised"] == pytest.approx(30.0)  # the whole store: every prediction
    cost = serving + 30.0
    assert r["cost_usd"] == pytest.approx(cost)
    assert r["net_usd"] == pytest.approx(expected - cost)
    assert r["roi"] == pytest.approx((expected - cost) / cost)
    assert r["usd_per_correct"] == pytest.approx(cost / (correct.sum() / lab.sum() * N))
    assert rep["training_unknown"] == [{"model": "loan", "version": "2"}]


def test_amortised_training_follows_the_share_of_predictions(ws) -> None:
    root, truth = ws
    half = iso(T0 + dt.timedelta(minutes=10 * (N // 2)))
    rep = js(root, "value", "--model", "loan", "--version", "1", "--by", "day", "--end", half)
    shares = [r["training_usd_amortised"] for r in rep["rows"]]
    n = sum(r["predictions"] for r in rep["rows"])
    assert n == N // 2
    assert sum(shares) == pytest.approx(30.0 * n / N)


def test_regression_value_from_the_registry(ws) -> None:
    root, truth = ws
    y, pred, lab = truth["price"]
    r = _row(js(root, "value", "--model", "price"), "price", "1")
    value = 1.5 * lab.sum() - 0.25 * np.abs(y - pred)[lab].sum()
    assert r["value_usd"] == pytest.approx(value, rel=1e-9)
    assert r["correct"] is None and r["usd_per_correct"] is None
    assert r["expected_value_usd"] == pytest.approx(value / lab.sum() * N, rel=1e-9)


def test_workspace_settings_alone_and_missing_settings_say_why(ws, tmp_path) -> None:
    root, truth = ws
    r = _row(js(root, "value", "--model", "chat"), "chat", "1")
    y, pred, lab = _binary(4)
    assert r["value_usd"] == pytest.approx(2.0 * ((y == pred) & lab).sum() - 1.0 * ((y != pred) & lab).sum())

    bare = write_workspace(tmp_path / "bare")
    _write(bare, "loan", "1", "binary", *truth["loan1"], training=30.0)
    js(bare, "ingest")
    rep = js(bare, "value")
    r = _row(rep, "loan", "1")
    assert r["value_usd"] is None and r["net_usd"] is None and r["roi"] is None  # never 0 for unknown
    assert r["cost_usd"] == pytest.approx(N * RATE / 1000 + 30.0)
    assert rep["not_valued"] == [{"model": "loan", "version": "1",
                                  "reason": "no value settings ([value] in console.toml or 'value' in the registry)"}]


def test_bad_value_settings_are_one_line_errors(tmp_path) -> None:
    from tests.test_analytics_cli import run

    root = write_workspace(tmp_path / "ws", extra_toml="\n[value]\ncorrect_usd = \"lots\"\n")
    out = run(root, "value", expect=2)
    assert out.stderr.strip().count("\n") == 0 and "correct_usd must be a number" in out.stderr
    root = write_workspace(tmp_path / "ws2", extra_toml="\n[value]\nwrong_usd_by_class = {a = \"x\"}\n")
    _write(root, "loan", "1", "binary", *_binary(1))
    out = run(root, "value", expect=2)
    assert out.stderr.strip().count("\n") == 0 and "wrong_usd_by_class must be a table of numbers" in out.stderr


def test_champion_vs_challenger_shows_the_net_value_difference(ws) -> None:
    """The sign-off comparison (the TUI's champion-vs-challenger table) reads the same report."""
    from console.tui.backend import Backend
    from console.workspace import load_dir
    from tests.tui_helpers import CAROL

    root, _ = ws
    rep = js(root, "value", "--model", "loan")
    nets = {r["version"]: r["net_usd"] / r["predictions"] * 1000 for r in rep["rows"]}
    be = Backend(load_dir(root), CAROL, live=False)
    be.open()
    try:
        rows = {label: (a, b) for label, a, b in be.compare_versions("loan", "1", "2")["rows"]}
    finally:
        be.close()
    from console.tui import format as fmt

    def money(x: float) -> str:
        return ("-" if x < 0 else "") + fmt.usd(abs(x))

    assert rows["net value (expected)"] == (f"{money(nets['1'])} per 1k", f"{money(nets['2'])} per 1k")
    diff = nets["2"] - nets["1"]
    word = "▲ challenger better" if diff > 0 else "▼ champion better"
    assert rows["net value, challenger − champion"][1] == f"{'-' if diff < 0 else '+'}{fmt.usd(abs(diff))} per 1k ({word})"


@pytest.mark.parametrize("by", ["version", "day", "model"])
def test_cost_carries_value_and_roi_per_group(ws, by) -> None:
    """``cost`` keeps its own keys and adds each group's figures of ``value`` (same grouping,
    same range): serving + amortised training, expected value, net, ROI, cost per correct."""
    root, truth = ws
    end = iso(T0 + dt.timedelta(days=5))  # every prediction (600 at 10 min: 100 h)
    cost = js(root, "cost", "--model", "loan", "--by", by, "--end", end)
    value = js(root, "value", "--model", "loan", "--by", by, "--end", end)
    assert cost["rows"] and len(cost["rows"]) == len(value["rows"])
    for c, v in zip(cost["rows"], value["rows"], strict=True):
        assert (c["model"], c.get("version"), c.get("day")) == (v["model"], v.get("version"), v.get("day"))
        assert {"predictions", "serving_usd", "training_usd", "total_usd", "usd_per_1k", "usd_per_correct",
                "unpriced"} <= set(c)  # docs/formats.md's keys, unchanged
        keys = ("expected_value_usd", "training_usd_amortised", "cost_usd", "net_usd", "roi", "usd_per_correct")
        # the same report, twice: DuckDB's parallel sums of doubles may move the last bit between runs
        assert set(c["value"]) == set(keys)
        assert c["value"] == {k: pytest.approx(v[k], rel=1e-12, abs=1e-15) if v[k] is not None else None
                              for k in keys}
        assert c["serving_usd"] == pytest.approx(v["serving_usd"])
    assert cost["value"] == {"not_valued": value["not_valued"], "training_unknown": value["training_unknown"]}
    if by == "version":  # v1: every prediction in range, its whole training; ROI by hand (numpy)
        y, pred, lab = truth["loan1"]
        correct, wrong = (y == pred) & lab, (y != pred) & lab
        worth = 2.0 * correct.sum() - (5.0 * (wrong & (pred == 1)).sum() + 1.0 * (wrong & (pred == 0)).sum())
        expected = worth / lab.sum() * N
        spent = N * RATE / 1000 + 30.0
        got = cost["rows"][0]["value"]
        assert got["net_usd"] == pytest.approx(expected - spent)
        assert got["roi"] == pytest.approx((expected - spent) / spent)
        assert got["usd_per_correct"] == pytest.approx(spent / (correct.sum() / lab.sum() * N))


def test_cost_without_value_settings_is_unchanged(ws, tmp_path) -> None:
    root, truth = ws
    bare = write_workspace(tmp_path / "bare")
    _write(bare, "loan", "1", "binary", *truth["loan1"], training=30.0)
    js(bare, "ingest")
    rep = js(bare, "cost", "--by", "version")
    assert "value" not in rep and all("value" not in r for r in rep["rows"])
