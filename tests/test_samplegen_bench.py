"""The bench profile: size, shape and format of benchmark workspaces (tiny ones here)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from console.samplegen import generate
from console.samplegen.bench import CATEGORICAL, DAYS, DRIFT_FROM, FIRST_DAY, NUMERIC
from console.samplegen.writers import tree_digest
from console.store.registry import load_registry
from console.workspace import load_dir

ROWS = 3_000


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bench") / "ws"
    return out, generate(out, rows=ROWS, profile="bench", seed=3, fmt="both", reference_rows=2_000)


def _jsonl(folder: Path) -> list[dict]:
    return [json.loads(line) for p in sorted(folder.rglob("*.jsonl")) for line in p.read_text().splitlines()]


def test_shape_rows_features_models_days_labels(bench: tuple[Path, dict]) -> None:
    out, summary = bench
    for fmt in ("jsonl", "parquet"):
        ws = load_dir(out / fmt)
        reg = load_registry(ws.registry, ws.root)
        assert len(reg.models()) == 3 and not reg.errors
        for v in reg.versions.values():
            kinds = list(v.features.values())
            assert kinds.count("numeric") == 15 and kinds.count("categorical") == 5
            assert pq.read_metadata(v.reference).num_rows == 2_000
            ref = pq.read_table(v.reference, columns=["prediction", "label"])  # labelled: estimate fits on it
            assert ref.column("label").null_count == 0 and ref.column("label").type == ref.column("prediction").type
        days = {p.stem for p in (ws.root / "logs").rglob(f"*.{fmt}")}
        assert len(days) == DAYS and min(days) == str(FIRST_DAY)
    rows = sum(pq.read_metadata(p).num_rows for p in (out / "parquet" / "logs").rglob("*.parquet"))
    assert rows == ROWS == sum(m["predictions"] for m in summary["models"].values())
    labels = sum(pq.read_metadata(p).num_rows for p in (out / "parquet" / "labels").rglob("*.parquet"))
    assert 0.4 * ROWS < labels < 0.6 * ROWS


def test_jsonl_and_parquet_hold_the_same_records(bench: tuple[Path, dict]) -> None:
    out, _ = bench
    recs = _jsonl(out / "jsonl" / "logs")
    assert len(recs) == ROWS
    table = pq.read_table(out / "parquet" / "logs" / "bench-binary" / f"{FIRST_DAY}.parquet").to_pylist()
    js = {r["request_id"]: r for r in recs if r["model"] == "bench-binary" and r["ts"].startswith(str(FIRST_DAY))}
    assert len(js) == len(table)
    for row in table:
        rec = js[row["request_id"]]
        assert set(rec["features"]) == set(NUMERIC + CATEGORICAL)
        assert rec["features"]["num_05"] == row["num_05"] and rec["features"]["cat_4"] == row["cat_4"]
        assert rec["prediction"] == row["prediction"] and rec["score"] == row["score"]
        assert rec["ts"] == row["ts"].strftime("%Y-%m-%dT%H:%M:%S.") + f"{row['ts'].microsecond // 1000:03d}Z"
    new = {r["ts"][:10] for r in recs if r["features"]["cat_0"] == "new"}
    assert new and min(new) >= str(FIRST_DAY.fromordinal(FIRST_DAY.toordinal() + DRIFT_FROM))


def test_bench_is_deterministic(tmp_path: Path, bench: tuple[Path, dict]) -> None:
    out, _ = bench
    again = tmp_path / "ws"
    generate(again, rows=ROWS, profile="bench", seed=3, fmt="both", reference_rows=2_000)
    assert tree_digest(again) == tree_digest(out)
