"""``check``'s window rules from the daily profiles (console.profiles.alert_source) against the
rows on the same data (the ingested sample): with fresh profiles the drift, output-drift and
data-quality alerts are evaluated over whole UTC days — the features' drift and data quality
read from the profiles, the output's drift from its rows — and every other alert is the exact
rule's, unchanged; the data quality of a whole-day window from profiles equals the rows' to
the last bit; when the profiles cannot answer (none, stale, a window that is not whole days,
the domain classifier asked for, categories pooled), the rows answer — and ``check`` on the
command line is the profiles' one."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json

import pytest

from console.analytics import alerts as alerts_mod
from console.analytics.config import config_for
from console.analytics.data_quality import feature_quality
from console.analytics.drift import drift_report, output_report
from console.analytics.windows import parse_time
from console.profiles import alert_source, core, glance, local
from tests.test_profiles_reader import _open

DRIFT_KINDS = ("drift", "output_drift")
QUALITY_KINDS = ("missing", "new_category", "range")


@pytest.fixture(name="db")
def db_fixture(sample_ws):
    db = _open(sample_ws)
    yield db
    db.close()


def _by_id(rep: dict) -> dict[str, dict]:
    return {a["id"]: a for a in rep["alerts"]}


def _approx(x):
    if isinstance(x, float):
        return pytest.approx(x, rel=1e-12)
    if isinstance(x, dict):
        return {k: _approx(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_approx(v) for v in x]
    return x


def _fires(rep: dict, alert: dict, rules) -> bool:
    """Whether the exact drift report ``rep`` fires ``alert`` under the ``[alerts]`` ``rules``
    (the rule's own functions)."""
    start, end = parse_time(rep["current"]["start"]), parse_time(rep["current"]["end"])
    found = alerts_mod._drift_alerts(rep, rules, start, end) + \
        alerts_mod.output_drift_alerts(rep, rules, start, end, alerts_mod._alert)
    return alert["id"] in {x["id"] for x in found}


def test_with_fresh_profiles_the_drift_rule_reads_whole_days_and_agrees_with_the_exact_report(db):
    exact = alerts_mod.check_alerts(db)
    local.profile_store(db)
    assert local.profiles_fresh(db)
    got = glance.check_alerts(db)
    assert not got["errors"] and not exact["errors"]
    mine, theirs = _by_id(got), _by_id(exact)
    assert mine.keys() == theirs.keys()
    drifting = [a for a in mine.values() if a["kind"] in DRIFT_KINDS]
    assert {a["kind"] for a in drifting} == set(DRIFT_KINDS)  # the sample drifts, features and output
    quality = [a for a in mine.values() if a["kind"] in QUALITY_KINDS]
    assert quality and all(a["evidence"]["source"] == "profiles" for a in quality)
    assert all(a["evidence"]["source"] == "exact" for a in theirs.values() if a["kind"] in QUALITY_KINDS)
    for a in quality:  # same alerts, evidence and all, over whole days (the rows agree: the test below)
        assert a["window_since"].endswith("T00:00:00Z") and a["until"].endswith("T00:00:00Z")
        b = theirs[a["id"]]
        assert a["severity"] == b["severity"]
        assert [f["feature"] for f in a["evidence"]["features"]] == [f["feature"] for f in b["evidence"]["features"]]
        assert a["detail"].endswith(" — from daily profiles")  # said where the reader sees it
        assert "profiles" not in b["detail"]
    for i, a in mine.items():
        if a["kind"] in QUALITY_KINDS:
            continue
        if a["kind"] not in DRIFT_KINDS:
            # every other rule: the exact one, untouched (a spend to the last bits: the exact
            # query's per-day sums come in no fixed order, tests/test_profiles_glance.py)
            assert a == _approx(theirs[i])
            continue
        assert a["severity"] == theirs[i]["severity"]
        model, version = a["model"], a["version"]
        start, end = parse_time(a["window_since"]), parse_time(a["until"])
        rolling = parse_time(theirs[i]["window_since"]), parse_time(theirs[i]["until"])  # the rows' window
        newest = rolling[1] - dt.timedelta(microseconds=1)
        assert end == dt.datetime.combine(newest.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        assert start == dt.datetime.combine(rolling[0].date(), dt.time(), dt.UTC)  # the days covering it
        assert end - start in (dt.timedelta(days=7), dt.timedelta(days=8))
        span = end - start
        rep = drift_report(db, model, version, start, end, multivariate=False)  # exact, same whole days
        rules = config_for(db, model).alerts
        assert _fires(rep, a, rules)  # the exact report of the same days fires the same alert
        if a["kind"] == "drift":
            assert a["evidence"]["source"] == "profiles" and theirs[i]["evidence"]["source"] == "exact"
            assert a["detail"].endswith(" — from daily profiles") and "profiles" not in theirs[i]["detail"]
            drifted = {f["feature"] for f in rep["features"] if f["drifted"]}
            assert {f["feature"] for f in a["evidence"]["features"]} == drifted
            assert a["evidence"]["current_rows"] == rep["current"]["rows"]
        else:  # the output is not profiled: its drift is the exact report's, to the last bit
            assert a["evidence"]["score"] == rep["output"]["score"]
            assert output_report(db, model, version, start, end) == rep["output"]
        # since: the start of a run of whole-day windows that fire it, the exact report agreeing
        since = parse_time(a["since"])
        assert since <= start and (start - since) % span == dt.timedelta(0)
        assert _fires(drift_report(db, model, version, since, since + span, multivariate=False), a, rules)


def test_the_drift_rule_is_exact_where_the_profiles_cannot_answer(db, sample_ws):
    never = glance.check_alerts(db)  # never profiled
    assert never == _approx(alerts_mod.check_alerts(db))
    assert {a["evidence"]["source"] for a in never["alerts"] if a["kind"] == "drift"} == {"exact"}
    local.profile_store(db)
    model = "credit-risk"
    version = db.production[model]
    config = config_for(db, model)
    end = parse_time("2026-11-21T23:59:35.475001Z")
    week = end - dt.timedelta(days=7)
    assert alert_source.window_source("drift", db, model, version, config, week, end) is not None
    # a 1d window: the whole days that cover it (the newest record at 23:59: two days)
    day = alert_source.window_source("drift", db, model, version, config, end - dt.timedelta(days=1), end)
    assert day[:2] == (parse_time("2026-11-20T00:00:00Z"), parse_time("2026-11-22T00:00:00Z"))
    # a window that is not whole days; the domain classifier asked for (it needs the rows)
    assert alert_source.window_source("drift", db, model, version, config, end - dt.timedelta(hours=36), end) is None
    mv = dataclasses.replace(config, alerts=dataclasses.replace(config.alerts, multivariate=True))
    assert alert_source.window_source("drift", db, model, version, mv, week, end) is None
    db.close()
    # a batch committed since the profiles were made: not known fresh, so exact
    from tests.tui_helpers import ingest

    log = sorted((sample_ws / "logs" / model).glob("predictions-*.jsonl"))[-1]
    last = json.loads(log.read_text().splitlines()[-1])
    with log.open("a") as f:
        f.write(json.dumps(dict(last, request_id="alerts-profiles-0")) + "\n")
    ingest(sample_ws)
    db2 = _open(sample_ws)
    try:
        assert alert_source.window_source("drift", db2, model, version, config, week, end) is None
        stale = glance.check_alerts(db2)
        assert {a["evidence"]["source"] for a in stale["alerts"] if a["kind"] == "drift"} == {"exact"}
    finally:
        db2.close()


def test_check_on_the_command_line_reads_the_profiles_once_they_are_made(sample_ws):
    from console.cli import main

    def check() -> dict:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main(["check", "--format", "json", "--workspace", str(sample_ws)]) == 1, err.getvalue()
        return json.loads(out.getvalue())

    def drift_of(rep: dict) -> list[tuple]:
        return [(a["id"], a["evidence"]["source"], a["until"]) for a in rep["alerts"] if a["kind"] == "drift"]

    before = drift_of(check())
    assert before and {s for _, s, _ in before} == {"exact"}
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["profile", "--workspace", str(sample_ws)]) == 0
    after = drift_of(check())
    assert [i for i, _, _ in after] == [i for i, _, _ in before]  # the same alerts (acks still apply)
    assert {s for _, s, _ in after} == {"profiles"} and all(u.endswith("T00:00:00Z") for _, _, u in after)


def _quality_windows(db) -> list[tuple]:
    """(model, version, config, lo, hi) of every production version's whole days covering its
    latest 7 days."""
    out = []
    for model in sorted(db.registry.models()):
        version = (db.production or {}).get(model)
        if version is None or db.registry.get(model, version).reference is None:
            continue
        end = alerts_mod._latest(db, model, version, 7 * 86400)[1]
        got = alert_source.window_source("data_quality", db, model, version, config_for(db, model),
                                         end - dt.timedelta(days=7), end)
        assert got is not None, model
        out.append((model, version, config_for(db, model), got[0], got[1]))
    return out


def test_the_data_quality_of_whole_days_from_profiles_is_the_rows_to_the_last_bit(db):
    local.profile_store(db)
    windows = _quality_windows(db)
    assert len(windows) >= 3
    seen = set()
    for model, version, config, lo, hi in windows:
        for k in range(3):  # the latest window and two before it (``since`` walks back so)
            a, b = lo - k * (hi - lo), hi - k * (hi - lo)
            got = alert_source.quality_at(db, model, version, config, a, b)
            rows = feature_quality(db, model, version, a, b, config)
            assert got["source"] == "profiles", (model, a)
            assert got["current"] == rows["current"] and got["features"] == rows["features"], (model, a)
            for e in got["features"]:
                seen |= {k for k in ("missing_rise", "unseen_share", "out_of_range_share") if e.get(k)}
    assert seen == {"missing_rise", "unseen_share", "out_of_range_share"}  # every rule had values to compare


def test_a_window_whose_categories_were_pooled_reads_its_rows(db, monkeypatch):
    monkeypatch.setattr(core, "TOP_K", 1)  # every day pools all but its commonest category
    import console.profiles.aggregate as aggregate

    monkeypatch.setattr(aggregate, "TOP_K", 1)
    local.profile_store(db)
    model, version, config, lo, hi = next(w for w in _quality_windows(db) if w[0] == "credit-risk")
    got = alert_source.quality_at(db, model, version, config, lo, hi)
    rows = feature_quality(db, model, version, lo, hi, config)
    assert got["source"] == "exact" and got["features"] == rows["features"]


def test_a_damaged_day_file_sends_the_rules_to_the_rows_and_profile_writes_it_again(db, sample_ws):
    from console.analytics import cost

    local.profile_store(db)
    models = sorted(db.registry.models())
    day = sorted(local.day_files(local.profiles_dir(db), "credit-risk"))[-1]  # in every rule's window
    day.write_bytes(b"not a parquet file")
    with pytest.raises(local.ProfilesUnreadable, match="daily profiles unreadable"):
        local.read_profiles(local.profiles_dir(db), model="credit-risk")
    assert local.profiles_fresh(db, models)  # the manifest still says so: the readers find out
    got = glance.check_alerts(db)
    assert not got["errors"]  # never a failed rule for a derived file: the rows answer
    rows = _by_id(alerts_mod.check_alerts(db))
    mine = _by_id(got)
    assert mine.keys() == rows.keys()
    damaged = [i for i, a in mine.items() if a["model"] == "credit-risk"]
    assert any(mine[i]["kind"] == "drift" for i in damaged)
    for i in damaged:  # the model whose day is damaged: exactly the rules on the rows
        assert mine[i] == _approx(rows[i])
    assert {g["source"] for g in glance.ops_summary(db, models, "1d")} == {"exact"}
    assert glance.budget_status(db) == _approx(cost.budget_status(db))
    assert glance.drift_report(db, "credit-risk")["source"] == "exact"
    done = local.profile_store(db)  # the day's fingerprint is unchanged, but its file is not a profile
    assert f"credit-risk/{day.stem.split('=')[1]}" in done["computed"]
    again = _open(sample_ws)  # a new snapshot (the one above remembers its answers)
    try:
        sources = {a["evidence"]["source"] for a in glance.check_alerts(again)["alerts"] if a["kind"] == "drift"}
        assert sources == {"profiles"}
    finally:
        again.close()
