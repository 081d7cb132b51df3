"""The store's read boundary: ``open_store`` gives an immutable snapshot; analytics uses only the
``StoreSnapshot`` Protocol; the TUI runs no SQL of its own; one runner (memo, cancellation) for
the command line and the TUI."""

from __future__ import annotations

import ast
import datetime as dt
import gc
import re
import threading
from pathlib import Path

import pytest

import console.analytics as analytics_pkg
import console.tui as tui_pkg
from console.analytics.runner import Cancelled, Runner
from console.ingest.engine import Ingester
from console.store.db import open_store
from console.store.snapshot import PROTOCOL_MEMBERS, Memo, StoreSnapshot
from console.workspace import load_dir
from tests.analytics_support import TableStore
from tests.test_ingest_formats import rec, write_jsonl

SNAPSHOT_TYPES = {"StoreLike", "StoreSnapshot"}
SQL_TEXT = re.compile(r"\b(SELECT|DESCRIBE|SUMMARIZE)\b")  # the analyst's editor (query.py) may hold SQL
MEMO_MEMBERS = {n for n in vars(Memo) if not n.startswith("_")}


def _modules(pkg) -> list[Path]:
    return sorted(Path(pkg.__file__).parent.rglob("*.py"))


def _snapshot_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Parameters of ``fn`` that are a store snapshot: named ``db`` or annotated as one."""
    names = set()
    args = fn.args
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        ann = ast.unparse(a.annotation).strip("'\"") if a.annotation is not None else ""
        if a.arg == "db" or ann in SNAPSHOT_TYPES:
            names.add(a.arg)
    return names


def protocol_violations(path: Path) -> list[str]:
    """Every use of a snapshot in ``path`` beyond ``StoreSnapshot``'s surface."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        names = _snapshot_names(fn)
        if not names:
            continue
        for node in ast.walk(fn):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
                if node.attr not in PROTOCOL_MEMBERS:
                    out.append(f"{where}: {node.value.id}.{node.attr}")
                elif isinstance(node.ctx, (ast.Store, ast.Del)):
                    out.append(f"{where}: assigns {node.value.id}.{node.attr}")
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and isinstance(node.value.value, ast.Name) and node.value.value.id in names
                    and node.value.attr == "memo" and node.attr not in MEMO_MEMBERS | {"namespace"}):
                out.append(f"{where}: {node.value.value.id}.memo.{node.attr}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "setattr", "hasattr", "delattr", "vars")
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in names):
                out.append(f"{where}: {node.func.id}({node.args[0].id}, ...)")
    return out


def test_analytics_uses_only_the_snapshot_protocol() -> None:
    assert PROTOCOL_MEMBERS == {"batch", "registry", "production", "config", "store_dir", "cache_dir",
                                "memo", "cursor", "parts", "labelled_subset", "training_usd", "alone"}
    found = [v for path in _modules(analytics_pkg) for v in protocol_violations(path)]
    assert found == []


def test_the_protocol_check_catches_a_reach_past_the_boundary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(db, x):\n    db._memo = 1\n    return getattr(db, 'ws', None), db.layout, db.memo.x\n"
                   "def g(store: 'StoreSnapshot'):\n    return store.checkpoint\n")
    assert [v.split(": ", 1)[1] for v in protocol_violations(bad)] == [
        "db._memo", "getattr(db, ...)", "db.layout", "db.memo.x", "store.checkpoint"]


def test_the_tui_runs_no_sql_of_its_own() -> None:
    found = []
    for path in _modules(tui_pkg):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("cursor", "sql", "fetchone", "fetchall"):
                found.append(f"{path.name}:{node.lineno}: .{node.func.attr}(")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and SQL_TEXT.search(node.value) and path.name != "query.py":
                found.append(f"{path.name}:{node.lineno}: SQL text")
    assert found == []


def _ingest(ws: Path, name: str, ids: list[str]) -> None:
    write_jsonl(ws / "logs" / f"{name}.jsonl", [rec(i) for i in ids])
    Ingester(load_dir(ws), sync=False).run_once(wait=5)


def test_a_snapshot_is_immutable_and_keeps_reading_its_batch(workspace_dir: Path) -> None:
    _ingest(workspace_dir, "a", ["r1", "r2"])
    old = open_store(load_dir(workspace_dir), production={"m": "1"})
    snap: StoreSnapshot = old  # the concrete snapshot has the Protocol's surface
    assert snap.batch == 1
    with pytest.raises(AttributeError):
        old.batch = 7  # type: ignore[misc]
    with pytest.raises(TypeError):
        old.production["m"] = "2"  # type: ignore[index]
    assert old.refresh() is old  # nothing new: the same snapshot
    _ingest(workspace_dir, "b", ["r3", "r4", "r5"])
    new = old.refresh()
    assert new is not old and (old.batch, new.batch) == (1, 2)
    count = "SELECT count(*) FROM predictions"
    assert old.cursor().execute(count).fetchone() == (2,)  # the old one still reads batch 1
    assert new.cursor().execute(count).fetchone() == (5,)
    assert len(old.parts("m")) == 1 and len(new.parts("m")) == 2
    day = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)  # the records' day: parts are found by day
    assert len(new.parts("m", day, day + dt.timedelta(days=1))) == 2
    assert new.parts("m", day + dt.timedelta(days=1)) == [] and new.parts("m", None, day) == []
    assert new.parts("other") == []
    assert old.memo is not new.memo and old.memo.namespace == new.memo.namespace
    fleet = new.with_fleet({("m", "1"): "production"}, {"m": "2"})
    assert fleet is not new and new.production == {"m": "1"} and fleet.production == {"m": "2"}
    assert new.cursor().execute(count).fetchone() == (5,)


def test_views_of_a_snapshot_nobody_holds_are_dropped(workspace_dir: Path) -> None:
    db = open_store(load_dir(workspace_dir))
    for _ in range(5):
        db = db.refresh(force=True)
        gc.collect()
    schemas = db.cursor().execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE schema_name LIKE 's%' AND NOT internal").fetchone()[0]
    assert schemas <= 2  # the current one (and at most one not dropped yet), not one per refresh
    db.close()


def test_the_runner_memo_lives_with_the_snapshot(workspace_dir: Path) -> None:
    _ingest(workspace_dir, "a", ["r1", "r2"])
    db = open_store(load_dir(workspace_dir), production={"m": "1"})
    runner = Runner()
    first = runner.run(db, "ops_report", model="m", window="all")
    assert runner.remembered(db, "ops_report", model="m", window="all", version=None)
    assert runner.run(db, "ops_report", model="m", window="all") is first
    newer = db.refresh(force=True)
    assert not runner.remembered(newer, "ops_report", model="m", window="all")


class _Slow:
    """A report that runs one DuckDB query long enough to need interrupting."""

    def __init__(self) -> None:
        self.entered: dict[str, threading.Event] = {}

    def __call__(self, db, who: str = ""):
        cur = db.cursor()
        self.entered[who].set()
        return cur.execute("SELECT sum(hash(i)) FROM range(1000000000000) t(i)").fetchall()


def _start(runner: Runner, slow: _Slow, who: str, tag=None) -> tuple[threading.Thread, list]:
    slow.entered[who] = threading.Event()
    got: list[BaseException] = []

    def run() -> None:
        try:
            runner.run(TableStore(), "slow_report", tag=tag, who=who)
        except BaseException as exc:  # noqa: BLE001 - what the report raised
            got.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert slow.entered[who].wait(30)
    return worker, got


def _cancel_until_done(runner: Runner, worker: threading.Thread, stale=None) -> None:
    while worker.is_alive():  # the query may not have started at the first interrupt
        runner.cancel(stale)
        worker.join(0.05)


def test_cancel_interrupts_a_running_report(monkeypatch) -> None:
    slow = _Slow()
    monkeypatch.setattr(analytics_pkg, "slow_report", slow, raising=False)
    runner = Runner()
    worker, got = _start(runner, slow, "a")
    _cancel_until_done(runner, worker)
    assert len(got) == 1 and isinstance(got[0], Cancelled)


def test_cancel_of_stale_runs_leaves_the_current_one(monkeypatch) -> None:
    """The TUI tags each run with its worker and cancels those of replaced workers only."""
    slow = _Slow()
    monkeypatch.setattr(analytics_pkg, "slow_report", slow, raising=False)
    runner = Runner()
    old_tag, new_tag = {"stale": True}, {"stale": False}
    old, old_got = _start(runner, slow, "old", old_tag)
    new, new_got = _start(runner, slow, "new", new_tag)
    _cancel_until_done(runner, old, lambda tag: tag["stale"])
    assert len(old_got) == 1 and isinstance(old_got[0], Cancelled)
    assert new.is_alive() and new_got == []
    _cancel_until_done(runner, new)
    assert len(new_got) == 1 and isinstance(new_got[0], Cancelled)


# DuckDB's memory_limit is one pool for the store: a materialised list result held by one report
# (the hog) leaves too little for another's list aggregate, which fits alone (checked by hand:
# 83 MB held of 100 MB)
HOLD = "SELECT list(i) AS l FROM range(4000000) t(i)"
NEED = "SELECT length(list(i)) FROM range(4000000) t(i)"


class _Memory:
    """Two reports on one small DuckDB: ``hog`` holds most of its memory until released; ``big``
    needs it, so it runs out while the hog holds it — and fits alone."""

    def __init__(self) -> None:
        self.store = TableStore()
        self.store.conn.execute("SET memory_limit = '100MB'")
        self.store.conn.execute("SET threads = 1")
        self.holding, self.release, self.ran_out = threading.Event(), threading.Event(), threading.Event()
        self.order: list[str] = []

    def hog(self, db) -> str:
        cur = db.cursor()
        cur.execute(HOLD)  # materialised, not fetched: held in the buffer pool
        self.holding.set()
        assert self.release.wait(30)
        cur.close()
        self.order.append("hog done")
        return "hog"

    def big(self, db) -> int:
        self.order.append("big")
        try:
            if len([o for o in self.order if o == "big"]) > 1:
                with db.alone():  # re-entered by a run already alone (the alert rules do): no wait
                    return db.cursor().execute(NEED).fetchall()[0][0]
            return db.cursor().execute(NEED).fetchall()[0][0]
        except Exception:
            self.ran_out.set()
            raise


def _thread(fn) -> tuple[threading.Thread, list]:
    got: list = []

    def run() -> None:
        try:
            got.append(fn())
        except BaseException as exc:  # noqa: BLE001 - what the report raised
            got.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t, got


def test_a_report_out_of_duckdb_memory_runs_again_alone(monkeypatch) -> None:
    mem = _Memory()
    monkeypatch.setattr(analytics_pkg, "hog_report", mem.hog, raising=False)
    monkeypatch.setattr(analytics_pkg, "big_report", mem.big, raising=False)
    runner = Runner()
    hog, hog_got = _thread(lambda: runner.run(mem.store, "hog_report"))
    assert mem.holding.wait(30)
    big, big_got = _thread(lambda: runner.run(mem.store, "big_report"))
    assert mem.ran_out.wait(30)  # beside the hog, DuckDB has no memory for it
    mem.release.set()
    hog.join(30)
    big.join(30)
    assert hog_got == ["hog"] and big_got == [4_000_000]  # not an error: run again, and it fit
    assert mem.order == ["big", "hog done", "big"]  # again only once the hog had finished
    assert runner.remembered(mem.store, "big_report")


def test_a_run_waiting_to_go_alone_can_be_cancelled(monkeypatch) -> None:
    mem = _Memory()
    monkeypatch.setattr(analytics_pkg, "hog_report", mem.hog, raising=False)
    monkeypatch.setattr(analytics_pkg, "big_report", mem.big, raising=False)
    runner = Runner()
    hog, hog_got = _thread(lambda: runner.run(mem.store, "hog_report", tag="current"))
    assert mem.holding.wait(30)
    big, big_got = _thread(lambda: runner.run(mem.store, "big_report", tag="stale"))
    assert mem.ran_out.wait(30)
    while big.is_alive():  # it may not be waiting yet at the first cancel
        runner.cancel(lambda tag: tag == "stale")
        big.join(0.05)
    assert len(big_got) == 1 and isinstance(big_got[0], Cancelled) and hog.is_alive()
    mem.release.set()
    hog.join(30)
    assert hog_got == ["hog"] and mem.order == ["big", "hog done"]
