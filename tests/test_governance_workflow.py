"""One scenario through the command line (as real OS accounts) and through the TUI (Textual
Pilot, at 80x24, with in-process identities of the same names) on two identical workspaces:
the journals end up with the same entries and the same refusals, because both front ends run
``governance.workflow``.

mlc-carol (operator and reviewer) requests promotion of credit 3; she may not approve it
herself; new traffic lands; mlc-alice approves (with an override where gates did not pass) —
and her approval ingests the new traffic before its gates are evaluated."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from console.governance.signing import demo_key, demo_seed, signers_line
from console.identity import Identity
from console.workspace import load_dir
from tests.test_governance_helpers import (
    build_workspace,
    journal,
    real_users,
    register_keys,
    run_as,
    share_with_team,
)
from tests.tui_helpers import make_app, screen_text, settle

OPS = ("mlc-carol", "mlc-dave")
REVS = ("mlc-alice", "mlc-carol")
REASON = "offline AUC up"
COMMENT = "no shadow traffic yet; offline +0.04 AUC justifies it"
VOLATILE = {"ts", "seq", "hash", "prev_hash", "sig", "duration_s", "stdout", "stderr", "argv"}
NEW_ROWS = 40


def comparable(entries: list[dict]) -> list[dict]:
    """Entries without what differs by nature (times of hashing, signatures, hook timings);
    a request's reason by its first line (the TUI attaches the screen's evidence below it)."""
    out = []
    for e in entries:
        e = {k: v for k, v in e.items() if k not in VOLATILE}
        if "reason" in e:
            e["reason"] = e["reason"].splitlines()[0]
        out.append(e)
    return out


def new_traffic(root: Path) -> None:
    """Production traffic that arrives after the request, inside the gates' windows."""
    lines = [json.dumps({"ts": f"2026-11-21T{10 + i // 20:02d}:{i % 20:02d}:00Z", "model": "credit",
                         "version": "2", "request_id": f"late-{i}", "prediction": 1, "score": 0.7,
                         "features": {"income": 90000.0 + i, "age": 40, "region": "mars"}, "latency_ms": 9.0})
             for i in range(NEW_ROWS)]
    (root / "logs" / "arrived.jsonl").write_text("\n".join(lines) + "\n")


def ingested_rows(root: Path, name: str) -> int | None:
    """Rows the store holds from source file ``name`` (None: never read)."""
    cp = json.loads((root / ".console" / "checkpoint.json").read_text())
    for stream in (cp.get("sources") or {}).values():
        if str(stream.get("path", "")).endswith(name):
            return int(stream.get("rows", 0))
    return None


@pytest.fixture
def twin(os_accounts):
    base = Path(tempfile.mkdtemp(prefix="mlc-twin-"))
    base.chmod(0o755)
    cli = build_workspace(base / "cli", operators=OPS, reviewers=REVS, logs_days=12)
    register_keys(cli, ["mlc-carol", "mlc-alice"])
    share_with_team(cli)
    tui = build_workspace(base / "tui", operators=OPS, reviewers=REVS, logs_days=12)
    with (tui / "signers").open("a") as fh:  # the TUI's people sign with demo keys of the same names
        fh.write("".join(signers_line(n, demo_key(n)) + "\n" for n in ("mlc-carol", "mlc-alice")))
    yield cli, tui
    shutil.rmtree(base, ignore_errors=True)


@real_users
async def test_cli_and_tui_journal_the_same_decisions_and_refusals(twin) -> None:
    cli, tui = twin

    # -- the command line ------------------------------------------------------------------
    p = run_as("mlc-carol", cli, "request", "promote", "--model", "credit", "--version", "3",
               "--reason", REASON, "--format", "json")
    assert p.returncode == 0, p.stderr
    rid = json.loads(p.stdout)["request_id"]
    own = run_as("mlc-carol", cli, "approve", rid, "--comment", "mine")
    assert own.returncode == 2
    cli_refusal = own.stderr.strip().removeprefix("mlops-console: ")
    new_traffic(cli)
    assert ingested_rows(cli, "logs/arrived.jsonl") is None
    p = run_as("mlc-alice", cli, "approve", rid, "--override", "--comment", COMMENT, "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["state"] == "executed"
    assert ingested_rows(cli, "logs/arrived.jsonl") == NEW_ROWS  # the approval ingested first

    # -- the TUI ----------------------------------------------------------------------------
    carol = Identity("mlc-carol", operator=True, reviewer=True, key=demo_seed("mlc-carol"))
    alice = Identity("mlc-alice", reviewer=True, key=demo_seed("mlc-alice"))
    app = make_app(tui, carol)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("colon", *"credit", "enter")
        await settle(app, pilot)
        while app.screen.version != "3":
            await pilot.press("v")
            await settle(app, pilot)
        await pilot.press("P")
        await settle(app, pilot)
        assert app.screen.title_text == "Request promote credit to v3"
        await pilot.press(*REASON, "enter")
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("a")  # her own request: refused, with the engine's words
        await pilot.pause()
        tui_refusal = " ".join(n.message for n in app._notifications)
    assert cli_refusal in tui_refusal, (cli_refusal, tui_refusal)

    app = make_app(tui, alice)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SignoffScreen"
        new_traffic(tui)  # after the view showed its gates, before the decision
        assert ingested_rows(tui, "logs/arrived.jsonl") is None
        failing = [g for g in app.screen.gates if g["status"] != "passed"]
        await pilot.press("o" if failing else "a")
        await settle(app, pilot)
        await pilot.press(*COMMENT, "enter")
        await settle(app, pilot)
        assert "executed" in screen_text(app)
    assert ingested_rows(tui, "logs/arrived.jsonl") == NEW_ROWS  # the approval ingested first

    # -- the same journal ----------------------------------------------------------------------
    cli_entries = [e for e in journal(cli) if e["action"] != "refused"]
    assert [e["action"] for e in cli_entries] == [e["action"] for e in journal(tui)]
    assert comparable(cli_entries) == comparable(journal(tui))
    (refused,) = [e for e in journal(cli) if e["action"] == "refused"]
    assert (refused["actor"], refused["attempt"], refused["detail"]) == ("mlc-carol", "approve", cli_refusal)
    assert load_dir(cli).identity  # both workspaces still load
    for root in (cli, tui):
        assert json.loads((root / "serving.json").read_text())["models"]["credit"]["production"] == "3"
