"""Live files: an incomplete last line waits; rename rotation, copy-truncate and gzip of rotated
files lose nothing and count nothing twice."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

from tests.test_ingest_formats import ingest, query, rec


def lines(ids) -> str:
    return "".join(json.dumps(rec(str(i), features={"x": i})) + "\n" for i in ids)


def stored_ids(ws: Path) -> list[str]:
    return sorted(r[0] for r in query(ws, "SELECT request_id FROM predictions"))


def expect(ids) -> list[str]:
    return sorted(str(i) for i in ids)


def test_incomplete_last_line_waits_then_counts_once(workspace_dir: Path) -> None:
    path = workspace_dir / "logs" / "app.jsonl"
    full = json.dumps(rec("late"))
    path.write_text(lines([1]) + full[:10])
    assert ingest(workspace_dir)["predictions"] == 1
    with open(path, "a") as fh:
        fh.write(full[10:])
    assert ingest(workspace_dir) == {"predictions": 0, "labels": 0, "quarantined": 0, "duplicates": 0}
    with open(path, "a") as fh:
        fh.write("\n")
    assert ingest(workspace_dir)["predictions"] == 1
    assert ingest(workspace_dir)["predictions"] == 0
    assert stored_ids(workspace_dir) == ["1", "late"]


def test_rename_rotation(workspace_dir: Path) -> None:
    logs = workspace_dir / "logs"
    (logs / "app.jsonl").write_text(lines(range(0, 50)))
    assert ingest(workspace_dir)["predictions"] == 50
    with open(logs / "app.jsonl", "a") as fh:
        fh.write(lines(range(50, 60)))  # written before the rotation, not yet ingested
    os.rename(logs / "app.jsonl", logs / "app-2026-11-01.jsonl")
    (logs / "app.jsonl").write_text(lines(range(60, 70)))
    assert ingest(workspace_dir) == {"predictions": 20, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert stored_ids(workspace_dir) == expect(range(70))


def test_copy_truncate(workspace_dir: Path) -> None:
    logs = workspace_dir / "logs"
    app = logs / "app.jsonl"
    app.write_text(lines(range(0, 40)))
    assert ingest(workspace_dir)["predictions"] == 40
    with open(app, "a") as fh:
        fh.write(lines(range(40, 45)))
    shutil.copyfile(app, logs / "app-1.jsonl")
    with open(app, "r+") as fh:
        fh.truncate(0)
    with open(app, "a") as fh:
        fh.write(lines(range(45, 48)))
    assert ingest(workspace_dir) == {"predictions": 8, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert stored_ids(workspace_dir) == expect(range(48))


def test_copy_truncate_csv_keeps_header(workspace_dir: Path) -> None:
    logs = workspace_dir / "logs"
    app = logs / "app.csv"
    header = "ts,model,version,request_id,prediction\n"
    row = lambda i: f"2026-11-01T00:00:00Z,m,1,{i:04d},1\n"  # noqa: E731
    app.write_text(header + "".join(row(i) for i in range(5)))
    assert ingest(workspace_dir)["predictions"] == 5
    with open(app, "a") as fh:
        fh.write(row(5))
    shutil.copyfile(app, logs / "app-1.csv")
    app.write_text(header + row(6))  # truncate + new header + row
    assert ingest(workspace_dir) == {"predictions": 2, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert stored_ids(workspace_dir) == [f"{i:04d}" for i in range(7)]


def gzip_file(src: Path) -> Path:
    dst = src.with_name(src.name + ".gz")
    with open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    src.unlink()
    return dst


def test_gzip_of_rotated_file_is_not_ingested_twice(workspace_dir: Path) -> None:
    logs = workspace_dir / "logs"
    (logs / "app.jsonl").write_text(lines(range(0, 30)))
    assert ingest(workspace_dir)["predictions"] == 30
    os.rename(logs / "app.jsonl", logs / "app-1.jsonl")
    gzip_file(logs / "app-1.jsonl")
    assert ingest(workspace_dir) == {"predictions": 0, "labels": 0, "quarantined": 0, "duplicates": 0}
    # rotated with an un-ingested tail, then gzipped before the console looked again
    (logs / "app.jsonl").write_text(lines(range(30, 40)))
    assert ingest(workspace_dir)["predictions"] == 10
    with open(logs / "app.jsonl", "a") as fh:
        fh.write(lines(range(40, 45)))
    os.rename(logs / "app.jsonl", logs / "app-2.jsonl")
    gzip_file(logs / "app-2.jsonl")
    assert ingest(workspace_dir) == {"predictions": 5, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert stored_ids(workspace_dir) == expect(range(45))
    status = query(workspace_dir, "SELECT source, rows, duplicates FROM ingest_status ORDER BY source")
    assert [(Path(s).name, r, d) for s, r, d in status] == [("app-1.jsonl.gz", 30, 0), ("app-2.jsonl.gz", 15, 0)]


def test_line_over_size_limit_is_quarantined_in_pieces(workspace_dir: Path) -> None:
    from console.ingest.formats import MAX_LINE

    path = workspace_dir / "logs" / "big.jsonl"
    with open(path, "w") as fh:
        fh.write(lines([1]))
        fh.write('{"ts": "' + "x" * (MAX_LINE * 20) + '"}\n')
        fh.write(lines([2]))
    assert ingest(workspace_dir) == {"predictions": 2, "labels": 0, "quarantined": 1, "duplicates": 0}
    [(line, offset, reason, raw_len)] = query(workspace_dir, "SELECT line, byte_offset, reason, length(raw) FROM quarantine")
    assert (line, reason) == (2, f"line longer than {MAX_LINE} bytes")
    assert offset == len(lines([1])) and raw_len == 1024


def test_logs_deleted_long_ago_are_forgotten(workspace_dir: Path) -> None:
    import datetime as dt

    from console import clock

    logs = workspace_dir / "logs"
    (logs / "old.jsonl").write_text(lines(range(3)))
    (logs / "new.jsonl").write_text(lines(range(3, 5)))
    assert ingest(workspace_dir)["predictions"] == 5
    (logs / "old.jsonl").unlink()
    ingest(workspace_dir)
    cp_path = workspace_dir / ".console" / "checkpoint.json"
    doc = json.loads(cp_path.read_text())
    gone = [s for s in doc["sources"].values() if s["gone"]]
    assert [Path(s["path"]).name for s in gone] == ["old.jsonl"] and gone[0]["gone_since"]
    for s in gone:  # pretend it went away eight days ago
        s["gone_since"] = (clock.now() - dt.timedelta(days=8)).isoformat()
    cp_path.write_text(json.dumps(doc))
    ingest(workspace_dir)
    assert [Path(s).name for (s,) in query(workspace_dir, "SELECT source FROM ingest_status")] == ["new.jsonl"]
    assert stored_ids(workspace_dir) == expect(range(5))
