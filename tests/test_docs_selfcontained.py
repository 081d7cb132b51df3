"""The project is its own reference: docs/formats.md documents every command and flag of the
real parser, and no file of the project cites a document outside the repository."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from console.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ROOT / "docs" / "formats.md"
SHARED = {"--workspace", "-w", "--format", "-h", "--help"}  # "Options every command takes"


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """``(path, parser)`` for the top level and every sub-command, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _sections(text: str) -> dict[str, str]:
    """``### `mlops-console …` `` heading → its text up to the next heading."""
    out: dict[str, str] = {}
    parts = re.split(r"^###? `mlops-console([^`]*)`.*$", text, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        out[name.strip()] = body.split("\n## ")[0]
    return out


COMMANDS = [(" ".join(path), p) for path, p in _commands(build_parser())
            if not any(isinstance(a, argparse._SubParsersAction) for a in p._actions) or not path]


@pytest.mark.parametrize("name,parser", COMMANDS, ids=[n or "(none)" for n, _ in COMMANDS])
def test_every_command_and_flag_is_in_formats_md(name, parser):
    text = FORMATS.read_text()
    sections = _sections(text)
    assert name in sections, f"docs/formats.md has no '### `mlops-console {name}`' section"
    body = sections[name]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        for flag in action.option_strings:
            where = text if flag in SHARED else body
            assert f"`{flag}" in where or f" {flag}" in where or f"[{flag}" in where, \
                f"flag {flag} of '{name}' is not in docs/formats.md"
        if not action.option_strings and action.choices:
            for choice in action.choices:
                assert choice in body, f"choice {choice} of '{name}' is not in docs/formats.md"
        if action.option_strings and action.choices and action.option_strings[0] != "--format":
            for choice in action.choices:
                assert choice in body, f"{action.option_strings[0]} {choice} of '{name}' is not documented"
    for choice in ("md", "html", "json") if name == "report" else ():
        assert choice in body


def test_shared_options_and_exit_codes_are_documented():
    text = FORMATS.read_text()
    for needle in ("`--workspace DIR`", "`--format table|json|csv`", "**Exit codes**", "`130`",
                   "### Durations, times and windows"):
        assert needle in text


def _project_files():
    for top in ("console", "docs", "tests"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".svg", ".pyc"):
                yield path
    yield ROOT / "README.md"


def test_no_file_cites_a_document_outside_the_repository():
    offenders = []
    needles = (chr(0xA7), "CONTRACT" + ".md", "\\" + "u00a7")  # the section sign, also as a JSON escape
    for path in _project_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if any(n in line for n in needles):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:80]}")
    assert not offenders, "\n".join(offenders)


def test_the_primary_metric_is_stated_once_and_matches_the_code():
    from console.analytics.metrics import PRIMARY_METRIC

    analytics = (ROOT / "docs" / "analytics.md").read_text()
    for task, metric in PRIMARY_METRIC.items():
        assert f"`{metric}` for {task}" in analytics, (task, metric)
    names = {f"`{m}`" for m in PRIMARY_METRIC.values()}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.name == "analytics.md":
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            assert not ("primary metric" in line and any(n in line for n in names)), \
                f"{path.name}:{lineno} restates the primary metric; link analytics.md, 'Performance'"
    for path in sorted((ROOT / "console").rglob("*.py")):
        if path.name != "metrics.py":
            assert '"multiclass": "' not in path.read_text(), f"{path}: use analytics.metrics.PRIMARY_METRIC"
