"""The ingest lock seen from the CLI, and dedupe that survives a change of hash function."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from console.ingest.lock import IngestLock
from console.store.layout import StoreLayout
from tests.frozen_time import CONSOLE
from tests.test_ingest_formats import ingest, query, rec, write_jsonl


def test_second_ingest_reports_the_holder_and_exits_1(workspace_dir: Path) -> None:
    write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec("a")])
    lock = IngestLock(StoreLayout(workspace_dir / ".console").lock_path)
    assert lock.try_acquire()
    try:
        out = subprocess.run([*CONSOLE, "-w", str(workspace_dir), "ingest", "--wait", "0.2",
                              "--format", "json"], capture_output=True, text=True, timeout=60)
    finally:
        lock.release()
    assert out.returncode == 1 and out.stdout == ""
    assert f"another console (pid {__import__('os').getpid()}) is ingesting" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert ingest(workspace_dir)["predictions"] == 1


def test_dedupe_holds_when_the_stored_hash_is_from_another_hasher(workspace_dir: Path) -> None:
    write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec(str(i)) for i in range(20)])
    assert ingest(workspace_dir)["predictions"] == 20
    cp_path = workspace_dir / ".console" / "checkpoint.json"
    doc = json.loads(cp_path.read_text())
    doc["hasher"] = "some-older-polars"
    cp_path.write_text(json.dumps(doc))
    write_jsonl(workspace_dir / "logs" / "b.jsonl", [rec(str(i)) for i in range(15, 25)])
    assert ingest(workspace_dir) == {"predictions": 5, "labels": 0, "quarantined": 0, "duplicates": 5}
    write_jsonl(workspace_dir / "logs" / "c.jsonl", [rec(str(i)) for i in range(0, 30)])
    assert ingest(workspace_dir) == {"predictions": 5, "labels": 0, "quarantined": 0, "duplicates": 25}
    assert query(workspace_dir, "SELECT count(*), count(DISTINCT request_id) FROM predictions") == [(30, 30)]


def test_deleting_the_store_rebuilds_it(workspace_dir: Path) -> None:
    import shutil

    write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec("a"), "bad", rec("a")])
    first = ingest(workspace_dir)
    shutil.rmtree(workspace_dir / ".console")
    assert ingest(workspace_dir) == first == {"predictions": 1, "labels": 0, "quarantined": 1, "duplicates": 1}


def test_saved_key_index_is_used_and_topped_up_from_newer_parts(workspace_dir: Path) -> None:
    from console.ingest.engine import Ingester
    from console.workspace import load_dir

    ws = load_dir(workspace_dir)
    write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec(str(i)) for i in range(50)])
    assert Ingester(ws, sync=False, index_min_new=10).run_once().predictions == 50
    saved = list((workspace_dir / ".console" / "keys").glob("keys-*.npy"))
    assert len(saved) == 1 and saved[0].name.endswith("-b1.npy")
    # a batch the index does not cover (fewer new keys than the threshold: no new index)
    write_jsonl(workspace_dir / "logs" / "b.jsonl", [rec(str(i)) for i in range(50, 55)])
    assert Ingester(ws, sync=False, index_min_new=10).run_once().predictions == 5
    assert [p.name for p in (workspace_dir / ".console" / "keys").glob("*.npy")] == [saved[0].name]
    # a fresh process: index (b1) + the newer part (b2) → every old key is a duplicate
    write_jsonl(workspace_dir / "logs" / "c.jsonl", [rec(str(i)) for i in range(0, 60)])
    assert Ingester(ws, sync=False).run_once().as_dict() == {
        "predictions": 5, "labels": 0, "quarantined": 0, "duplicates": 55}
    # the index is derived data: without it the keys come from the parts
    for p in (workspace_dir / ".console" / "keys").glob("*.npy"):
        p.unlink()
    write_jsonl(workspace_dir / "logs" / "d.jsonl", [rec(str(i)) for i in range(0, 61)])
    assert Ingester(ws, sync=False).run_once().as_dict() == {
        "predictions": 1, "labels": 0, "quarantined": 0, "duplicates": 60}


def test_the_key_sets_bitmap_grows_with_it_and_lets_few_absent_keys_through(monkeypatch) -> None:
    """The bitmap is rebuilt larger as the set doubles (here from 2**10 bits, at most 2**16, so a
    few thousand keys show it): the set still answers as a Python set does, and absent keys
    pass the bitmap about 1 time in 8 or less until it is at its largest."""
    import numpy as np

    from console.store import keys as K

    monkeypatch.setattr(K, "FILTER_BITS", 10)
    monkeypatch.setattr(K, "FILTER_BITS_MAX", 16)
    monkeypatch.setattr(K, "FILTER_MIN", 64)
    rng = np.random.default_rng(11)
    ks, ref, sizes = K.KeySet(), set(), []
    for i in range(12):
        k = rng.integers(0, 2**64 - 1, 100 * 2 ** (i // 2), dtype=np.uint64)
        ks.add(k)
        ref |= {int(x) for x in k}
        sizes.append(ks._nbits)
        absent = rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64)
        present = np.array(sorted(ref)[::5], dtype=np.uint64)
        q = np.concatenate([absent, present])
        assert (ks.contains(q) == np.array([int(x) in ref for x in q])).all(), i
        passed = ks._maybe(np.sort(absent))
        assert passed is not None
        if len(ks) <= 2 ** (16 - 3):  # (beyond, the bitmap is at its largest: more get through)
            assert passed.mean() <= 1 / 8 + 0.01, (i, len(ks), ks._nbits, passed.mean())
        assert ks._maybe(np.sort(present)).all()
    assert sizes == sorted(sizes) and sizes[0] == 10 and sizes[-1] == 16, sizes
    gone = np.array(sorted(ref)[::2], dtype=np.uint64)
    ks.remove(gone)
    ref -= {int(x) for x in gone}
    q = np.concatenate([gone[:3000], np.array(sorted(ref)[:3000], dtype=np.uint64)])
    assert (ks.contains(q) == np.array([int(x) in ref for x in q])).all()


def test_distinct_first_and_a_reserved_bitmap(monkeypatch) -> None:
    """``distinct_first`` (one plain sort instead of a stable argsort) gives a batch's sorted
    distinct keys and the first record of each, as a dict of first positions does — None when no
    key repeats; a set whose bitmap was ``reserve``d for the keys to come keeps that bitmap as
    they arrive (never rebuilt) and answers as a Python set."""
    import numpy as np

    from console.store import keys as K

    rng = np.random.default_rng(17)
    k = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64)
    uniq, first = K.distinct_first(k)
    assert first is None and uniq.tolist() == sorted(k.tolist())
    for repeats in (1, 7, 2500):
        r = np.concatenate([k, k[rng.integers(0, len(k), repeats)], k[:3]])
        r = r[rng.permutation(len(r))]
        at: dict[int, int] = {}
        for j, v in enumerate(r.tolist()):
            at.setdefault(v, j)
        uniq, first = K.distinct_first(r)
        assert uniq.tolist() == sorted(at)
        assert first is not None and first.tolist() == [at[v] == j for j, v in enumerate(r.tolist())]
    assert K.distinct_first(np.zeros(0, dtype=np.uint64))[1] is None

    monkeypatch.setattr(K, "FILTER_MIN", 64)
    ks, ref, built = K.KeySet(), set(), []
    ks.reserve(40_000)
    assert ks._bits is not None and ks._nbits == K.filter_bits(40_000)
    bitmap = ks._bits
    for i in range(8):
        add = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64)
        uniq, first = K.distinct_first(add)
        keep, fresh = ks.probe(add, uniq, first)
        assert keep.all() and fresh.tolist() == sorted(add.tolist())
        ks.add(fresh, presorted=True)
        ref |= set(add.tolist())
        built.append(ks._bits is bitmap)
        q = np.concatenate([add[:50], rng.integers(0, 2**64 - 1, 500, dtype=np.uint64)])
        assert ks.contains(q).tolist() == [int(x) in ref for x in q], i
    assert all(built) and ks._nbits == K.filter_bits(40_000)
    ks.reserve(10)  # smaller than it is: nothing changes
    assert ks._bits is bitmap


def test_key_set_with_its_bitmap_answers_as_a_set_does(monkeypatch) -> None:
    """``KeySet`` (sorted runs, and a bitmap of buckets from ``FILTER_MIN`` keys on) against a
    Python set: adds (of unsorted keys, and of ``probe``'s sorted fresh ones), probes of present
    and absent keys, removals, and the sorted array it writes."""
    import io

    import numpy as np

    from console.store import keys
    from console.store.keys import FILTER_MIN, KeySet

    rng = np.random.default_rng(3)
    ks, ref = KeySet(), set()
    for i in range(30):
        k = rng.integers(0, 2**64 - 1, int(rng.integers(1, FILTER_MIN // 2)), dtype=np.uint64)
        q = np.concatenate([k[:100], rng.integers(0, 2**64 - 1, 3000, dtype=np.uint64),
                            np.array(sorted(ref)[:300], dtype=np.uint64)])
        assert (ks.contains(q) == np.array([int(x) in ref for x in q])).all(), i
        if i % 2:  # as the ingest adds: the probe's fresh keys, sorted already, handed over
            k = np.concatenate([k, k[:5], q[-300:]])  # a batch's repeats, and keys the set holds
            at: dict[int, int] = {}  # each value's first position
            for j, v in enumerate(k.tolist()):
                at.setdefault(v, j)
            uniq, first = keys.distinct_first(k)
            assert uniq.tolist() == sorted(at), i
            assert first is not None and first.tolist() == [at[v] == j for j, v in enumerate(k.tolist())], i
            keep, fresh = ks.probe(k, uniq, first)
            assert keep.tolist() == [at[v] == j and v not in ref for j, v in enumerate(k.tolist())], i
            assert fresh.tolist() == sorted(set(at) - ref), i
            ks.add(fresh, presorted=True)
        else:
            ks.add(k)
        ref |= {int(x) for x in k}
        if i % 11 == 10:
            gone = np.array(sorted(ref)[::3], dtype=np.uint64)
            ks.remove(gone)
            ref -= {int(x) for x in gone}
    assert len(ks) == len(ref) > FILTER_MIN and ks._bits is not None
    # written as the saved index is, a slice of the key range at a time: the sorted set
    assert len(ks._runs) > 1
    for piece in (1 << 20, 1000, 7):  # one slice; many; more slices than some runs have keys
        monkeypatch.setattr(keys, "WRITE_PIECE", piece)
        f = io.BytesIO()
        assert ks.write_sorted(f)
        f.seek(0)
        assert np.load(f, allow_pickle=False).tolist() == sorted(ref)
    # merged into one run, run by run: the same set, still answering
    merged = ks.sorted_array()
    assert len(ks._runs) == 1 and merged.tolist() == sorted(ref)
    q = np.concatenate([merged[::7], rng.integers(0, 2**64 - 1, 3000, dtype=np.uint64)])
    assert (ks.contains(q) == np.array([int(x) in ref for x in q])).all()
    # a key in two runs (no caller adds one twice): short of the header's count, said so
    ks.add_sorted_run(merged[:10].copy())
    assert not ks.write_sorted(io.BytesIO())
