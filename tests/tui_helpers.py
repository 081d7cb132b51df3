"""Helpers for the TUI tests: a frozen clock, copies of the sample workspace (ingested once per
session with the real ingester), identities, app construction, and the screen as plain text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from console.governance.signing import demo_seed
from console.identity import Identity
from console.workspace import load_dir
from tests.frozen_time import FROZEN  # noqa: F401 - the tests import it from here too

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"

# The sample's fictional people sign with their demo keys (registered in sample_data/signers).
CAROL = Identity("carol", operator=True, key=demo_seed("carol"))  # operator of the sample workspace
ALICE = Identity("alice", reviewer=True, key=demo_seed("alice"))  # reviewer
BOB = Identity("bob", reviewer=True, key=demo_seed("bob"))
EVE = Identity("eve")  # nobody: read-only by role, no registered key


def screen_text(app) -> str:
    """Every line of the current screen (and its dialogs) as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def make_app(root: Path, identity: Identity = CAROL, read_only: bool = False, **kwargs):
    from console.tui.app import ConsoleApp

    return ConsoleApp(load_dir(root), read_only=read_only, identity=identity,
                      live=False, refresh_interval=0, **kwargs)


def ingest(root: Path) -> None:
    """Run the real ingester once over the workspace at ``root``."""
    from console.ingest.engine import Ingester

    Ingester(load_dir(root)).run_once()


def warm_cache(root: Path) -> None:
    """Compute once what every console computes first (alerts, drift per model), so the
    analytics cache under ``.console/cache`` is warm in every copy — as on a second launch."""
    from console import analytics
    from console.governance.state import fleet_state
    from console.profiles import glance
    from console.store.db import open_store
    from console.store.registry import load_registry

    ws = load_dir(root)
    state = fleet_state(ws, load_registry(ws.registry, ws.root))
    db = open_store(ws, stages=state.stages, production=state.production)
    try:
        glance.check_alerts(db)  # as the TUI evaluates them
        for model in db.registry.models():
            analytics.drift_report(db, model, multivariate=False)
    finally:
        db.close()


@pytest.fixture(scope="session", name="ingested_sample")
def ingested_sample_fixture(tmp_path_factory) -> Path:
    """The sample workspace, copied once per session and ingested with the real ingester."""
    root = tmp_path_factory.mktemp("sample") / "ws"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".console"))
    ingest(root)
    warm_cache(root)
    return root


@pytest.fixture(name="sample_ws")
def sample_ws_fixture(ingested_sample: Path, tmp_path: Path) -> Path:
    """A private copy of the ingested sample (journal changes stay in this test), without the
    alert history other tests' ``check`` runs left in the shared one (alert states start new)
    and without the analytics cache they filled: every copy starts from the same state, so what
    a screen shows first (and a snapshot of it) does not depend on which tests ran before."""
    root = tmp_path / "ws"
    store = ingested_sample / ".console"
    shutil.copytree(ingested_sample, root,
                    ignore=lambda folder, names: [n for n in ("alerts", "cache") if n in names]
                    if Path(folder) == store else [])
    return root


@pytest.fixture(name="bare_sample")
def bare_sample_fixture(tmp_path: Path) -> Path:
    """A copy of the sample workspace without any ingest (registry and journal only)."""
    root = tmp_path / "bare"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".console"))
    return root


async def settle(app, pilot) -> None:
    """Wait until every worker is done and the screen repainted."""
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def flat_text(app) -> str:
    """The screen's words with borders dropped and whitespace (line wraps) collapsed."""
    text = screen_text(app)
    for ch in "│╭╮╰╯─▏▕▎▊▁▔█▀▄┌┐└┘":
        text = text.replace(ch, " ")
    return " ".join(text.split())
