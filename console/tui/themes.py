"""Themes as data: every ``*.toml`` in the repository's ``themes/`` folder (shipped in the wheel as
``console/tui/bundled_themes``, a link to it in the repository) and in the workspace's
``themes/``, if it has one, becomes a Textual ``Theme`` at start. ``[ui] theme = "dark"`` in
console.toml picks the first one (short names work: ``dark`` → ``console-dark``). ``NO_COLOR``
is honoured by Textual itself (the whole screen goes monochrome); our screens never rely on colour.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

from console.documents import DocumentError, read_toml

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled_themes"  # -> ../../themes in a checkout
FIELDS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
          "background", "surface", "panel", "boost")


def theme_from_toml(path: Path) -> Theme:
    """One theme file → ``Theme``; ``ValueError`` with a one-line reason when it is unusable."""
    try:
        doc = read_toml(path)  # size/depth limits: docs/formats.md, 'Limits on the files the console reads'
    except OSError as exc:
        raise ValueError(f"{path}: cannot read theme: {exc.strerror or exc}") from None
    except DocumentError as exc:
        raise ValueError(f"{path}: cannot read theme: {exc.reason}") from None
    name = doc.get("name") or f"console-{path.stem}"
    if not isinstance(doc.get("primary"), str):
        raise ValueError(f"{path}: a theme needs a 'primary' colour")
    kwargs = {k: doc[k] for k in FIELDS if isinstance(doc.get(k), str)}
    variables = doc.get("variables", {})
    spread = doc.get("luminosity_spread", 0.15)
    if isinstance(spread, bool) or not isinstance(spread, (int, float)):
        raise ValueError(f"{path}: luminosity_spread must be a number")
    variables = variables if isinstance(variables, dict) else {}
    if not all(isinstance(v, str) for v in variables.values()):
        raise ValueError(f"{path}: [variables] values must be strings")
    try:
        return Theme(name=str(name), dark=bool(doc.get("dark", True)), luminosity_spread=float(spread),
                     variables=variables, **kwargs)
    except Exception as exc:  # noqa: BLE001 - Textual's own check of a colour: one line, not a crash
        raise ValueError(f"{path}: not a usable theme: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None


def load_themes(*dirs: Path) -> tuple[list[Theme], list[str]]:
    """Every theme file in ``dirs`` (later dirs override same-named themes) and the problems."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.toml")):
            try:
                theme = theme_from_toml(path)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems


def resolve_name(wanted: str, available: list[str]) -> str | None:
    """``dark`` or ``console-dark`` → the registered name, else ``None``."""
    for candidate in (wanted, f"console-{wanted}"):
        if candidate in available:
            return candidate
    return None
