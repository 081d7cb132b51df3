"""Symbolic links in the source folders: never followed out of them unless ``[sources]
follow_links = true``; a link not followed is reported (a warning and an ``ingest_status``
row), never silently ignored and never read — root's cron must not copy /etc/shadow into the
quarantine every member can read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from console.ingest.engine import Ingester
from console.store.db import open_store
from console.workspace import load_dir
from tests.conftest import write_workspace
from tests.frozen_time import CONSOLE


def rec(rid: str) -> str:
    return json.dumps({"ts": "2026-11-01T12:00:00Z", "model": "m", "version": "1", "request_id": rid,
                       "prediction": 1})


def setup(tmp_path: Path, extra_toml: str = "") -> tuple[Path, Path, Path]:
    root = write_workspace(tmp_path / "ws", extra_toml=extra_toml)
    (root / "logs" / "app.jsonl").write_text(rec("a1") + "\n")
    secret = tmp_path / "outside" / "shadow.jsonl"  # a file the ingesting account may read
    secret.parent.mkdir()
    secret.write_text("root:$6$secret-hash:19000:0:99999:7:::\n" + rec("stolen") + "\n")
    return root, secret, secret.parent


def run(root: Path) -> tuple[dict, list[str]]:
    ing = Ingester(load_dir(root), sync=False)
    try:
        result = ing.run_once(wait=5)
    finally:
        ing.close()
    return result.as_dict(), result.errors


def rows(root: Path, sql: str) -> list[tuple]:
    db = open_store(load_dir(root))
    try:
        return db.cursor().execute(sql).fetchall()
    finally:
        db.close()


def test_a_link_out_of_the_source_folders_is_reported_not_read(tmp_path: Path) -> None:
    root, secret, outside = setup(tmp_path)
    (root / "logs" / "shadow.jsonl").symlink_to(secret)
    (root / "labels" / "elsewhere").symlink_to(outside, target_is_directory=True)
    counts, errors = run(root)
    assert counts["predictions"] == 1 and counts["quarantined"] == 0
    assert len(errors) == 2 and all("outside the source folders" in e for e in errors)
    assert any(str(secret) in e for e in errors)
    assert rows(root, "SELECT count(*) FROM quarantine WHERE raw LIKE '%secret-hash%'") == [(0,)]
    assert rows(root, "SELECT count(*) FROM predictions WHERE request_id = 'stolen'") == [(0,)]
    status = dict(rows(root, "SELECT source, last_error FROM ingest_status WHERE rows = 0"))
    assert set(status) == {str(root / "logs" / "shadow.jsonl"), str(root / "labels" / "elsewhere")}
    assert all("follow_links" in why for why in status.values())
    # a follower reports a link once (its first pass), not every pass; the status row stays
    ing = Ingester(load_dir(root), sync=False)
    try:
        assert len(ing.run_once().errors) == 2
        assert ing.run_once().errors == []
    finally:
        ing.close()
    assert len(rows(root, "SELECT * FROM ingest_status WHERE last_error LIKE '%follow_links%'")) == 2


def test_a_link_inside_the_source_folders_is_read(tmp_path: Path) -> None:
    root, _secret, _outside = setup(tmp_path)
    (root / "logs" / "2026").mkdir()
    (root / "logs" / "2026" / "real.jsonl").write_text(rec("r1") + "\n")
    (root / "logs" / "current.jsonl").symlink_to(root / "logs" / "2026" / "real.jsonl")
    (root / "logs" / "alias").symlink_to(root / "logs" / "2026", target_is_directory=True)
    counts, errors = run(root)
    assert errors == []
    assert counts["predictions"] == 2  # a1 and r1 (read twice through the link: a duplicate)
    assert rows(root, "SELECT count(*) FROM ingest_status WHERE last_error IS NOT NULL") == [(0,)]


def test_follow_links_true_reads_links_anywhere(tmp_path: Path) -> None:
    root, secret, outside = setup(tmp_path)
    text = (root / "console.toml").read_text().replace('registry = "registry"', 'registry = "registry"\nfollow_links = true')
    (root / "console.toml").write_text(text)
    (root / "logs" / "shadow.jsonl").symlink_to(secret)
    (root / "logs" / "more").symlink_to(outside, target_is_directory=True)
    counts, errors = run(root)
    assert counts["predictions"] == 2  # a1 and stolen (the second copy of it is a duplicate)
    assert counts["quarantined"] == 2 and counts["duplicates"] == 1
    assert not any("outside the source folders" in e for e in errors)


def test_follow_links_must_be_a_boolean(tmp_path: Path) -> None:
    root, _secret, _outside = setup(tmp_path)
    text = (root / "console.toml").read_text().replace('registry = "registry"', 'registry = "registry"\nfollow_links = "yes"')
    (root / "console.toml").write_text(text)
    proc = subprocess.run([*CONSOLE, "ingest", "--workspace", str(root)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "follow_links must be true or false" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_cli_warns_about_a_link_not_followed(tmp_path: Path) -> None:
    root, secret, _outside = setup(tmp_path)
    (root / "logs" / "shadow.jsonl").symlink_to(secret)
    proc = subprocess.run([*CONSOLE, "ingest", "--format", "json", "--workspace", str(root)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["predictions"] == 1
    assert f"mlops-console: warning: {root / 'logs' / 'shadow.jsonl'}: symbolic link to a file {secret}" in proc.stderr
    assert "secret-hash" not in proc.stdout + proc.stderr
