"""An adversarial corpus: every wrong record is quarantined once with its reason, every valid
one stored once, wherever the bad record falls against the ingester's block boundaries (the
fast parser's halves and its 32-line careful pieces, small blocks validated together, batch
flushes, Parquet record batches), in JSONL, gzip, CSV and Parquet — and the next file is
still ingested."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console import clock
from console.errors import WorkspaceError
from console.ingest.engine import Ingester
from console.ingest.formats import SLOW_BELOW
from console.workspace import load_dir
from tests.conftest import write_workspace
from tests.test_ingest_formats import query, rec

NOW = clock.now  # frozen by conftest: tests/frozen_time.FROZEN
CAP = "too many distinct features for this model (max_features_per_model = 1000)"


def _future(hours: float) -> str:
    return (NOW() + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without(r: dict, field: str) -> dict:
    return {k: v for k, v in r.items() if k != field}


def _deep(n: int) -> str:
    return "[" * n + "]" * n


# (raw JSONL line, the reason it is quarantined with, or None when it is valid)
def bad_lines(tag: str) -> list[tuple[str, str | None]]:
    r = lambda i, **kw: rec(f"{tag}-{i}", **kw)  # noqa: E731
    d = json.dumps
    cases: list[tuple[str, str | None]] = [
        # JSON that is not one record
        ("not json", "not valid JSON"),
        ("", "empty line"),
        ("[1, 2]", "not a JSON object"),
        ('"text"', "not a JSON object"),
        ("{" + '"a":' * 3, "not valid JSON"),
        (d(r(1, features={"x": 1}))[:-1] + ', "deep": ' + _deep(100_000) + "}", "not valid JSON"),
        # lone surrogates, anywhere (valid JSON, not Unicode text)
        (d(r(2))[:-1] + ', "prediction": "\\ud800"}', "a string holds a lone UTF-16 surrogate (not Unicode text)"),
        (d(r(3))[:-1] + ', "features": {"k\\udfff": 1}}', "a string holds a lone UTF-16 surrogate (not Unicode text)"),
        (d(r(4))[:-1] + ', "model": "m\\uDBFF"}', "a string holds a lone UTF-16 surrogate (not Unicode text)"),
        (d(r(5, prediction="\U0001f600")), None),  # a valid escaped pair below, a real emoji here
        (d(r(6))[:-1] + ', "error": "\\ud83d\\ude00"}', None),
        # control characters in names
        (d(r(7, features={"x\u0000": 1, "x": 2})), "a feature name holds a control character"),
        (d(r(8, features={"tab\there": 1})), "a feature name holds a control character"),
        (d({**r(9), "flat\u0001": 1}), "a feature name holds a control character"),
        (d(r(10, model="m\u0000")), "'model' holds a control character"),
        # required fields absent, null or empty
        *[(d(_without(r(20 + i), f)), f"missing required field '{f}'")
          for i, f in enumerate(("ts", "model", "version", "request_id", "prediction"))],
        *[(d(r(30 + i, **{f: None})), f"missing required field '{f}'")
          for i, f in enumerate(("ts", "model", "version", "request_id", "prediction"))],
        (d(r(40, model="")), "missing required field 'model'"),
        (d(r(41, request_id="")), "missing required field 'request_id'"),
        (d(_without(r(42, status="error", error="boom"), "prediction")), None),
        # each field with each wrong type
        *[(d(r(50 + i, model=v)), "'model' must be a string") for i, v in enumerate((7, True, {}, [1]))],
        *[(d(r(55 + i, version=v)), "'version' must be a string or a number") for i, v in enumerate((True, {}, [1]))],
        *[(d(r(60 + i, request_id=v)), "'request_id' must be a string") for i, v in enumerate((False, {"a": 1}, []))],
        *[(d(r(65 + i, prediction=v)), "'prediction' must be a number or a string") for i, v in enumerate((True, {}, [1]))],
        *[(d(r(70 + i, score=v)), "'score' must be a number") for i, v in enumerate(("0.5", True, {}))],
        *[(d(r(75 + i, latency_ms=v)), "'latency_ms' must be a number") for i, v in enumerate(("1", [], False))],
        *[(d(r(80 + i, cost_usd=v)), "'cost_usd' must be a number") for i, v in enumerate(("1", {}))],
        *[(d(r(85 + i, status=v)), "'status' must be \"ok\" or \"error\"") for i, v in enumerate(("maybe", 1, "OK"))],
        (d(r(90, error=5)), "'error' must be a string"),
        (d(r(91, label={"a": 1})), "'label' must be a number or a string"),
        *[(d(r(92 + i, features=v)), "'features' must be an object") for i, v in enumerate(("x", [1], 5))],
        *[(d(r(96 + i, ts=v)), "unreadable 'ts'") for i, v in enumerate((True, {}, [1], 9e99))],
        # numbers that are no id: NaN, infinities, overflow
        (d(r(100))[:-1] + ', "request_id": NaN}', "'request_id' is not a finite number"),
        (d(r(101))[:-1] + ', "request_id": 1e400}', "'request_id' is not a finite number"),
        (d(r(102))[:-1] + ', "version": Infinity}', "'version' is not a finite number"),
        (d(r(103))[:-1] + ', "version": -Infinity}', "'version' is not a finite number"),
        (d(r(104))[:-1] + ', "prediction": NaN}', "'prediction' must be a number or a string"),
        (d(r(105))[:-1] + ', "score": NaN}', "'score' outside [0, 1]"),
        (d(r(106))[:-1] + ', "latency_ms": Infinity}', "'latency_ms' must be a number"),
        (d(r(107))[:-1] + ', "label": NaN}', "'label' must be a number or a string"),
        (d({**r(108), "request_id": int("9" * 390 + str(ord(tag[0])))}), None),  # a huge integer id: its exact text
        # ranges
        (d(r(110, score=1.5)), "'score' outside [0, 1]"),
        (d(r(111, score=-0.0001)), "'score' outside [0, 1]"),
        (d(r(112, latency_ms=-1)), "negative 'latency_ms'"),
        (d(r(113, cost_usd=-1e-9)), "negative 'cost_usd'"),
        # model names become folder names
        (d(r(120, model="m" * 250)), "'model' longer than 80 bytes"),
        (d(r(121, model="é" * 41)), "'model' longer than 80 bytes"),
        (d(r(122, model="m/../../x" + "é" * 35)), None),  # 80 bytes, percent-encoded in the store
        (d(r(123, model="..")), None),
        # timestamps: RFC 3339 exactly
        *[(d(r(130 + i, ts=v)), None) for i, v in enumerate((
            "2026-11-01t12:00:00z", "2026-11-01T12:00:00z", "2026-11-01T13:00:00+01:00",
            "2026-11-01T12:00:00-00:00", "2026-11-01 12:00:00", "2026-11-01T12:00:00",
            "2026-11-01T12:00:00.123456789Z", "2016-12-31T23:59:60Z", "2024-02-29T00:00:00Z", 1762000000.25))],
        *[(d(r(150 + i, ts=v)), "unreadable 'ts'") for i, v in enumerate((
            "epoch", "infinity", "2026-11-01T12:00:00+25:00", "2026-11-01T12:00:00+01:60",
            "2026-11-01T12:00:00 America/New_York", "2026-11-01T24:00:00Z", "2026-11-01", "2026-11-01T12:00Z",
            "2026-11-01T12:00:00+0100", "2026-02-30T00:00:00Z", "2100-02-29T00:00:00Z", "2016-12-31T22:59:60Z",
            "2026-11-01T12:00:00.Z", " 2026-11-01T12:00:00Z", "1899-12-31T23:59:59Z", "2026-11-01T12:00:00ZZ",
            "\u0662\u0660\u0662\u0666-11-01T12:00:00Z", "yesterday", "2026-11-01T12:00:61Z"))],
        (d(r(179, ts="")), "missing required field 'ts'"),
        (d(r(180, ts=_future(0.99))), None),
        (d(r(181, ts=_future(1.01))), "'ts' in the future"),
        (d(r(182, ts="2031-01-01T00:00:00Z")), "'ts' in the future"),
        (d(r(183, ts=2_000_000_000)), "'ts' in the future"),
        # huge and odd values that are fine
        (d(r(190, prediction="p" * 100_000)), None),
        (d(r(191, features={"nested": {"a": [1, {"b": None}]}, "": 1, "é": "ü"})), None),
        (d(r(192, features={f"k{i}": i for i in range(300)})), None),
        (d(r(193, label=True)), None),
    ]
    return cases


def valid_lines(tag: str, n: int, **kw) -> list[tuple[str, str | None]]:
    return [(json.dumps(rec(f"{tag}-v{i}", features={"a": i}, **kw)), None) for i in range(n)]


def check(ws: Path, files: dict[str, list[tuple[str, str | None]]], **ing) -> None:
    """Write ``files`` (name → lines), ingest, and compare line by line; then a next file."""
    for name, lines in files.items():
        data = "".join(line + "\n" for line, _ in lines).encode("utf-8", errors="surrogatepass")
        path = ws / "logs" / name
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    expected_bad = Counter()
    expected_ok = 0
    for lines in files.values():
        for _, why in lines:
            if why is None:
                expected_ok += 1
            else:
                expected_bad[why] += 1
    result = Ingester(load_dir(ws), sync=False, **ing).run_once(wait=5)
    assert result.errors == []
    assert result.as_dict() == {"predictions": expected_ok, "labels": 0, "quarantined": sum(expected_bad.values()),
                                "duplicates": 0}
    for name, lines in files.items():
        src = str(ws / "logs" / name)
        got_bad = dict(query(ws, f"SELECT line, reason FROM quarantine WHERE source = '{src}'"))
        want_bad = {i + 1: why for i, (_, why) in enumerate(lines) if why is not None}
        assert {k: (v if not v.startswith("not valid JSON") else "not valid JSON") for k, v in got_bad.items()} == want_bad, name
        got_ok = sorted(r[0] for r in query(ws, f"SELECT line FROM predictions WHERE source = '{src}'"))
        assert got_ok == [i + 1 for i, (_, why) in enumerate(lines) if why is None], name
    # every record stored once; the store's views are readable; the next file is ingested
    assert query(ws, "SELECT count(*), count(DISTINCT (model, version, request_id)), count(status) FROM predictions") == [
        (expected_ok, expected_ok, expected_ok)]
    nxt = ws / "logs" / "zz-next.jsonl"
    nxt.write_text("".join(json.dumps(rec(f"next-{i}")) + "\n" for i in range(3)))
    again = Ingester(load_dir(ws), sync=False, **ing).run_once(wait=5)
    assert again.as_dict() == {"predictions": 3, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert query(ws, "SELECT sum(lag_bytes) FROM ingest_status") == [(0,)]


def test_each_bad_record_alone_in_its_own_file(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    check(ws, {f"alone-{i:03}.jsonl": [c] for i, c in enumerate(bad_lines("a"))})


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_bad_records_first_last_and_interleaved_in_big_blocks(tmp_path: Path, suffix: str) -> None:
    ws = write_workspace(tmp_path / "ws")
    mixed, runs = bad_lines("m"), bad_lines("r")
    check(ws, {
        f"first{suffix}": bad_lines("f")[:1] + valid_lines("f", 80),
        f"last{suffix}": valid_lines("l", 80) + bad_lines("l")[-13:-12],
        f"mixed{suffix}": [x for pair in zip(valid_lines("m", len(mixed)), mixed, strict=True) for x in pair],
        f"runs{suffix}": valid_lines("r1", 50) + runs + valid_lines("r2", 50),
    })


@pytest.mark.parametrize("field", ["ts", "model", "version", "request_id", "prediction"])
@pytest.mark.parametrize("where", ["fast-then-careful", "careful-then-fast", "whole-file"])
def test_a_field_absent_from_some_lines_is_missing_at_every_block_boundary(tmp_path: Path, field: str, where: str) -> None:
    """Lines without ``field`` next to lines with it: the fast parser takes one run, the careful
    parser another (a bad line forces the split), or small files are validated together."""
    ws = write_workspace(tmp_path / "ws")
    missing = f"missing required field '{field}'"
    lack = [(json.dumps(_without(rec(f"x{i}", features={"a": i}), field)), missing) for i in range(50)]
    have = valid_lines("h", 50)
    if where == "fast-then-careful":
        files = {"a.jsonl": lack + have[:-1] + [("garbage", "not valid JSON")]}
    elif where == "careful-then-fast":
        files = {"a.jsonl": have + lack[:-1] + [("garbage", "not valid JSON")]}
    else:  # two small files validated together, one lacking the field in every line
        files = {"a.jsonl": lack[:SLOW_BELOW + 3], "b.jsonl": have[:SLOW_BELOW + 3], "c.jsonl": lack[40:42]}
    check(ws, files)


@pytest.mark.parametrize("read_bytes,batch_rows", [(200, 7), (1000, 33), (64 << 10, 1)])
def test_tiny_blocks_and_batches_cut_everywhere(tmp_path: Path, read_bytes: int, batch_rows: int) -> None:
    ws = write_workspace(tmp_path / "ws")
    bad = [c for c in bad_lines("t") if len(c[0]) < 2000]  # a line longer than a block is read whole
    check(ws, {"a.jsonl": [x for pair in zip(valid_lines("t", len(bad)), bad, strict=True) for x in pair]},
          read_bytes=read_bytes, batch_rows=batch_rows)


def test_csv_corpus(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    header = "ts,model,version,request_id,prediction,score,a"
    rows = [
        ("2026-11-01T12:00:00Z,m,1,c1,1,0.5,3", None),
        ("2026-11-01t12:00:00z,m,1,c2,1,,x", None),
        (",m,1,c3,1,,", "missing required field 'ts'"),
        ("2026-11-01T12:00:00Z,,1,c4,1,,", "missing required field 'model'"),
        ("2026-11-01T12:00:00Z,m,,c5,1,,", "missing required field 'version'"),
        ("2026-11-01T12:00:00Z,m,1,,1,,", "missing required field 'request_id'"),
        ("2026-11-01T12:00:00Z,m,1,c7,,,", "missing required field 'prediction'"),
        ("epoch,m,1,c8,1,,", "unreadable 'ts'"),
        ("2026-11-01T24:00:00Z,m,1,c9,1,,", "unreadable 'ts'"),
        ("1762000000,m,1,c10,1,,", None),
        (f"{_future(2)},m,1,c11,1,,", "'ts' in the future"),
        ("2026-11-01T12:00:00Z," + "m" * 250 + ",1,c12,1,,", "'model' longer than 80 bytes"),
        ("2026-11-01T12:00:00Z,m,1,c13,1,1.5,", "'score' outside [0, 1]"),
        ("2026-11-01T12:00:00Z,m,1,c14,1,NaN,", "'score' must be a number"),
        ("2026-11-01T12:00:00Z,m,NaN,c15,1,,", None),  # a CSV cell is text: version "NaN"
        ("2026-11-01T12:00:00Z,m,1,c16", "expected 7 fields, got 4"),
        ('2026-11-01T12:00:00Z,m,1,"c17,1,,', "not valid CSV"),
    ]
    lines = []
    for i in range(3):  # first, in the middle of big blocks, last
        lines += [(line.replace(",c", f",k{i}c", 1), why) for line, why in rows] + [
            (f"2026-11-01T12:00:00Z,m,1,pad{i}-{j},1,,{j}", None) for j in range(40)]
    for name in ("a.csv", "b.csv.gz"):
        data = (header + "\n" + "".join(line + "\n" for line, _ in lines)).encode()
        (ws / "logs" / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    result = Ingester(load_dir(ws), sync=False).run_once(wait=5)
    ok = sum(1 for _, why in lines if why is None)
    assert result.as_dict() == {"predictions": ok, "labels": 0, "quarantined": 2 * (len(lines) - ok), "duplicates": ok}
    for name in ("a.csv", "b.csv.gz"):
        got = dict(query(ws, f"SELECT line, reason FROM quarantine WHERE source = '{ws / 'logs' / name}'"))
        want = {i + 2: why for i, (_, why) in enumerate(lines) if why is not None}
        assert {k: ("not valid CSV" if v.startswith("not valid CSV") else v) for k, v in got.items()} == want
    assert query(ws, "SELECT version FROM predictions WHERE request_id = 'k0c15'") == [("NaN",)]


def test_csv_header_names_with_control_characters_or_meta_names(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    header = "ts,model,version,request_id,prediction,x\x00,_line,_reason,x,x"
    body = [f"2026-11-01T12:00:00Z,m,1,r{i},1,{'' if i % 2 else 5},77,boom,{i},dup" for i in range(70)]
    (ws / "logs" / "a.csv").write_text(header + "\n" + "\n".join(body) + "\n")
    assert Ingester(load_dir(ws), sync=False).run_once().as_dict() == {
        "predictions": 35, "labels": 0, "quarantined": 35, "duplicates": 0}
    assert query(ws, "SELECT DISTINCT reason FROM quarantine") == [("a feature name holds a control character",)]
    assert query(ws, "SELECT count(*) FROM predictions WHERE f__line = 77 AND f__reason = 'boom' AND f_x = line - 2") == [(35,)]


def test_parquet_corpus_across_record_batches(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    n = 100
    ts = [f"2026-11-01T12:00:{i % 60:02}Z" for i in range(n)]
    model = ["m"] * n
    version = [1.0] * n
    rid = [f"p{i}" for i in range(n)]
    pred = [1.0] * n
    expect: dict[int, str] = {}
    for i in (0, 39, 40, 41, 99):  # first, around a record-batch boundary (40 rows), last
        expect[i] = "missing required field 'prediction'"
        pred[i] = None
    for i, (col, value, why) in enumerate([
        (ts, "epoch", "unreadable 'ts'"), (ts, "2026-11-01t12:00:00z", None), (ts, _future(3), "'ts' in the future"),
        (model, "m" * 250, "'model' longer than 80 bytes"), (model, None, "missing required field 'model'"),
        (version, float("nan"), "'version' is not a finite number"), (version, float("inf"), "'version' is not a finite number"),
        (rid, None, "missing required field 'request_id'"), (rid, "", "missing required field 'request_id'"),
    ]):
        col[10 + i * 9] = value
        if why:
            expect[10 + i * 9] = why
    table = pa.table({"ts": ts, "model": model, "version": version, "request_id": rid, "prediction": pred,
                      "a": list(range(n)), "b\x01": [None if i != 56 else 1 for i in range(n)]})
    expect[56] = "a feature name holds a control character"
    pq.write_table(table, ws / "logs" / "a.parquet", row_group_size=40)
    feats = pa.StructArray.from_arrays([pa.array([1] * 3), pa.array([None, 2, None])], names=["ok", "bad\x00"])
    pq.write_table(pa.table({"ts": ["2026-11-01T12:00:00Z"] * 3, "model": ["m"] * 3, "version": ["9"] * 3,
                             "request_id": ["s1", "s2", "s3"], "prediction": [1] * 3, "features": feats}), ws / "logs" / "b.parquet")
    result = Ingester(load_dir(ws), sync=False, batch_rows=40).run_once(wait=5)
    assert result.errors == []
    assert result.as_dict() == {"predictions": n - len(expect) + 2, "labels": 0, "quarantined": len(expect) + 1, "duplicates": 0}
    got = dict(query(ws, f"SELECT line, reason FROM quarantine WHERE source = '{ws / 'logs' / 'a.parquet'}'"))
    assert got == {i + 1: why for i, why in expect.items()}
    assert query(ws, f"SELECT line, reason FROM quarantine WHERE source = '{ws / 'logs' / 'b.parquet'}'") == [
        (2, "a feature name holds a control character")]
    assert query(ws, "SELECT count(*) FROM predictions WHERE version = '1' AND f_a IS NOT NULL") == [(n - len(expect),)]


def test_too_many_distinct_features_per_model_is_bounded_and_counted(tmp_path: Path) -> None:
    """1,000 records × 20 features each, 20,000 distinct names: the first 50 records (1,000
    features) are stored, the rest quarantined with the reason; other models are unaffected;
    the cap holds across passes and is configurable."""
    ws = write_workspace(tmp_path / "ws")
    lines = [(json.dumps(rec(f"w{i}", features={f"f{i}_{j}": j for j in range(20)})), None if i < 50 else CAP)
             for i in range(1000)]
    lines += [(json.dumps(rec(f"o{i}", model="other", features={"k": i})), None) for i in range(5)]
    check(ws, {"a.jsonl": lines})
    assert query(ws, "SELECT count(*) FROM features WHERE model = 'm'") == [(1000,)]
    # a known feature is still fine; a new one is not (store-wide, across passes)
    (ws / "logs" / "b.jsonl").write_text(json.dumps(rec("k1", features={"f0_0": 1})) + "\n"
                                         + json.dumps(rec("k2", features={"new": 1})) + "\n")
    assert Ingester(load_dir(ws), sync=False).run_once().as_dict() == {
        "predictions": 1, "labels": 0, "quarantined": 1, "duplicates": 0}
    # configurable
    ws2 = write_workspace(tmp_path / "ws2", extra_toml="\n[ingest]\nmax_features_per_model = 3\n")
    (ws2 / "logs" / "a.jsonl").write_text("".join(
        json.dumps(rec(f"r{i}", features={f"f{i}": 1, "g": 2})) + "\n" for i in range(4)))
    assert Ingester(load_dir(ws2), sync=False).run_once().as_dict() == {
        "predictions": 2, "labels": 0, "quarantined": 2, "duplicates": 0}
    assert query(ws2, "SELECT DISTINCT reason FROM quarantine") == [
        ("too many distinct features for this model (max_features_per_model = 3)",)]


def test_future_skew_is_configurable_and_a_future_record_does_not_silence_alerts(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws", extra_toml='\n[ingest]\nmax_future_skew = "2d"\n')
    (ws / "logs" / "a.jsonl").write_text("".join(json.dumps(rec(f"r{i}", ts=_future(h))) + "\n"
                                                 for i, h in enumerate((1, 47, 49, 24 * 365 * 5))))
    assert Ingester(load_dir(ws), sync=False).run_once().as_dict() == {
        "predictions": 2, "labels": 0, "quarantined": 2, "duplicates": 0}
    assert query(ws, "SELECT max(ts) FROM predictions")[0][0] < clock.now_naive() + dt.timedelta(days=2)
    for bad in ('max_future_skew = "soon"', "max_future_skew = 3", "max_features_per_model = 0",
                'max_features_per_model = "9"'):
        ws_bad = write_workspace(tmp_path / f"bad{abs(hash(bad))}", extra_toml=f"\n[ingest]\n{bad}\n")
        with pytest.raises(WorkspaceError, match=r"\[ingest\]"):
            Ingester(load_dir(ws_bad), sync=False)
