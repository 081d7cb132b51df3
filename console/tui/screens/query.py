"""Query (analysts): a SQL editor with highlighting and history, the schema of the store's
views, results in ``textual-fastdatatable`` (Arrow-backed: fast at 100k rows) cut at a row limit
with one probe row to say so, run with a key and cancelled with another (``interrupt()`` on the
worker's own cursor), and export of the full result to CSV or Parquet (DuckDB ``COPY``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static, TextArea, Tree
from textual.worker import get_current_worker

from console.documents import loads_json
from console.tui.screens.base import ConsoleScreen

ROW_LIMIT = 100_000
VIEWS = ("predictions", "predictions_labelled", "labels", "versions", "features", "quarantine",
         "ingest_status")
DEFAULT_SQL = ("SELECT model, version, count(*) AS n, avg(latency_ms) AS mean_latency_ms\n"
               "FROM predictions GROUP BY ALL ORDER BY n DESC")


def history_path(ws) -> Path:
    return ws.store_dir / "tui" / "query_history.jsonl"


def load_history(ws) -> list[str]:
    try:
        lines = history_path(ws).read_text(errors="replace").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:  # a bad line (garbage, nested 100k deep) is skipped, the rest of the history kept
            entry = loads_json(line, allow_nan=True) if line.strip() else None
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("sql"), str):
            out.append(entry["sql"])
    return out


def append_history(ws, sql: str) -> None:
    from console.fsio import open_append  # shared workspace: umask decides, never through a link

    try:
        with open_append(history_path(ws)) as f:
            f.write(json.dumps({"sql": sql}) + "\n")
    except OSError:
        pass  # history is a convenience: a read-only or odd store never stops a query


def check_read_only(sql: str) -> None:
    """The query screen reads; ``analytics.run_query``'s guard when it has one, else ours."""
    try:
        from console.analytics.query import ensure_read_only  # type: ignore[attr-defined]
    except ImportError:
        ensure_read_only = None
    if ensure_read_only is not None:
        ensure_read_only(sql)
        return
    head = sql.lstrip().split(None, 1)[0].lower() if sql.strip() else ""
    if head not in ("select", "with", "from", "describe", "show", "summarize", "values", "pivot",
                    "unpivot", "explain", "table", "(", "--"):
        raise ValueError(f"only read-only queries run here (not {head.upper()})")


class QueryScreen(ConsoleScreen):
    SCOPE = "query"
    TITLE = "Query"
    VIEW = "query"

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = []
        self.history_pos = 0
        self.cursor = None
        self.last_sql: str | None = None
        self.result_rows = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="query-top"):
            yield Tree("views", id="query-schema")
            yield TextArea(DEFAULT_SQL, language="sql", id="query-editor", show_line_numbers=True)
        yield Static("ctrl+j run · ctrl+k cancel · ctrl+↑/↓ history · ctrl+e CSV · ctrl+o Parquet",
                     id="query-status", classes="note")
        yield Vertical(id="query-results")

    def on_mount(self) -> None:
        self.history = load_history(self.app.workspace)
        self.history_pos = len(self.history)
        self.query_one(TextArea).focus()
        super().on_mount()

    def fetch(self) -> Any:  # the schema of the views
        cur = self.app.backend.db.cursor()
        try:
            rows = cur.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_name IN (" + ",".join("?" for _ in VIEWS) + ") ORDER BY table_name, ordinal_position",
                list(VIEWS)).fetchall()
        finally:
            cur.close()
        return rows

    def show(self, data: Any) -> None:
        tree = self.query_one(Tree)
        tree.clear()
        tree.root.expand()
        nodes: dict[str, Any] = {}
        for view in VIEWS:
            nodes[view] = tree.root.add(view, data=view)
        for table, col, typ in data:
            nodes[table].add_leaf(f"{col} {typ.lower()}", data=col)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data:
            self.query_one(TextArea).insert(str(event.node.data))

    # -- running ---------------------------------------------------------------------------
    def action_run_query(self) -> None:
        sql = self.query_one(TextArea).text.strip().rstrip(";")
        if not sql or self.app.backend is None or self.app.backend.db is None:
            return
        if not self.history or self.history[-1] != sql:
            self.history.append(sql)
            append_history(self.app.workspace, sql)
        self.history_pos = len(self.history)
        self.set_status("running… (ctrl+k cancels)")
        self.run_sql(sql)

    @work(thread=True, exclusive=True, exit_on_error=False, group="query")
    def run_sql(self, sql: str) -> None:
        worker = get_current_worker()
        started = time.perf_counter()
        cur = self.app.backend.db.cursor()
        self.cursor = cur
        try:
            check_read_only(sql)
            table = cur.sql(f"SELECT * FROM ({sql}) AS q LIMIT {ROW_LIMIT + 1}").to_arrow_table()
        except Exception as exc:
            if not worker.is_cancelled:
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.app.call_from_thread(self.set_status, f"✗ {msg}")
            return
        finally:
            self.cursor = None
            cur.close()
        elapsed = time.perf_counter() - started
        if not worker.is_cancelled:
            self.app.call_from_thread(self.show_result, sql, table, elapsed)

    async def show_result(self, sql: str, table, elapsed: float) -> None:
        from textual_fastdatatable import ArrowBackend, DataTable

        cut = table.num_rows > ROW_LIMIT
        if cut:
            table = table.slice(0, ROW_LIMIT)
        self.last_sql = sql
        self.result_rows = table.num_rows
        box = self.query_one("#query-results", Vertical)
        await box.remove_children()
        await box.mount(DataTable(backend=ArrowBackend(table), id="query-table", cursor_type="cell",
                            max_column_content_width=40, null_rep="∅"))
        self.set_status(f"✓ {table.num_rows:,} rows × {table.num_columns} columns in {elapsed:.2f}s"
                        + (f" · ▲ cut at {ROW_LIMIT:,} rows (more exist)" if cut else ""))

    def action_cancel_query(self) -> None:
        cur = self.cursor
        if cur is not None:
            try:
                cur.interrupt()
            except Exception:
                pass
        self.workers.cancel_group(self, "query")
        self.set_status("✗ cancelled")

    def set_status(self, text: str) -> None:
        self.query_one("#query-status", Static).update(text)

    # -- history, focus, export --------------------------------------------------------------
    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self.history_pos = max(0, min(len(self.history), self.history_pos + step))
        text = self.history[self.history_pos] if self.history_pos < len(self.history) else ""
        self.query_one(TextArea).load_text(text)

    def action_cycle_focus(self) -> None:
        order = [w for w in (self.query_one(TextArea), self.query_one(Tree), *self.query("#query-table"))]
        focused = self.focused
        i = order.index(focused) if focused in order else -1
        order[(i + 1) % len(order)].focus()

    def action_export(self, kind: str) -> None:
        if not self.last_sql:
            self.notify("run a query first", severity="warning")
            return
        stamp = self.app.now().strftime("%Y%m%d-%H%M%S")
        path = self.app.workspace.root / "exports" / f"query-{stamp}.{kind}"
        self.export_to(self.last_sql, path, kind)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def export_to(self, sql: str, path: Path, kind: str) -> None:
        cur = self.app.backend.db.cursor()
        try:
            check_read_only(sql)
            path.parent.mkdir(parents=True, exist_ok=True)
            fmt = "FORMAT PARQUET" if kind == "parquet" else "FORMAT CSV, HEADER"
            target = str(path).replace("'", "''")
            cur.execute(f"COPY ({sql}) TO '{target}' ({fmt})")
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"export failed: {str(exc).splitlines()[0]}", severity="error")
            return
        finally:
            cur.close()
        self.app.call_from_thread(self.notify, f"exported to {path}")
        self.app.call_from_thread(self.set_status, f"✓ exported to {path}")
