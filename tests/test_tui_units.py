"""The TUI's plumbing without a screen: the action registry, keymaps, themes, formatting."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from console.tui import format as fmt
from console.tui.actions import ACTIONS, SCREEN_TITLES, bindings_for
from console.tui.keymap import load_keymap, normalise_key
from console.tui.status import human_age
from console.tui.themes import BUNDLED_DIR, load_themes, resolve_name
from console.tui.window import make_window


def test_action_ids_are_unique_and_scoped() -> None:
    ids = Counter(a.id for a in ACTIONS)
    assert not [i for i, n in ids.items() if n > 1]
    assert {a.scope for a in ACTIONS} <= set(SCREEN_TITLES)


def test_no_key_is_bound_twice_within_a_screen_or_against_app_keys() -> None:
    app_keys = {k for a in ACTIONS if a.scope == "app" for k in a.keys.split(",")}
    for scope in SCREEN_TITLES:
        if scope == "app":
            continue
        keys = [k for a in ACTIONS if a.scope == scope for k in a.keys.split(",")]
        assert len(keys) == len(set(keys)), scope
        assert not (set(keys) & app_keys) - {"escape"}, scope


def test_bindings_carry_the_action_id_for_remapping() -> None:
    binding = next(b for b in bindings_for("fleet") if b.id == "fleet.filter")
    assert binding.key == "slash" and binding.action == "filter"


def test_keymap_from_console_toml_and_file(tmp_path: Path) -> None:
    (tmp_path / "keys.toml").write_text('[keys]\n"fleet.sort" = "o"\n"nope.x" = "z"\n')
    keymap, problems = load_keymap({"keys": {"fleet.filter": "f", "app.help": "?"}, "keymap": "keys.toml"},
                                   tmp_path)
    assert keymap == {"fleet.filter": "f", "app.help": "question_mark", "fleet.sort": "o"}
    assert len(problems) == 1 and "nope.x" in problems[0]


def test_keymap_problems_are_one_line_each(tmp_path: Path) -> None:
    keymap, problems = load_keymap({"keys": {"fleet.filter": ""}, "keymap": "missing.toml"}, tmp_path)
    assert keymap == {}
    assert len(problems) == 2 and all("\n" not in p for p in problems)
    assert normalise_key("?, :") == "question_mark,colon"


def test_bundled_themes_load_dark_light_high_contrast(tmp_path: Path) -> None:
    themes, problems = load_themes(BUNDLED_DIR)
    names = [t.name for t in themes]
    assert problems == []
    for short in ("dark", "light", "high-contrast"):
        assert resolve_name(short, names) == f"console-{short}"
    light = next(t for t in themes if t.name == "console-light")
    assert light.dark is False
    (tmp_path / "bad.toml").write_text("name = 'x'\n")
    _, problems = load_themes(tmp_path)
    assert problems and "primary" in problems[0]


def test_states_always_have_a_symbol_and_a_word() -> None:
    for word in ("ok", "warn", "drift", "pending", "approved", "rejected"):
        text = fmt.state(word).plain
        symbol, label = text.split(" ", 1)
        assert symbol in "✓▲✗…" and label == word


def test_sparkline_and_numbers() -> None:
    assert fmt.sparkline([0, 5, 10]) == "▁▅█"
    assert fmt.sparkline([]) == "—"
    assert fmt.pct(0.0123) == "1.2%"
    assert fmt.usd(1234.5) in ("$1,234", "$1,235") and fmt.usd(0.5) == "$0.50" and fmt.usd(60.0) == "$60"
    assert fmt.num(None) == "—"


def test_windows_end_at_the_clock() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    w = make_window("24h", now)
    assert w.start == now - timedelta(hours=24) and w.end > now and w.step == "1h"
    assert make_window("all", now).start is None
    assert human_age(now - timedelta(minutes=5), now) == "5m ago"
