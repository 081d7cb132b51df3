"""The sample workspace through the real ingester and store: what the console will show.

Ingests a copy of ``sample_data/`` and checks that quarantine, duplicates and type errors hold
exactly the bad input the generator planted, and that the story is visible in the store's views.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from console.ingest.engine import Ingester
from console.samplegen import timeline as tl
from console.store.db import open_store
from console.workspace import load_dir
from tests.samplegen_data import SAMPLE

pytestmark = pytest.mark.skipif(not (SAMPLE / "console.toml").is_file(), reason="sample_data not generated")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sample") / "ws"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".console"))
    ws = load_dir(root)
    result = Ingester(ws, sync=False).run_once()
    assert not result.errors
    store = open_store(ws)
    yield result, store


@pytest.fixture(scope="module")
def db(ingested):
    result, store = ingested
    return result, store.cursor()


def test_quarantine_duplicates_and_type_errors_are_the_planted_ones(db) -> None:
    result, cur = db
    assert result.quarantined == 11 and result.duplicates == 45
    rows = cur.execute("select kind, source, reason from quarantine").fetchall()
    by_file = sorted((k, Path(s).name) for k, s, _ in rows)
    assert by_file.count(("predictions", f"predictions-{tl.END}.jsonl")) == 5
    assert by_file.count(("predictions", f"eta-{tl.END}.csv")) == 3
    assert sum(1 for k, f in by_file if f.endswith(".jsonl.gz")) == 1
    assert sum(1 for k, f in by_file if f.endswith(".parquet")) == 1
    assert sum(1 for k, _ in by_file if k == "labels") == 1
    errors = dict(cur.execute("select feature, type_errors from features where model = 'credit-risk'").fetchall())
    assert errors["income"] == 1
    zero_padded = cur.execute(
        "select count(*) from predictions where model = 'delivery-eta' and request_id like '0%'").fetchone()[0]
    assert zero_padded > 1000


def test_the_story_is_visible_in_the_store(db) -> None:
    _, cur = db
    north = cur.execute(
        """select day >= ? as after, avg((prediction = label)::int)
           from predictions_labelled
           where model = 'credit-risk' and version = '2' and labelled and status = 'ok'
             and day < ? and f_region = 'north'
           group by all order by 1""",
        [tl.SLICE_DAY, tl.DRIFT_DAY],
    ).fetchall()
    assert north[0][1] - north[1][1] >= 0.10
    delays = cur.execute(
        """select min(date_diff('second', ts, label_ts)) / 86400, max(date_diff('second', ts, label_ts)) / 86400
           from predictions_labelled where model = 'credit-risk' and labelled and label_ts is not null"""
    ).fetchone()
    assert 1 <= delays[0] and delays[1] <= 7
    over = cur.execute(
        """select sum(cost_usd) from predictions where model = 'ticket-router' and month(ts) = 11"""
    ).fetchone()[0]
    budget = cur.execute(
        "select monthly_budget_usd from versions where model = 'ticket-router' and version = '1'").fetchone()[0]
    assert over > budget
    new_category = cur.execute(
        "select min(day) from predictions where model = 'credit-risk' and f_channel = 'aggregator'").fetchone()[0]
    assert new_category == tl.DRIFT_DAY


def test_the_campaign_shows_in_the_estimate_before_its_labels(ingested) -> None:
    """From CAMPAIGN_DAY credit-risk v2's scores crowd near its threshold: CBPE's estimate falls
    below every earlier day's band while the labels of those days have hardly arrived."""
    import numpy as np
    import pyarrow.parquet as pq
    from sklearn.isotonic import IsotonicRegression

    from console.analytics.estimate import estimate_report

    _, store = ingested
    start = dt.datetime.combine(tl.DRIFT_DAY, dt.time(), dt.UTC)
    rep = estimate_report(store, "credit-risk", "2", "1d", start=start)
    days = {dt.date.fromisoformat(w["start"][:10]): w for w in rep["windows"]}
    assert sorted(days) == [tl.DRIFT_DAY + dt.timedelta(days=i) for i in range((tl.END - tl.DRIFT_DAY).days + 1)]
    before = [w for d, w in days.items() if d < tl.CAMPAIGN_DAY]
    during = [w for d, w in days.items() if d >= tl.CAMPAIGN_DAY]
    for metric in ("roc_auc", "accuracy"):
        floor = min(w["metrics"][metric]["lower"] for w in before)
        assert all(w["metrics"][metric]["estimated"] < floor for w in during), metric
    assert days[tl.END]["metrics"]["roc_auc"]["realized"] is None  # no label of the last day yet
    cur = store.cursor()
    labelled = cur.execute(
        """select avg(labelled::int) from predictions_labelled
           where model = 'credit-risk' and version = '2' and status = 'ok' and day >= ?""",
        [tl.CAMPAIGN_DAY]).fetchone()[0]
    assert labelled < 0.1

    # the estimated accuracy, by hand: the reference's scores calibrated with scikit-learn's
    # isotonic regression (the sample's reference needs it), each row right with its probability
    assert rep["reference"]["calibrated"] is True
    ref = pq.read_table(SAMPLE / "reference" / "credit-risk" / "2.parquet").to_pydict()
    iso = IsotonicRegression(out_of_bounds="clip").fit(np.array(ref["score"]), np.array(ref["label"]))
    rows = cur.execute(
        """select day, score, prediction from predictions
           where model = 'credit-risk' and version = '2' and coalesce(status, 'ok') = 'ok' and day >= ?""",
        [tl.CAMPAIGN_DAY]).fetchall()
    for day in sorted({r[0] for r in rows}):
        score = np.array([r[1] for r in rows if r[0] == day], dtype=float)
        yhat = np.array([int(r[2]) for r in rows if r[0] == day])
        p = iso.predict(score)
        expected = float(np.mean(np.where(yhat == 1, p, 1 - p)))
        assert days[day]["metrics"]["accuracy"]["estimated"] == pytest.approx(expected, abs=1e-9)
