"""The user's keymap: remapping actions of the registry (``actions.py``) to other keys.

Sources, later ones winning: ``[ui.keys]`` in ``console.toml``, then the TOML file named by
``[ui] keymap = "path"`` (relative to the workspace; its own ``[keys]`` table, or top-level
``"<action id>" = "keys"`` pairs). Keys use Textual's names (``ctrl+r``, ``f5``, ``question_mark``)
or the character itself; several keys are comma separated. Unknown action ids and malformed
values are reported as one-line problems (shown as a notification), never a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from console.documents import DocumentError, read_toml
from console.tui.actions import ACTIONS

_SYMBOLS = {"?": "question_mark", ":": "colon", "/": "slash", "[": "left_square_bracket",
            "]": "right_square_bracket", " ": "space"}


def normalise_key(key: str) -> str:
    """``?`` → ``question_mark``; other names pass through."""
    return ",".join(_SYMBOLS.get(k.strip(), k.strip()) if k.strip() else "comma"
                    for k in key.split(","))


def load_keymap(ui_section: dict[str, Any], root: Path) -> tuple[dict[str, str], list[str]]:
    """``({action id: keys}, [problems])`` from the ``[ui]`` table of console.toml."""
    problems: list[str] = []
    keymap: dict[str, str] = {}
    known = {a.id for a in ACTIONS}

    def merge(table: Any, where: str) -> None:
        if not isinstance(table, dict):
            problems.append(f"{where}: must be a table of action id = \"keys\"")
            return
        for action_id, keys in table.items():
            if action_id not in known:
                problems.append(f"{where}: unknown action {action_id!r} (see the ? screen)")
            elif not isinstance(keys, str) or not keys.strip():
                problems.append(f"{where}: {action_id} must be a non-empty key string")
            else:
                keymap[action_id] = normalise_key(keys)

    if "keys" in ui_section:
        merge(ui_section["keys"], "console.toml [ui.keys]")
    path_value = ui_section.get("keymap")
    if path_value is not None:
        if not isinstance(path_value, str):
            problems.append("console.toml [ui] keymap must be a path string")
        else:
            path = Path(path_value).expanduser()
            path = path if path.is_absolute() else root / path
            try:
                doc = read_toml(path)  # size/depth limits: docs/formats.md, 'Limits on the files the console reads'
            except OSError as exc:
                problems.append(f"{path}: cannot read keymap: {exc.strerror or exc}")
            except DocumentError as exc:
                problems.append(f"{path}: cannot read keymap: {exc.reason}")
            else:
                merge(doc.get("keys", doc), str(path))
    return keymap, problems
