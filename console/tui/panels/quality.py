"""Data-quality tab: per feature the missing share (reference → current), the share of values in
categories the reference never had, the share of values outside the reference's range, each
feature's state as a symbol and a word (flagged first); the model's volume against the trailing
windows and the quarantine rate of its files on the note lines. Numbers from
``data_quality.quality_report``, with the model's ``[alerts]`` thresholds."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.store.registry import version_label
from console.tui import format as fmt
from console.tui.panels.base import Panel
from console.tui.widgets.fittable import FitTable

SHORT = {"missing": "missing", "new_category": "new cat.", "range": "range"}


def feature_state(entry: dict, report_note: str | None) -> Text:
    """``✗ range`` (the rules it breaches), ``✓ ok``, or ``? …`` when it could not be judged."""
    flags = entry.get("flags") or []
    if flags:
        return Text("✗ " + ", ".join(SHORT.get(f, f) for f in flags), style="red bold")
    if entry.get("note"):
        return Text("? " + ("no ref." if "reference" in entry["note"] else "unknown"), style="yellow")
    if report_note:  # too few rows: nothing was judged
        return Text("? few rows", style="yellow")
    return Text("✓ ok", style="green")


def volume_text(vol: dict) -> str:
    status = vol.get("status")
    if status == "not_evaluated":
        return f"volume ? not evaluated ({vol.get('reason')})"
    if status == "no_data":
        return f"volume ✗ no data in the last {vol.get('window')} (last record {fmt.when(vol.get('last_record'))})"
    word = {"ok": "✓ ok", "drop": "✗ drop", "spike": "✗ spike"}.get(status, f"? {status}")
    median = (vol.get("baseline") or {}).get("median")
    return (f"volume {word}: {fmt.count(vol.get('rows'))} rows in the last {vol.get('window')}, "
            f"{fmt.num(vol.get('ratio'), 2)}× the median {'—' if median is None else f'{median:g}'}")


def quarantine_text(q: dict) -> str:
    status = q.get("status")
    word = {"ok": "✓ ok", "high": "✗ high"}.get(status, "? not evaluated")
    text = f"quarantine {word}"
    if q.get("rate") is not None:
        text += f": {fmt.pct(q['rate'], 2)} of {fmt.count((q.get('rows') or 0) + (q.get('quarantined') or 0))} records"
    skipped = [f for f in q.get("files") or [] if not f.get("attributed")]
    if skipped:
        text += f"; {len(skipped)} shared file(s) not attributed"
    if status == "not_evaluated" and q.get("reason"):
        text += f" ({q['reason']})"
    return text


class QualityPanel(Panel):
    TAB = "quality"
    LABEL = "Quality"

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note", markup=False)
        yield Static("", id="quality-model", classes="note", markup=False)
        yield FitTable(id="quality-features", cursor_type="row", zebra_stripes=True, flex="feature")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for label, width in (("state", 13), ("feature", 12), ("kind", 4), ("missing ref→cur", 15),
                             ("unseen", 6), ("range out", 9)):
            t.add_column(label, width=width, key=label)

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        # the volume's window ends at the workspace's newest data, not the model's: a model that
        # went silent shows "no data" whatever window the tab shows
        return backend.report("data_quality.quality_report", model=model, version=version, volume_latest=True,
                              **backend.span(window))

    def show(self, data: Any) -> None:
        feats = data.get("features") or []
        note = data.get("note")
        ordered = sorted(feats, key=lambda e: (not e.get("flags"), e.get("feature", "")))
        t = self.query_one(DataTable)
        t.clear()
        for e in ordered:
            missing = f"{fmt.pct(e.get('reference_missing_share'))}→{fmt.pct(e.get('current_missing_share'))}"
            t.add_row(feature_state(e, note), Text(e["feature"], style="bold"),
                      "num" if e.get("kind") == "numeric" else "cat", missing,
                      fmt.pct(e.get("unseen_share")), fmt.pct(e.get("out_of_range_share")), key=e["feature"])
        t.fit()
        flagged = sum(1 for e in feats if e.get("flags"))
        ref = data.get("reference") or {}
        head = (f"{data.get('model')} {version_label(data.get('version'))} · "
                + (f"✗ {flagged} feature(s) flagged" if flagged else "✓ no feature flagged" if feats and not note
                   else "? features not judged")
                + f" of {len(feats)} · current {fmt.count((data.get('current') or {}).get('rows'))} rows vs "
                  f"reference {fmt.count(ref.get('rows'))} (bounds: reference min/max)")
        if data.get("not_computed"):
            head += f" · ? not computed: {data['not_computed']}"
        elif note:
            head += f" · {note}"
        self.note(head)
        self.query_one("#quality-model", Static).update(
            volume_text(data.get("volume") or {}) + "\n" + quarantine_text(data.get("quarantine") or {}))
