"""The console's header (two lines, every screen): workspace, user and role, read-only lock,
time window (where it ends: the newest data, and how long before now that was); then the breadcrumb (with the ``/`` filter while one is active), live ingest state (lag, rows/s, quarantined) and data
freshness. When the audit chain fails verification a red banner with a word and a symbol
sits under it, on every screen; the same line warns when ``console.toml``, a hook or the
signers file can be changed by someone other than the administrator (actions are refused).
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from console.tui.status import human_age, human_bytes
from console.tui.window import describe, resolve


class ConsoleHeader(Widget):
    """Header lines drawn from ``app.status``, ``app.identity`` and the screen stack."""

    DEFAULT_CSS = """
    ConsoleHeader { dock: top; height: 2; background: $panel; color: $foreground; }
    """

    def render(self) -> Text:
        app = self.app
        st = app.status
        width = self.size.width or 80
        line1 = Text()
        line1.append(" mlops-console ", style="bold reverse")
        line1.append(f" {app.workspace.name} ", style="bold")
        line1.append(f"· {app.identity.user} ({app.identity.role})")
        if app.read_only:
            line1.append("  🔒 READ-ONLY" + (": no actions" if width >= 100 else ""), style="bold")
        shown = getattr(self.screen, "window_shown", None)
        if shown is None or shown.key != app.window.key:  # not resolved by this screen (yet)
            shown = resolve(app.window, app.now(), None, st.latest_ts)  # the fleet's newest data
        right = describe(shown, max(8, width - line1.cell_len - 2)) + " "
        pad = width - line1.cell_len - len(right)
        line1.append(" " * max(1, pad) + right)
        line1.truncate(width, overflow="ellipsis")
        crumbs = " › ".join(app.breadcrumb())
        line2 = Text(f" {crumbs}", style="bold")
        kept = getattr(self.screen, "filter_text", "")
        if kept:  # an active filter is said where the eye goes, also once its bar is closed
            line2.append(f" · filter “{kept}”", style="bold reverse")
        ingest = {"live": "● live", "follower": "○ follower", "off": "○ off",
                  "error": "✗ ingest error", "starting": "… starting"}.get(st.ingest_state, st.ingest_state)
        parts = [ingest]
        if st.lag_bytes is not None:
            parts.append(f"lag {human_bytes(st.lag_bytes)}")
        if st.rows_per_s is not None:
            parts.append(f"{st.rows_per_s:,.0f} rows/s")
        if st.quarantined is not None:
            parts.append(f"{st.quarantined:,} quarantined")
        parts.append(f"data {human_age(st.latest_ts, app.now())}")
        if st.future_rows:
            parts.append(f"▲ {st.future_rows:,} in the future")
        status = " · ".join(parts) + " "
        if line2.cell_len + len(status) + 1 > width:  # narrow: keep the most urgent bits
            status = " · ".join([parts[0], *parts[2:]]) + " "
        if line2.cell_len + len(status) + 1 > width:
            line2.truncate(max(8, width - len(status) - 1), overflow="ellipsis")
        line2.append(" " * max(1, width - line2.cell_len - len(status)) + status)
        line2.truncate(width, overflow="ellipsis")
        out = Text("\n").join([line1, line2])
        out.no_wrap = True
        return out


class ChainBanner(Static):
    """A red line naming the broken audit chain or untrusted governance files; hidden while
    the chain verifies and the files are safe."""

    DEFAULT_CSS = """
    ChainBanner { dock: top; height: 1; background: $error; color: $text; text-style: bold;
                  display: none; }
    ChainBanner.-broken { display: block; }
    """

    def update_state(self, ok: bool | None, first_bad: int | None, untrusted: list[str] | None = None) -> None:
        broken = ok is False
        self.set_class(broken or bool(untrusted), "-broken")
        if broken:
            where = f"at entry {first_bad}" if first_bad is not None else ""
            self.update(f" ✗ AUDIT CHAIN BROKEN {where} — the journal was edited; see Audit (F4)")
        elif untrusted:
            self.update(f" ▲ UNTRUSTED CONFIG — {untrusted[0]}; governance actions are refused")
