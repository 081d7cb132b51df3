"""The sample workspace through the real ingester and store: what the console will show.

Ingests a copy of ``sample_data/`` and checks that quarantine, duplicates and type errors hold
exactly the bad input the generator planted, and that the story is visible in the store's views.
"""

from __future__ import annotations

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
def db(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sample") / "ws"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".console"))
    ws = load_dir(root)
    result = Ingester(ws, sync=False).run_once()
    assert not result.errors
    store = open_store(ws)
    yield result, store.cursor()


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
