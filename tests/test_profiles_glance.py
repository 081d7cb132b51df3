"""The fleet's at-a-glance columns from the daily profiles (console.profiles.glance) against the
exact functions on the same data (the ingested sample): over all the data, with fresh profiles,
requests, errors, error rates and the daily buckets equal ``ops_summary``'s, latency quantiles
within ALPHA of the exact order statistic, and month-to-date spend equal ``budget_status``'s;
without fresh profiles (none yet, or a batch committed since) or for a bounded window, the
exact functions answer — and the freshness check computes and writes nothing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from console.analytics import cost, ops, parse_time
from console.profiles import core, glance, local
from tests.test_profiles_reader import _open


@pytest.fixture(name="db")
def db_fixture(sample_ws):
    db = _open(sample_ws)
    yield db
    db.close()


def _models(db) -> list[str]:
    return sorted(db.registry.models())


def test_fresh_profiles_answer_the_fleet_glance_as_the_exact_path_does(db):
    local.profile_store(db)
    models = _models(db)
    assert local.profiles_fresh(db, models) and local.profiles_fresh(db)
    got, exact = glance.ops_summary(db, models, "1d"), ops.ops_summary(db, models, "1d")
    assert [g["model"] for g in got] == [e["model"] for e in exact] == models
    with_traffic = 0
    for g, e in zip(got, exact, strict=True):
        assert g["source"] == "profiles"
        for k in ("requests", "errors", "error_rate", "start", "end", "windows"):
            assert g[k] == e[k], (g["model"], k)
        if not g["requests"]:
            continue
        with_traffic += 1
        lat = np.sort(np.array([r[0] for r in db.cursor().execute(
            "SELECT latency_ms FROM predictions WHERE model = ? AND isfinite(latency_ms)", [g["model"]]).fetchall()]))
        for q, key in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            x = lat[math.floor(q * (lat.size - 1))]  # the order statistic the sketch bounds
            assert abs(g["latency_ms"][key] - x) <= core.ALPHA * abs(x) + 1e-12, (g["model"], key)
        assert g["latency_ms"]["max"] == e["latency_ms"]["max"] == lat.max()
        assert g["latency_ms"]["mean"] is None  # not profiled, never made up
    assert with_traffic >= 2
    budgets = glance.budget_status(db)
    assert budgets and _same_budgets(budgets, cost.budget_status(db))
    assert any(b["mtd_usd"] > 0 for b in budgets)


def _same_budgets(got: list[dict], exact: list[dict]) -> bool:
    """Equal, the spend to the last bits: the exact query's per-day rows come in no fixed order,
    so even two exact answers may add the same days in a different order."""
    assert len(got) == len(exact)
    for g, e in zip(got, exact, strict=True):
        assert g.keys() == e.keys()
        for k, v in g.items():
            assert v == (pytest.approx(e[k], rel=1e-12) if isinstance(v, float) else e[k]), (g["model"], k)
    return True


def test_without_fresh_profiles_the_exact_functions_answer(sample_ws):
    from tests.tui_helpers import ingest

    db = _open(sample_ws)
    try:
        models = _models(db)
        out = local.profiles_dir(db)
        assert not local.profiles_fresh(db, models)  # never profiled
        assert not out.exists()  # the check made nothing
        assert {g["source"] for g in glance.ops_summary(db, models, "1d")} == {"exact"}
        local.profile_store(db)
        assert {g["source"] for g in glance.ops_summary(db, models, "1d")} == {"profiles"}
        # a bounded window, or buckets that are not whole days: the exact path
        bounded = glance.ops_summary(db, models, "1d", start=parse_time("2026-11-20"))
        assert {g["source"] for g in bounded} == {"exact"}
        exact = ops.ops_summary(db, models, "1d", start=parse_time("2026-11-20"))
        assert [(g["model"], g["requests"], g["windows"]) for g in bounded] == \
            [(e["model"], e["requests"], e["windows"]) for e in exact]
        assert {g["source"] for g in glance.ops_summary(db, models, "1h")} == {"exact"}
        manifest = (out / "manifest.json").read_bytes()
    finally:
        db.close()
    model = "credit-risk"
    log = sorted((sample_ws / "logs" / model).glob("predictions-*.jsonl"))[-1]
    last = json.loads(log.read_text().splitlines()[-1])
    with log.open("a") as f:
        for i in range(7):
            f.write(json.dumps(dict(last, request_id=f"glance-{i}", status="error")) + "\n")
    ingest(sample_ws)
    db = _open(sample_ws)
    try:
        assert not local.profiles_fresh(db, models)  # a batch since: not known fresh
        assert (out / "manifest.json").read_bytes() == manifest  # looked, wrote nothing
        got = {g["model"]: g for g in glance.ops_summary(db, models, "1d")}
        exact = {e["model"]: e for e in ops.ops_summary(db, models, "1d")}
        assert got[model]["source"] == "exact" and got[model]["requests"] == exact[model]["requests"]
        assert _same_budgets(glance.budget_status(db), cost.budget_status(db))
        local.profile_store(db)
        again = {g["model"]: g for g in glance.ops_summary(db, models, "1d")}
        assert again[model]["source"] == "profiles"
        assert again[model]["errors"] == exact[model]["errors"] and again[model]["requests"] == exact[model]["requests"]
    finally:
        db.close()
