"""Property: whatever bytes the logs hold, ingest never raises, and every complete input line is
accounted for exactly once — ingested, counted as a duplicate, or quarantined."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.ingest.formats import MAX_LINE
from tests.conftest import write_workspace
from tests.test_ingest_formats import ingest, query

RIDS = [f"r{i}" for i in range(12)]

valid_record = st.fixed_dictionaries(
    {
        "ts": st.one_of(st.just("2026-11-01T12:00:00Z"), st.integers(0, 4_000_000_000), st.just("2026-11-01 08:00:00.123456")),
        "model": st.sampled_from(["m", "n"]),
        "version": st.one_of(st.sampled_from(["1", "2"]), st.integers(1, 3)),
        "request_id": st.sampled_from(RIDS),
        "prediction": st.one_of(st.integers(-5, 5), st.floats(-1e6, 1e6), st.text(min_size=1, max_size=5)),
    },
    optional={
        "score": st.floats(0, 1),
        "latency_ms": st.floats(0, 1e4),
        "features": st.dictionaries(st.sampled_from(["a", "b", "é"]), st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2))),
    },
)

bad_record = st.one_of(
    valid_record.map(lambda r: {**r, "score": 1.5}),
    valid_record.map(lambda r: {**r, "latency_ms": -1}),
    valid_record.map(lambda r: {k: v for k, v in r.items() if k != "model"}),
    valid_record.map(lambda r: {**r, "ts": "not a time"}),
    valid_record.map(lambda r: {**r, "model": 7}),
    valid_record.map(lambda r: {**r, "features": "flat?"}),
    valid_record.map(lambda r: {**r, "prediction": None}),
)


def no_newline(b: bytes) -> bytes:
    return b.replace(b"\n", b" ")


garbage = st.one_of(
    st.binary(max_size=60).map(no_newline).filter(lambda b: b.strip(b" \t\r")[:1] not in (b"{",)),
    valid_record.map(lambda r: json.dumps(r)[: max(1, len(json.dumps(r)) // 2)].encode()),  # truncated JSON
    valid_record.map(lambda r: no_newline(json.dumps({**r, "x": "é"}, ensure_ascii=False).encode("utf-16"))),
    valid_record.map(lambda r: json.dumps({**r, "x": "café"}, ensure_ascii=False).encode("latin-1", errors="replace")),
    st.integers(MAX_LINE + 1, MAX_LINE + 50).map(lambda n: b"{" + b"x" * n),
    st.just(b""),
    st.just(b"[1, 2, 3]"),
)

line = st.one_of(
    valid_record.map(lambda r: ("valid", r, json.dumps(r, ensure_ascii=False).encode())),
    valid_record.map(lambda r: ("valid", r, b"\xef\xbb\xbf" + json.dumps(r).encode() + b"\r")),
    bad_record.map(lambda r: ("bad", None, json.dumps(r).encode())),
    garbage.map(lambda b: ("bad", None, b)),
)


def key(r: dict) -> tuple:
    v = r["version"]
    return (r["model"], str(v), r["request_id"])


@settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(line, min_size=1, max_size=120), st.integers(1, 3))
def test_every_line_accounted_for_exactly_once(lines, split) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = write_workspace(Path(tmp) / "ws")
        # spread the lines over `split` files, in order
        chunks = [lines[i::split] for i in range(split)]
        for n, chunk in enumerate(chunks):
            (ws / "logs" / f"f{n}.jsonl").write_bytes(b"".join(raw + b"\n" for _, _, raw in chunk))
        ordered = [item for chunk in chunks for item in chunk]
        expected_new, expected_dup, expected_bad = 0, 0, 0
        seen: set[tuple] = set()
        for kind, rec, _ in ordered:
            if kind == "bad":
                expected_bad += 1
            elif key(rec) in seen:
                expected_dup += 1
            else:
                seen.add(key(rec))
                expected_new += 1
        result = ingest(ws)
        assert result == {"predictions": expected_new, "labels": 0, "quarantined": expected_bad,
                          "duplicates": expected_dup}
        assert sum(result.values()) == len(lines)
        stored = query(ws, "SELECT source, line FROM predictions UNION ALL SELECT source, line FROM quarantine")
        assert len(stored) == len(set(stored)) == expected_new + expected_bad
        assert ingest(ws) == {"predictions": 0, "labels": 0, "quarantined": 0, "duplicates": 0}


@settings(max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=40).map(no_newline),
                          st.tuples(st.sampled_from(RIDS), st.sampled_from(["1", "0.5", "x", ""])).map(
                              lambda t: f"2026-11-01T00:00:00Z,m,1,{t[0]},{t[1]}".encode())), min_size=1, max_size=60))
def test_csv_every_line_accounted_for(lines) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = write_workspace(Path(tmp) / "ws")
        (ws / "logs" / "a.csv").write_bytes(b"ts,model,version,request_id,prediction\n" + b"".join(x + b"\n" for x in lines))
        result = ingest(ws)
        assert sum(result.values()) == len(lines)
        assert ingest(ws) == {"predictions": 0, "labels": 0, "quarantined": 0, "duplicates": 0}
