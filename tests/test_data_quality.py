"""Data quality (console/analytics/data_quality.py): the ``quality`` report's numbers against
plain numpy / statistics on the same seeded arrays (missing share, unseen-category share,
out-of-range share, volume ratio against the trailing days' median, quarantine rate and its
attribution through source files, a file with rows of two models skipped with its reason);
``check`` firing each of ``missing``, ``new_category``, ``range``, ``volume``, ``no_data`` and
``quarantine`` on a workspace built to trigger it and none of them on a clean one; the
``[alerts]`` keys; and the TUI's quality tab showing the numbers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_workspace
from tests.test_analytics_cli import iso, js, registry, write_jsonl
from tests.tui_helpers import CAROL, flat_text, make_app, settle

T0 = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
DAYS = 10
PER_DAY = 200
REF_N = 500
CATS = ["a", "b", "c"]
DAY = dt.timedelta(days=1)


def _reference(ws: Path, model: str, rng) -> dict:
    x = np.concatenate([[0.0, 100.0], rng.uniform(0, 100, REF_N - 2)])  # the range is exactly [0, 100]
    c = rng.choice(CATS, REF_N)
    m = rng.normal(5, 1, REF_N)
    m_missing = rng.random(REF_N) < 0.02
    write_jsonl(ws / "reference" / f"{model}.jsonl", [
        {"ts": iso(T0 - 30 * DAY), "model": model, "version": "1", "request_id": f"ref{i}", "prediction": 1,
         "score": 0.7, "features": {"x": float(x[i]), "c": str(c[i]), "m": None if m_missing[i] else float(m[i])}}
        for i in range(REF_N)])
    registry(ws, {"model": model, "version": "1", "task": "binary", "stage": "production", "positive_label": 1,
                  "threshold": 0.5, "features": {"x": "numeric", "c": "categorical", "m": "numeric"},
                  "reference": f"reference/{model}.jsonl", "metrics": {}})
    return {"x": x, "c": c, "m": np.where(m_missing, np.nan, m)}


def _traffic(model: str, rng, per_day: list[int], dirty: bool, offset_s: int = 0) -> tuple[list[dict], dict]:
    """Rows of ``model``: ``per_day[d]`` evenly spaced on day ``d``; ``dirty``: 20% of ``m``
    missing, 5% of ``c`` an unseen ``z``/``y``, 4% of ``x`` beyond the reference's max."""
    recs, ts, xs, cs, ms = [], [], [], [], []
    for d, n in enumerate(per_day):
        for i in range(n):
            t = T0 + d * DAY + dt.timedelta(seconds=offset_s + i * (86000 // max(n, 1)))
            x = float(rng.uniform(1, 99))
            c = str(rng.choice(CATS))
            m: float | None = float(rng.normal(5, 1))
            if dirty:
                u = rng.random()
                if u < 0.04:
                    x = float(rng.uniform(100.5, 150))
                if rng.random() < 0.05:
                    c = str(rng.choice(["z", "y"], p=[0.7, 0.3]))
                if rng.random() < 0.20:
                    m = None
            recs.append({"ts": iso(t), "model": model, "version": "1", "request_id": f"{model}-{d}-{i}",
                         "prediction": 1, "score": 0.7, "latency_ms": 5.0,
                         "features": {"x": x, "c": c, "m": m}})
            ts.append(t)
            xs.append(x)
            cs.append(c)
            ms.append(np.nan if m is None else m)
    return recs, {"ts": ts, "x": np.array(xs), "c": np.array(cs), "m": np.array(ms)}


def _write_log(ws: Path, name: str, recs: list[dict], bad: int = 0) -> None:
    """``recs`` as JSON lines, with ``bad`` lines that are cut JSON (quarantined) spread in."""
    path = ws / "logs" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in recs]
    step = max(1, len(lines) // max(bad, 1))
    for k in range(bad):
        lines.insert(k * (step + 1), '{"ts": "2026-11-1')
    path.write_text("\n".join(lines) + "\n")



@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> tuple[Path, dict]:
    """Models built to trip each rule: ``dirty`` (missing, new categories, out of range, a
    spike on its last day, 5% of its log quarantined), ``dropper`` (a drop), ``silent`` (no
    row in the last two days), ``pair_a``/``pair_b`` (one shared log with quarantined lines)."""
    ws = write_workspace(tmp_path_factory.mktemp("dq") / "ws")
    rng = np.random.default_rng(11)
    truth: dict = {}
    for model, per_day, is_dirty, bad in (
        ("dirty", [PER_DAY] * (DAYS - 1) + [3 * PER_DAY], True, 100),
        ("dropper", [PER_DAY] * (DAYS - 1) + [PER_DAY // 4], False, 0),
        ("silent", [PER_DAY] * (DAYS - 2) + [0, 0], False, 0),
    ):
        ref = _reference(ws, model, rng)
        recs, live = _traffic(model, rng, per_day, is_dirty)
        _write_log(ws, model, recs, bad)
        truth[model] = {"ref": ref, "live": live, "bad": bad, "rows": len(recs)}
    pair = []
    for k, model in enumerate(("pair_a", "pair_b")):
        ref = _reference(ws, model, rng)
        recs, live = _traffic(model, rng, [PER_DAY] * DAYS, False, offset_s=k)
        pair += recs
        truth[model] = {"ref": ref, "live": live, "rows": len(recs)}
    pair.sort(key=lambda r: r["ts"])
    _write_log(ws, "pair", pair, 100)
    js(ws, "ingest")
    truth["newest"] = max(t for m in ("dirty", "dropper", "silent", "pair_a", "pair_b")
                          for t in truth[m]["live"]["ts"])
    return ws, truth


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    # drift is not what this workspace is about (a chance p < 0.05 among its tests would fire it)
    ws = write_workspace(tmp_path_factory.mktemp("dqclean") / "ws", extra_toml="\n[alerts]\ndrift = false\n")
    rng = np.random.default_rng(12)
    for model in ("steady", "calm"):
        _reference(ws, model, rng)
        recs, _ = _traffic(model, rng, [PER_DAY] * DAYS, False)
        _write_log(ws, model, recs)
    js(ws, "ingest")
    return ws


# -- independent reference computations (numpy / statistics on the arrays written) -------------


def _missing(a: np.ndarray) -> float:
    return float(np.mean(~np.isfinite(a.astype(float))))


def _expected_features(ref: dict, live: dict, start, end) -> dict:
    keep = np.array([start <= t < end for t in live["ts"]])
    x, c, m = live["x"][keep], live["c"][keep], live["m"][keep]
    lo, hi = ref["x"].min(), ref["x"].max()
    seen = set(ref["c"].tolist())
    unseen = np.array([v not in seen for v in c])
    return {
        "rows": int(keep.sum()),
        "x_out": float(np.mean((x < lo) | (x > hi))), "x_min": float(lo), "x_max": float(hi),
        "c_unseen": float(np.mean(unseen)),
        "c_top": sorted(((v, int(np.sum(c == v))) for v in set(c[unseen].tolist())), key=lambda p: (-p[1], p[0])),
        "m_missing_cur": _missing(m), "m_missing_ref": _missing(ref["m"]),
    }


def _expected_volume(ts: list[dt.datetime], newest: dt.datetime, lookback_days: int = 28) -> dict:
    end = newest + dt.timedelta(microseconds=1)
    first = min(ts)
    counts = []
    for k in range(lookback_days, -1, -1):  # oldest first; k = 0 is the current window
        lo, hi = end - (k + 1) * DAY, end - k * DAY
        counts.append((lo, sum(1 for t in ts if lo <= t < hi)))
    current = counts[-1][1]
    baseline = [c for lo, c in counts[:-1] if lo >= first]
    median = float(np.median(baseline)) if baseline else None
    return {"rows": current, "median": median, "windows": len(baseline),
            "ratio": current / median if median else None}


def _by(rep: dict) -> dict:
    return {e["feature"]: e for e in rep["features"]}


def test_feature_shares_match_numpy(dirty) -> None:
    ws, truth = dirty
    rep = js(ws, "quality", "--model", "dirty")
    t = truth["dirty"]
    start, end = dt.datetime.fromisoformat(rep["start"]), dt.datetime.fromisoformat(rep["end"])
    exp = _expected_features(t["ref"], t["live"], start, end)
    assert rep["version"] == "1" and rep["current"]["rows"] == exp["rows"] == t["rows"]
    assert rep["reference"]["rows"] == REF_N and rep["bounds"] == "reference"
    f = _by(rep)
    assert f["x"]["reference_min"] == exp["x_min"] and f["x"]["reference_max"] == exp["x_max"]
    assert f["x"]["out_of_range_share"] == pytest.approx(exp["x_out"], rel=1e-12)
    assert 0.02 < exp["x_out"] < 0.06
    assert f["c"]["unseen_share"] == pytest.approx(exp["c_unseen"], rel=1e-12)
    assert [(u["value"], u["count"]) for u in f["c"]["unseen_values"]] == exp["c_top"]
    assert f["m"]["current_missing_share"] == pytest.approx(exp["m_missing_cur"], rel=1e-12)
    assert f["m"]["reference_missing_share"] == pytest.approx(exp["m_missing_ref"], rel=1e-12)
    assert f["m"]["missing_rise"] == pytest.approx(exp["m_missing_cur"] - exp["m_missing_ref"], rel=1e-9)
    assert set(f["x"]["flags"]) == {"range"} and set(f["c"]["flags"]) == {"new_category"}
    assert set(f["m"]["flags"]) == {"missing"}
    # a sub-range: the same numbers over the rows of that range only
    part = js(ws, "quality", "--model", "dirty", "--start", "2026-11-12", "--end", "2026-11-14T12:00:00Z")
    exp = _expected_features(t["ref"], t["live"], dt.datetime(2026, 11, 12, tzinfo=dt.UTC),
                             dt.datetime(2026, 11, 14, 12, tzinfo=dt.UTC))
    assert part["current"]["rows"] == exp["rows"] == 2 * PER_DAY + PER_DAY // 2 + 1
    assert _by(part)["x"]["out_of_range_share"] == pytest.approx(exp["x_out"], rel=1e-12)
    assert _by(part)["c"]["unseen_share"] == pytest.approx(exp["c_unseen"], rel=1e-12)


def test_volume_against_the_trailing_median(dirty) -> None:
    ws, truth = dirty
    for model, status in (("dirty", "spike"), ("dropper", "drop"), ("pair_a", "ok")):
        vol = js(ws, "quality", "--model", model)["volume"]
        exp = _expected_volume(truth[model]["live"]["ts"], truth["newest"])
        assert vol["rows"] == exp["rows"] and vol["baseline"]["windows"] == exp["windows"] >= 3, (model, vol, exp)
        assert vol["baseline"]["median"] == exp["median"]
        assert vol["ratio"] == pytest.approx(exp["ratio"], rel=1e-12)
        assert vol["status"] == status, (model, vol)
        assert vol["end"] == iso(truth["newest"] + dt.timedelta(microseconds=1))
    silent = js(ws, "quality", "--model", "silent")["volume"]
    assert silent["status"] == "no_data" and silent["rows"] == 0
    assert silent["last_record"] == iso(max(truth["silent"]["live"]["ts"]))


def test_quarantine_rate_and_attribution(dirty) -> None:
    ws, truth = dirty
    q = js(ws, "quality", "--model", "dirty")["quarantine"]
    n, bad = truth["dirty"]["rows"], truth["dirty"]["bad"]
    assert [f["source"].endswith("dirty.jsonl") for f in q["files"]] == [True]
    assert q["quarantined"] == bad and q["rows"] == n and q["unattributed"] == 0
    assert q["rate"] == pytest.approx(bad / (n + bad), rel=1e-12) and q["rate"] == q["rate_max"]
    assert q["status"] == "high"
    clean = js(ws, "quality", "--model", "dropper")["quarantine"]
    assert clean["status"] == "ok" and clean["rate"] == 0.0
    # one file with the rows of two models: skipped, with the reason; the rate is bounded
    shared = js(ws, "quality", "--model", "pair_a")["quarantine"]
    [f] = shared["files"]
    assert f["source"].endswith("pair.jsonl") and f["attributed"] is False and f["quarantined"] == 100
    assert f["models"] == ["pair_a", "pair_b"] and "2 models (pair_a, pair_b)" in f["reason"]
    na = truth["pair_a"]["rows"]
    assert shared["rate"] == 0.0 and shared["rate_max"] == pytest.approx(100 / (na + 100), rel=1e-12)
    assert shared["status"] == "not_evaluated" and "cannot be attributed" in shared["reason"]


def test_check_fires_each_data_quality_kind(dirty) -> None:
    ws, truth = dirty
    rep = js(ws, "check", expect=1)
    got = {(a["model"], a["kind"]): a for a in rep["alerts"]}
    for key in (("dirty", "missing"), ("dirty", "new_category"), ("dirty", "range"), ("dirty", "volume"),
                ("dirty", "quarantine"), ("dropper", "volume"), ("silent", "no_data")):
        assert key in got, (key, sorted(got))
    assert got[("silent", "no_data")]["severity"] == "critical"
    assert got[("dirty", "volume")]["subject"] == "spike" and got[("dropper", "volume")]["subject"] == "drop"
    assert [f["feature"] for f in got[("dirty", "range")]["evidence"]["features"]] == ["x"]
    assert [f["feature"] for f in got[("dirty", "new_category")]["evidence"]["features"]] == ["c"]
    assert [f["feature"] for f in got[("dirty", "missing")]["evidence"]["features"]] == ["m"]
    # the same numbers as the quality report over the same window
    rng = got[("dirty", "range")]
    part = js(ws, "quality", "--model", "dirty", "--start", rng["window_since"], "--end", rng["until"])
    assert rng["evidence"]["features"][0]["out_of_range_share"] == _by(part)["x"]["out_of_range_share"]
    q = got[("dirty", "quarantine")]["evidence"]
    assert q["rate"] == pytest.approx(truth["dirty"]["bad"] / (truth["dirty"]["rows"] + truth["dirty"]["bad"]))
    # nothing of the kind on the models that have none of these problems
    for model in ("pair_a", "pair_b", "dropper", "silent"):
        assert not {k for (m, k) in got if m == model} & {"missing", "new_category", "range", "quarantine"}, model
    # the shared file: not evaluated, with its reason (never ok)
    skipped = [s for s in rep["skipped"] if s["kinds"] == ["quarantine"]]
    assert {s["model"] for s in skipped} == {"pair_a", "pair_b"}
    assert all("cannot be attributed" in s["reason"] and "pair.jsonl" in s["reason"] for s in skipped)


def test_clean_workspace_fires_nothing(clean) -> None:
    rep = js(clean, "check", expect=0)
    assert rep["ok"] is True and rep["alerts"] == [] and rep["errors"] == []
    assert not [s for s in rep["skipped"] if set(s["kinds"]) & {"volume", "quarantine", "missing"}]
    for model in ("steady", "calm"):
        q = js(clean, "quality", "--model", model)
        assert all(f["flags"] == [] for f in q["features"])
        assert q["volume"]["status"] == "ok" and q["quarantine"]["status"] == "ok"


def test_alerts_keys_turn_rules_off_and_move_thresholds(tmp_path, dirty) -> None:
    import shutil

    src, _ = dirty
    ws = tmp_path / "ws"
    shutil.copytree(src, ws)
    with (ws / "console.toml").open("a") as fh:
        fh.write('\n[alerts]\nrange_share = 0.5\nvolume_spike = 5\nquarantine = false\n'
                 '[models.silent.alerts]\nno_data = false\n'
                 '[models.dirty.alerts]\nmissing = false\n')
    rep = js(ws, "check", expect=1)
    kinds = {(a["model"], a["kind"]) for a in rep["alerts"]}
    assert ("dirty", "range") not in kinds and ("dirty", "missing") not in kinds
    assert ("dirty", "new_category") in kinds and ("dropper", "volume") in kinds
    assert ("dirty", "volume") not in kinds  # 3× is under 5×
    assert not {k for _, k in kinds} & {"quarantine", "no_data"}
    with (ws / "console.toml").open("a") as fh:
        fh.write('[models.calm.alerts]\nvolume_window = "all"\n')
    from console.cli import main

    assert main(["check", "--workspace", str(ws)]) == 2  # one line: volume_window must be a duration


def test_quality_command_formats_and_bad_input(dirty, capsys) -> None:
    from console.cli import main

    ws, _ = dirty
    assert main(["quality", "--model", "dirty", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "✗ range" in out and "✗ new_category" in out and "volume ✗ spike" in out and "quarantine ✗ high" in out
    assert main(["quality", "--model", "dirty", "--format", "csv", "--workspace", str(ws)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("feature,kind,missing_ref,missing_cur,unseen,out_of_range,flags")
    assert main(["quality", "--model", "nope", "--workspace", str(ws)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "unknown model" in err


async def test_tui_quality_tab_shows_the_numbers(dirty) -> None:
    ws, _ = dirty
    rep = js(ws, "quality", "--model", "dirty")
    app = make_app(ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("dirty", tab="quality")
        await settle(app, pilot)
        text = flat_text(app)
        f = _by(rep)
        x_out = f"{100 * f['x']['out_of_range_share']:.1f}%"
        c_unseen = f"{100 * f['c']['unseen_share']:.1f}%"
        m_cur = f"{100 * f['m']['current_missing_share']:.1f}%"
        assert x_out in text and c_unseen in text and m_cur in text, text
        assert "✗ range" in text and "✗ new cat." in text and "✗ missing" in text
        assert "✗ spike" in text and "✗ high" in text
        # a model that went silent says so on its tab, whatever window the tab shows
        app.open_model("silent", tab="quality")
        await settle(app, pilot)
        assert "volume ✗ no data in the last 1d" in flat_text(app)


def test_sample_story_weather_goes_missing(ingested_sample) -> None:
    """The sample's delivery-eta loses `weather` for ~40% of requests from WEATHER_DAY: check's
    `missing` alert names it; the other data-quality kind on the sample is credit-risk's new
    `channel=aggregator` (the drift story), and nothing else of these kinds fires."""
    from console.samplegen import timeline as tl

    rep = js(ingested_sample, "check", expect=1)
    dq = sorted((a["model"], a["kind"]) for a in rep["alerts"]
                if a["kind"] in ("missing", "new_category", "range", "volume", "no_data", "quarantine"))
    assert dq == [("credit-risk", "new_category"), ("delivery-eta", "missing")]
    missing = next(a for a in rep["alerts"] if a["kind"] == "missing")
    [f] = missing["evidence"]["features"]
    assert f["feature"] == "weather" and f["reference_missing_share"] == 0.0
    q = js(ingested_sample, "quality", "--model", "delivery-eta", "--start", str(tl.WEATHER_DAY))
    weather = _by(q)["weather"]
    assert weather["flags"] == ["missing"] and abs(weather["current_missing_share"] - tl.WEATHER_GAP) < 0.03


def test_a_window_of_logs_as_the_reference(dirty) -> None:
    """``--reference-start/--reference-end``: the version's own first two days are the
    reference; the shares follow from those rows (numpy on the same arrays)."""
    ws, truth = dirty
    live = truth["dirty"]["live"]
    r0, r1 = T0, T0 + 2 * DAY
    rep = js(ws, "quality", "--model", "dirty", "--start", iso(r1), "--reference-start", iso(r0),
             "--reference-end", iso(r1))
    ref_keep = np.array([r0 <= t < r1 for t in live["ts"]])
    ref = {"x": live["x"][ref_keep], "c": live["c"][ref_keep], "m": live["m"][ref_keep]}
    exp = _expected_features(ref, live, r1, T0 + 30 * DAY)
    assert rep["reference"]["rows"] == int(ref_keep.sum()) == 2 * PER_DAY
    f = _by(rep)
    assert f["x"]["out_of_range_share"] == pytest.approx(exp["x_out"], rel=1e-12)
    assert f["c"]["unseen_share"] == pytest.approx(exp["c_unseen"], rel=1e-12)
    assert f["m"]["missing_rise"] == pytest.approx(exp["m_missing_cur"] - exp["m_missing_ref"], abs=1e-12)


def test_sql_path_without_parts_and_a_declared_feature_never_logged() -> None:
    """A store whose rows are tables (no parts: the SQL path): the shares against numpy, a
    declared feature the logs never carried is all missing, and the quarantine view's rows of
    the one file of the model are attributed to it."""
    from console.analytics.config import load_config
    from console.analytics.data_quality import feature_quality, quarantine
    from console.store.registry import Registry
    from tests.analytics_support import T0 as S0
    from tests.analytics_support import TableStore, load, predictions_table, version

    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(0, 1, n)
    x[150:] += 0.8  # the current rows move up: some beyond the reference's max
    c = rng.choice(["a", "b", "q"], n, p=[0.5, 0.4, 0.1]).astype(object)
    c[:100][c[:100] == "q"] = "a"  # "q" never in the reference rows
    c[rng.random(n) < 0.05] = None
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", "binary",
                                       features={"x": "numeric", "c": "categorical", "ghost": "numeric"})
    store = TableStore(reg, {"m": "1"})
    load(store, [predictions_table(n, features={"x": x, "c": c})],
         features=[("m", "x", "f_x", "numeric"), ("m", "c", "f_c", "categorical")])
    store.conn.execute("CREATE TABLE quarantine AS SELECT 'predictions' AS kind, 'test' AS source, "
                       "range::BIGINT AS line FROM range(7)")
    t = [S0 + dt.timedelta(minutes=i) for i in range(n)]
    cfg = load_config({})
    part = feature_quality(store, "m", "1", t[100], t[-1] + dt.timedelta(minutes=1), cfg, t[0], t[100])
    f = _by(part)
    ref_x, cur_x = x[:100], x[100:]
    assert f["x"]["out_of_range_share"] == pytest.approx(
        float(np.mean((cur_x < ref_x.min()) | (cur_x > ref_x.max()))), rel=1e-12)
    ref_c = {v for v in c[:100] if v is not None}
    cur_c = [v for v in c[100:] if v is not None]
    assert f["c"]["unseen_share"] == pytest.approx(sum(v not in ref_c for v in cur_c) / len(cur_c), rel=1e-12)
    assert f["c"]["current_missing_share"] == pytest.approx(float(np.mean([v is None for v in c[100:]])), rel=1e-12)
    assert f["ghost"]["current_missing_share"] == 1.0 and f["ghost"]["note"] == "not in the reference"
    q = quarantine(store, "m", t[100], t[-1] + dt.timedelta(minutes=1), cfg.alerts)
    assert q["quarantined"] == 7 and q["rows"] == n and q["rate"] == pytest.approx(7 / (n + 7), rel=1e-12)
    assert q["status"] == "high"


async def test_tui_a_missing_alert_opens_the_quality_tab(ingested_sample) -> None:
    from textual.widgets import DataTable

    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        screen = app.screen
        i = next(k for k, a in enumerate(screen.alerts) if a.get("kind") == "missing")
        screen.query_one(DataTable).move_cursor(row=i)
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.active_tab() == "quality"
        text = flat_text(app)
        # the tab shows the screen's window (all data here: 4.3% missing, under the 5-point rise
        # the alert's 7 days exceed), with the feature the alert names
        assert "delivery-eta v2" in text and "weather" in text
