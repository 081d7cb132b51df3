"""Signed journal entries: a group member who can write the journal still cannot forge another
person's entry, hide an edit by re-hashing, or act without a registered key; keys are private."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from console.errors import PermissionDenied
from console.governance import effects, engine
from console.governance.audit import verify_workspace
from console.governance.journal import GENESIS, Journal, canonical, entry_hash
from console.governance.signing import (
    KeyProblem,
    demo_key,
    key_path,
    own_key,
    sign,
    signers_line,
)
from console.workspace import load_dir
from tests.test_governance_helpers import (
    ALICE,
    BOB,
    CAROL,
    build_workspace,
    journal,
    register_keys,
    run_as,
)

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.fixture
def ws(tmp_path: Path):
    return load_dir(build_workspace(tmp_path / "ws"))


def history(ws) -> None:
    """carol asks, alice rejects, carol asks again: three signed entries (seq 1..3)."""
    r = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    engine.decide(ws, ALICE, r.request_id, "reject", "not now", now=NOW)
    engine.create_request(ws, CAROL, "retrain", "credit", None, "drift again", now=NOW)


def rewrite(ws, entries: list[dict], rehash_from: int | None = None) -> None:
    """Write ``entries`` back; from seq ``rehash_from`` on recompute prev_hash/hash and the head
    (what someone who can write both files does to hide an edit)."""
    prev = GENESIS
    out = []
    for e in entries:
        if rehash_from is not None and e["seq"] >= rehash_from:
            e["prev_hash"] = prev
            e["hash"] = entry_hash(e)
        prev = e["hash"]
        out.append(canonical(e) + "\n")
    ws.journal_path.write_text("".join(out))
    if rehash_from is not None:
        ws.root.joinpath("journal.head").write_text(canonical({"seq": len(entries), "hash": prev}) + "\n")


def forged_approval(ws, signed_by, actor="alice") -> dict:
    """An operator appends 'alice approved REQ-0002', hash and head recomputed."""
    entries = journal(ws.root)
    entry = {"seq": len(entries) + 1, "ts": "2026-11-02T12:00:00.000Z", "actor": actor, "action": "approve",
             "request_id": "REQ-0002", "comment": "ok", "prev_hash": entries[-1]["hash"]}
    if signed_by is not None:
        entry["sig"] = sign(entry, signed_by)
    entries.append(entry)
    rewrite(ws, entries, rehash_from=entry["seq"])
    return entry


def test_every_entry_is_signed_by_its_actor_and_verifies(ws):
    history(ws)
    entries = journal(ws.root)
    assert all(e["sig"].startswith("ed25519:") for e in entries)
    # the documented definition: ed25519 over the canonical JSON without hash and sig
    body = {k: v for k, v in entries[1].items() if k not in ("hash", "sig")}
    import base64

    demo_key("alice").public_key().verify(base64.b64decode(entries[1]["sig"][8:]), canonical(body).encode())
    assert entries[1]["hash"] == entry_hash(entries[1])  # the hash covers the signature
    v = verify_workspace(ws)
    assert (v["ok"], v["signed"], v["first_bad_seq"]) == (True, 3, None)


def test_an_operator_cannot_forge_a_reviewers_approval(ws):
    """Signed with her own key (the only one she has): caught at that seq, named as forged."""
    history(ws)
    entry = forged_approval(ws, demo_key("carol"))
    assert Journal(ws.journal_path).verify()["ok"]  # the hash chain alone is fooled
    v = verify_workspace(ws)
    assert (v["ok"], v["first_bad_seq"]) == (False, entry["seq"])
    assert "signed with carol's key, not alice's (forged)" in v["problems"][0]


@pytest.mark.parametrize("key, reason", [
    (None, "unsigned"),
    ("stranger", "does not match alice's key"),
])
def test_unsigned_or_wrongly_signed_entries_are_caught(ws, key, reason):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    history(ws)
    entry = forged_approval(ws, Ed25519PrivateKey.generate() if key else None)
    v = verify_workspace(ws)
    assert (v["ok"], v["first_bad_seq"]) == (False, entry["seq"]) and reason in v["problems"][0]


def test_cli_reports_a_forgery_at_its_seq_with_exit_1(ws):
    history(ws)
    entry = forged_approval(ws, demo_key("carol"))
    p = run_as(None, ws.root, "audit", "verify", "--format", "json")
    out = json.loads(p.stdout)
    assert p.returncode == 1 and out["first_bad_seq"] == entry["seq"] and "forged" in out["problems"][0]
    p = run_as(None, ws.root, "audit", "verify")
    assert p.returncode == 1 and "forged" in p.stdout


@pytest.mark.parametrize("rehash_all", [False, True])
def test_an_edited_and_rehashed_entry_is_named_itself(ws, rehash_all):
    """Before signatures the next entry was blamed; a rewritten head hid the edit entirely."""
    history(ws)
    entries = journal(ws.root)
    entries[1]["comment"] = "yes, go ahead"  # alice's reject, reworded by someone else
    entries[1]["hash"] = entry_hash(entries[1])
    rewrite(ws, entries, rehash_from=2 if rehash_all else None)
    v = verify_workspace(ws)
    assert (v["ok"], v["first_bad_seq"]) == (False, 2), v


def test_an_entry_replaced_by_one_signed_by_its_editor_is_named(ws):
    """Alice's entry replaced by a self-signed one of carol's: seq 3's signature binds seq 2."""
    history(ws)
    entries = journal(ws.root)
    e = {k: v for k, v in entries[1].items() if k not in ("hash", "sig")}
    e.update(actor="carol", comment="withdrawn")
    e["sig"] = sign(e, demo_key("carol"))
    e["hash"] = entry_hash(e)
    entries[1] = e
    rewrite(ws, entries)
    v = verify_workspace(ws)
    assert (v["ok"], v["first_bad_seq"]) == (False, 2) and "seq 2 was changed" in v["problems"][0]


def test_a_deleted_journal_shows_in_serving(ws):
    r = engine.create_request(ws, CAROL, "rollback", "credit", "1", "bad v2", now=NOW)
    engine.decide(ws, ALICE, r.request_id, "approve", "ok", now=NOW)
    assert effects.execute(ws, ALICE, r.request_id, now=NOW).state == "executed"
    ws.journal_path.unlink()
    ws.root.joinpath("journal.head").unlink()
    v = verify_workspace(ws)
    assert not v["ok"] and "REQ-0001" in v["problems"][-1] and "deleted" in v["problems"][-1]


def test_entries_from_before_signing_are_accepted_only_when_the_admin_says_so(tmp_path):
    root = build_workspace(tmp_path / "ws")
    legacy = Journal(root / "journal.jsonl")  # an old console: no signer
    legacy.append("carol", "request", request_id="REQ-0001", kind="retrain", model="credit", version=None,
                  from_version="2", reason="old", break_glass=False, expires_at=None)
    legacy.append("alice", "reject", request_id="REQ-0001", comment="old")
    ws = load_dir(root)
    v = verify_workspace(ws)
    assert (v["ok"], v["first_bad_seq"]) == (False, 1) and "unsigned" in v["problems"][0]
    with (root / "console.toml").open("a") as f:
        f.write("\n[governance]\nunsigned_before = 3\n")
    ws = load_dir(root)
    engine.create_request(ws, CAROL, "retrain", "credit", None, "new", now=NOW)
    v = verify_workspace(ws)
    assert (v["ok"], v["signed"], v["entries"]) == (True, 1, 3)
    # the first signed entry anchors the unsigned prefix: rewriting it is caught
    entries = journal(root)
    entries[1]["comment"] = "approved really"
    entries[1]["hash"] = entry_hash(entries[1])
    rewrite(ws, entries)
    v = verify_workspace(ws)
    assert (v["ok"], v["first_bad_seq"]) == (False, 2)  # seq 3's signature names seq 2
    rewrite(ws, journal(root), rehash_from=2)  # re-link seq 3 too: its signature breaks
    v = verify_workspace(ws)
    assert (v["ok"], v["first_bad_seq"]) == (False, 3) and "does not match carol's key" in v["problems"][0]


def test_no_registered_key_refuses_with_the_line_to_add(ws):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from console.identity import Identity

    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    frank = Identity("frank", operator=True, key=raw)
    with pytest.raises(KeyProblem) as info:
        engine.create_request(ws, frank, "retrain", "credit", None, "drift", now=NOW)
    line = str(info.value).rsplit(": ", 1)[1]
    assert line.startswith("frank ed25519 ") and "\n" not in str(info.value)
    assert journal(ws.root) == []  # nothing was written
    (ws.root / "signers").write_text((ws.root / "signers").read_text() + line + "\n")
    assert engine.create_request(ws, frank, "retrain", "credit", None, "drift", now=NOW).state == "pending"
    # a read-only account without a key is still told why it may not act
    with pytest.raises(PermissionDenied, match="not a reviewer.*could not be journaled.*no registered"):
        engine.decide(ws, Identity("zed"), "REQ-0001", "approve", "x", now=NOW)


def test_cli_account_without_key_gets_one_line_and_exit_2(tmp_path):
    import getpass

    me = getpass.getuser()
    root = build_workspace(tmp_path / "ws", operators=(me,))
    p = run_as(None, root, "request", "retrain", "--model", "credit", "--reason", "drift")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert f"an administrator must add this line: {me} ed25519 " in p.stderr
    shown = run_as(None, root, "keys", "show")
    assert shown.returncode == 0 and "not registered yet" in shown.stderr
    assert shown.stdout.strip() in p.stderr  # `keys show` prints exactly that line
    register_keys(root, [None])
    p = run_as(None, root, "request", "retrain", "--model", "credit", "--reason", "drift", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(run_as(None, root, "keys", "show", "--format", "json").stdout)["registered"] is True


def test_a_key_is_created_private_and_an_unsafe_key_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    old = os.umask(0)
    try:
        key = own_key()
    finally:
        os.umask(old)
    path = key_path()
    assert path == home / ".config" / "mlops-console" / "signing-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert signers_line("x", own_key()) == signers_line("x", key)  # the same key next time
    path.chmod(0o640)
    with pytest.raises(KeyProblem, match="chmod 600"):
        own_key()
    path.chmod(0o600)
    moved = path.with_name("elsewhere")
    path.rename(moved)
    path.symlink_to(moved)
    with pytest.raises(KeyProblem, match="symlink"):
        own_key()
    path.unlink()
    path.parent.chmod(0o777)
    with pytest.raises(KeyProblem, match="chmod 700"):
        own_key()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the key file to another account")
def test_a_key_owned_by_someone_else_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    own_key()
    os.chown(key_path(), 65534, -1)
    with pytest.raises(KeyProblem, match="not owned by you"):
        own_key()


@pytest.mark.skipif(not (SAMPLE / "journal.jsonl").is_file(), reason="sample_data not generated")
def test_the_sample_and_a_demo_copy_verify_and_the_demo_user_can_act(tmp_path, monkeypatch):
    assert verify_workspace(load_dir(SAMPLE))["ok"] and verify_workspace(load_dir(SAMPLE))["signed"] >= 1
    generated = tmp_path / "gen"
    shutil.copytree(SAMPLE, generated, ignore=shutil.ignore_patterns(".console", "journal.*", "signers"))
    from console.governance.seed import seed_sample_workspace

    seed_sample_workspace(generated)  # what `make sample` does for the journal: byte-identical
    assert (generated / "journal.jsonl").read_bytes() == (SAMPLE / "journal.jsonl").read_bytes()
    assert (generated / "signers").read_bytes() == (SAMPLE / "signers").read_bytes()

    from console.cli.app_cmds import fresh_demo_copy

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    demo = fresh_demo_copy(tmp_path / "demo")
    ws = load_dir(demo)
    me = ws.identity()
    assert me.operator and me.reviewer
    req = engine.decide(ws, me, "REQ-0001", "reject", "not in the demo", now=NOW)
    assert req.state == "rejected"
    v = verify_workspace(ws)
    assert (v["ok"], v["signed"]) == (True, 2)
    assert BOB.user in (demo / "signers").read_text()
