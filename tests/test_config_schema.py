"""console.toml is checked against one schema (console.config_schema): an unknown section or
key, or a value of the wrong type, is one line with exit 2 — never silently ignored — and the
docs' console.toml reference lists exactly the schema's keys."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

import pytest

from console.config_schema import FEATURE_KEYS, MODEL_SECTIONS, SECTIONS, known_keys, validate
from console.documents import loads_toml
from console.errors import WorkspaceError
from console.workspace import load_dir
from tests.frozen_time import CONSOLE

from .conftest import write_workspace

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_CONSOLE_WORKSPACE"}
    return subprocess.run([*CONSOLE, *args, "--workspace", str(ws)], capture_output=True, text=True, env=env)


def test_typo_in_sources_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for d in ("logs", "preds", "registry"):
        (ws / d).mkdir(parents=True)
    # before: `prediction` was ignored and the console quietly read logs/ instead of preds/
    (ws / "console.toml").write_text('[sources]\nprediction = ["preds"]\n')
    with pytest.raises(WorkspaceError, match=re.escape("unknown key [sources] prediction (did you mean predictions?)")):
        load_dir(ws)
    for command in ("models", "ingest", "check"):
        result = _cli(ws, command)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].endswith("console.toml: unknown key [sources] prediction (did you mean predictions?)")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[alert]\nwindow = '7d'\n", "unknown section [alert] (did you mean alerts?)"),
        ("[nonsense]\n", "unknown section [nonsense] (known: workspace, sources,"),
        ("[alerts]\nwindw = '7d'\n", "unknown key [alerts] windw (did you mean window?)"),
        ("[alerts]\nwindow = 7\n", "[alerts] window must be a string, not 7"),
        ("[governance]\nhook_output_bytes = 'lots'\n", "[governance] hook_output_bytes must be a whole number, not 'lots'"),
        ("[governance]\nhook_timeout = '5 minutes'\n", "[governance] hook_timeout must be a duration string"),
        ("[governance]\nrequest_ttl = 'never'\n", None),
        ("[cache]\nenabled = 'no'\n", "[cache] enabled must be true or false, not 'no'"),
        ("[ui]\ntheme = 3\n", "[ui] theme must be a string, not 3"),
        ("[ui.keys]\n'fleet.filter' = 'f'\n", None),
        ('[models."m".alerts]\nerror_rate = "high"\n', '[models."m".alerts] error_rate must be a number'),
        ('[models."m".alrts]\nerror_rate = 0.1\n', 'unknown key [models."m"] alrts (did you mean alerts?)'),
        ('[models."m".drift.features.x]\nmethd = "psi"\n', 'unknown key [models."m".drift.features.x] methd (did you mean method?)'),
        ('[drift.features]\nx = "psi"\n', "[drift.features.x] must be a table"),
        ('[models."m".gates]\nmetric_tolerance = 0.01\n', None),
        ("workspace = 'x'\n", "[workspace] must be a table"),
        ("[sources]\nfollow_links = 'yes'\n", "[sources] follow_links must be true or false, not 'yes'"),
    ],
)
def test_unknown_keys_and_wrong_types(tmp_path: Path, toml: str, message: str | None) -> None:
    ws = write_workspace(tmp_path / "ws")
    (ws / "console.toml").write_text(toml)
    if message is None:
        load_dir(ws)
        return
    with pytest.raises(WorkspaceError) as info:
        load_dir(ws)
    text = str(info.value)
    assert text.startswith(str(ws / "console.toml") + ": ") and message in text, text
    assert "\n" not in text


def _reference_table() -> set[tuple[str, str]]:
    text = (DOCS / "formats.md").read_text()
    section = text.split("### `console.toml` reference", 1)[1].split("\n### ", 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`["):
            rows.add((cells[0].strip("`"), cells[1].strip("`")))
    return rows


def test_docs_reference_lists_exactly_the_schema() -> None:
    documented = _reference_table()
    schema = known_keys()
    assert documented - schema == set(), "documented but not in console.config_schema"
    assert schema - documented == set(), "in console.config_schema but not in docs/formats.md"


def test_schema_matches_the_code_that_reads_it() -> None:
    from console.analytics.config import (
        AlertsConfig,
        DriftConfig,
        FeatureDriftRule,
        MultivariateConfig,
        SlicesConfig,
    )
    from console.governance.gates import DEFAULTS

    def names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    assert set(SECTIONS["drift"]) == names(DriftConfig)
    assert set(FEATURE_KEYS) == names(FeatureDriftRule)
    assert set(SECTIONS["multivariate"]) == names(MultivariateConfig)
    assert set(SECTIONS["slices"]) == names(SlicesConfig)
    assert set(SECTIONS["alerts"]) == names(AlertsConfig)
    assert set(SECTIONS["gates"]) == set(DEFAULTS)
    assert set(MODEL_SECTIONS) <= set(SECTIONS)
    # every [section] key read with ws.section(...).get(...) somewhere in the code is in the schema
    console = Path(__file__).resolve().parents[1] / "console"
    pattern = re.compile(r"section\(\s*\"(\w+)\"\s*\)\.get\(\s*\"(\w+)\"")
    for path in console.rglob("*.py"):
        for section, key in pattern.findall(path.read_text()):
            assert key in SECTIONS.get(section, {}), f"{path}: [{section}] {key} is read but not in the schema"


def test_every_console_toml_example_in_the_docs_is_valid(tmp_path: Path) -> None:
    """The docs' own console.toml snippets pass the schema (a renamed key breaks this)."""
    checked = 0
    for md in sorted(DOCS.glob("*.md")):
        for block in re.findall(r"```toml\n(.*?)```", md.read_text(), flags=re.S):
            doc = loads_toml(block)
            if not (set(doc) & set(SECTIONS)) or set(doc) - set(SECTIONS) == set(doc):
                continue  # a theme or keymap file, not console.toml
            validate(doc, f"{md.name} example")
            checked += 1
    assert checked >= 5
    sample = Path(__file__).resolve().parents[1] / "sample_data"
    assert load_dir(sample).name
