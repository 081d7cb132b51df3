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
        "ts": st.one_of(st.just("2026-11-01T12:00:00Z"), st.integers(0, 1_795_000_000), st.just("2026-11-01 08:00:00.123456")),
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


# -- records that differ in which fields they carry, in runs long enough to cross blocks ------
# The fast parser takes runs of more than SLOW_BELOW lines, the careful one the rest; a field
# that one run lacks and another has must read as missing, whichever parser read which run.
REQUIRED = ("ts", "model", "version", "request_id", "prediction")
VARIANTS: dict[str, tuple[dict, str | None]] = {
    "full": ({"score": 0.5, "features": {"a": 1}}, None),
    "bare": ({}, None),
    "flat": ({"z": "x", "y": 2}, None),
    "error": ({"status": "error", "_drop": "prediction"}, None),
    **{f"no-{f}": ({"_drop": f}, f"missing required field '{f}'") for f in REQUIRED},
    "nan-id": ({"request_id": float("nan")}, "'request_id' is not a finite number"),
    "inf-version": ({"version": float("inf")}, "'version' is not a finite number"),
    "future": ({"ts": "2030-01-01T00:00:00Z"}, "'ts' in the future"),
    "lower-tz": ({"ts": "2026-11-01t10:00:00z"}, None),
    "bad-ts": ({"ts": "2026-11-01T24:00:00Z"}, "unreadable 'ts'"),
    "long-model": ({"model": "m" * 81}, "'model' longer than 80 bytes"),
    "surrogate": ({"error": "\ud800"}, "a string holds a lone UTF-16 surrogate (not Unicode text)"),
    "nul-feature": ({"features": {"a\u0000": 1}}, "a feature name holds a control character"),
    "garbage": ({}, "not valid JSON"),
}


def _variant_line(variant: str, n: int) -> tuple[str, str | None]:
    extra, why = VARIANTS[variant]
    if variant == "garbage":
        return "{garbage", why
    r = {"ts": "2026-11-01T12:00:00Z", "model": "m", "version": "1", "request_id": f"id{n}", "prediction": 1}
    drop = extra.get("_drop")
    r.update({k: v for k, v in extra.items() if k != "_drop"})
    if drop:
        del r[drop]
    return json.dumps(r), why


# run lengths around the careful parser's 32 lines and the fast parser's halves
runs = st.lists(st.tuples(st.sampled_from(sorted(VARIANTS)), st.sampled_from([1, 2, 17, 31, 32, 33, 34, 49, 50, 51, 66])),
                min_size=1, max_size=5)


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(runs, st.sampled_from([1, 2, 3]), st.booleans())
def test_mixed_runs_across_block_boundaries_store_or_quarantine_each_record_exactly(plan, split, garbage_last) -> None:
    lines: list[tuple[str, str | None]] = []
    for variant, count in plan:
        lines += [_variant_line(variant, len(lines) + i) for i in range(count)]
    if garbage_last:  # the fast parser fails on the whole: halves, then careful pieces
        lines.append(_variant_line("garbage", len(lines)))
    with tempfile.TemporaryDirectory() as tmp:
        ws = write_workspace(Path(tmp) / "ws")
        # runs of lines into `split` files (small files are validated together)
        size = -(-len(lines) // split)
        files = [lines[i : i + size] for i in range(0, len(lines), size)]
        for n, chunk in enumerate(files):
            (ws / "logs" / f"f{n}.jsonl").write_text("".join(line + "\n" for line, _ in chunk))
        result = ingest(ws)
        bad = [why for _, why in lines if why is not None]
        assert result == {"predictions": len(lines) - len(bad), "labels": 0, "quarantined": len(bad), "duplicates": 0}
        got = query(ws, "SELECT source, line, reason FROM quarantine")
        want = {(str(ws / "logs" / f"f{n}.jsonl"), i + 1, why) for n, chunk in enumerate(files)
                for i, (_, why) in enumerate(chunk) if why is not None}
        assert {(s, ln, "not valid JSON" if r.startswith("not valid JSON") else r) for s, ln, r in got} == want
        assert query(ws, "SELECT count(*) FROM predictions WHERE model IS NULL OR request_id IS NULL OR status IS NULL "
                         "OR (prediction IS NULL AND status <> 'error')") == [(0,)]
        # the next file is still read
        (ws / "logs" / "zz.jsonl").write_text(json.dumps({"ts": "2026-11-01T12:00:00Z", "model": "m", "version": "1",
                                                          "request_id": "next", "prediction": 1}) + "\n")
        assert ingest(ws) == {"predictions": 1, "labels": 0, "quarantined": 0, "duplicates": 0}
