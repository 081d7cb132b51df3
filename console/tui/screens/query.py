"""Query (analysts): a SQL editor with highlighting and history, the schema of the store's
views, results in ``textual-fastdatatable`` (Arrow-backed: fast at 100k rows), run with a key and
cancelled with another, and export of the full result to CSV or Parquet.

The screen runs no SQL of its own: every statement — the schema, a query, an export — goes
through ``Backend.query``, i.e. ``console.analytics.query.stream_query``, the same read-only,
sandboxed function as ``mlops-console query`` (``read_text('/etc/shadow')``, ``COPY``,
``ATTACH``, ``INSTALL`` are refused the same way, also in ``--read-only``). Results stream in
Arrow batches: the screen keeps the first ``ROW_LIMIT`` rows and stops the query there ("first N
rows (more not fetched)", or "first N rows of M" when the last batch told M); an export writes
the stream batch by batch (pyarrow's CSV and Parquet writers) in bounded memory, timestamps
stamped UTC (``analytics.query.zoned``, as ``mlops-console query``: ISO 8601 with ``Z`` in CSV).

A new run first clears the previous result, so rows are only ever shown under the SQL that
produced them; a refused or failed query (read-only refusal, syntax error, timeout) leaves no
table and one status line saying why. The history is the OS account's own (``history_path``).
Enter on the schema tree inserts the name at the cursor with a space on either side where it
would otherwise touch the neighbouring word; ``ctrl+a`` selects the whole SQL.
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
    """This OS account's history of queries on this workspace: in the account's own state
    folder (``console.identity.state_dir``), one file per workspace — never in the shared
    workspace, where every member would read (and add to) everyone's SQL."""
    import hashlib

    from console.identity import state_dir

    root = Path(ws.root).resolve()
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in root.name)[:40] or "workspace"
    return state_dir() / "query-history" / f"{name}-{digest}.jsonl"


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
    from console.fsio import open_append  # the umask decides its mode; never through a link

    try:
        with open_append(history_path(ws)) as f:
            f.write(json.dumps({"sql": sql}) + "\n")
    except OSError:
        pass  # history is a convenience: a read-only or missing home never stops a query


class QueryScreen(ConsoleScreen):
    SCOPE = "query"
    TITLE = "Query"
    VIEW = "query"

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = []
        self.history_pos = 0
        self.stream = None  # the running query (``cancel()`` from the main thread)
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

    def fetch(self) -> Any:  # the schema of the views (``analytics.query.view_columns``)
        return self.app.backend.view_columns(VIEWS)

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
            editor = self.query_one(TextArea)
            row, col = editor.cursor_location
            line = editor.document.get_line(row)
            editor.insert(spaced(str(event.node.data), line[:col], line[col:]))

    def action_select_all_sql(self) -> None:
        editor = self.query_one(TextArea)
        editor.focus()
        editor.select_all()

    # -- running ---------------------------------------------------------------------------
    def action_run_query(self) -> None:
        sql = self.query_one(TextArea).text.strip().rstrip(";")
        if not sql or self.app.backend is None or self.app.backend.db is None:
            return
        if not self.history or self.history[-1] != sql:
            self.history.append(sql)
            append_history(self.app.workspace, sql)
        self.history_pos = len(self.history)
        self.clear_result()  # the old rows never stand under the new SQL
        self.set_status("running… (ctrl+k cancels)")
        self.run_sql(sql)

    @work(thread=True, exclusive=True, exit_on_error=False, group="query")
    def run_sql(self, sql: str) -> None:
        import pyarrow as pa

        worker = get_current_worker()
        started = time.perf_counter()
        limit = ROW_LIMIT
        batches: list = []
        kept = seen = 0
        total: int | None = None  # every row of the result, when the stream was read to its end
        try:
            with self.app.backend.query(sql) as q:
                self.stream = q
                columns = q.columns
                gen = q.batches()
                try:
                    for batch in gen:
                        take = min(batch.num_rows, limit - kept)
                        if take:
                            batches.append(batch.slice(0, take))
                            kept += take
                        seen += batch.num_rows
                        if seen > limit:  # more than we keep: does the stream end here?
                            total = seen if next(gen, None) is None else None
                            break
                    else:
                        total = seen
                finally:
                    gen.close()  # stops the query when rows were left
        except Exception as exc:
            if not worker.is_cancelled:
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.app.call_from_thread(self.show_failure, sql, msg)
            return
        finally:
            self.stream = None
        if worker.is_cancelled:
            return
        table = (pa.Table.from_batches(batches) if batches
                 else pa.table({c: pa.array([], pa.null()) for c in columns}))
        elapsed = time.perf_counter() - started
        self.app.call_from_thread(self.show_result, sql, table, total, elapsed)

    def clear_result(self) -> None:
        self.result_table = None
        """No result on screen (and none to export) until the next one arrives."""
        self.last_sql = None
        self.result_rows = 0
        self.query_one("#query-results", Vertical).remove_children()

    def show_failure(self, sql: str, msg: str) -> None:
        self.clear_result()
        self.set_status(f"✗ {msg}")

    async def show_result(self, sql: str, table, total: int | None, elapsed: float) -> None:
        from textual_fastdatatable import ArrowBackend, DataTable

        self.last_sql = sql
        self.result_rows = table.num_rows
        self.result_table = table
        box = self.query_one("#query-results", Vertical)
        await box.remove_children()
        await box.mount(DataTable(backend=ArrowBackend(table), id="query-table", cursor_type="cell",
                            max_column_content_width=40, null_rep="∅"))
        shown = f"{table.num_rows:,} rows × {table.num_columns} columns in {elapsed:.2f}s"
        if total is None:
            self.set_status(f"▲ first {shown} (more not fetched; ctrl+e/ctrl+o export them all)")
        elif total > table.num_rows:
            self.set_status(f"▲ first {shown}, of {total:,} rows (ctrl+e/ctrl+o export them all)")
        else:
            self.set_status(f"✓ {shown}")

    def action_explain_row(self) -> None:
        """Open the explain screen for the highlighted result row's ``request_id`` (with its
        ``model`` and ``version`` when the result has them)."""
        from console.tui.screens.explain import ExplainScreen

        table = getattr(self, "result_table", None)
        if table is None or "request_id" not in table.column_names or not self.query("#query-table"):
            self.notify("explain needs a result with a request_id column", severity="warning")
            return
        row = self.query_one("#query-table").cursor_coordinate.row
        if not 0 <= row < table.num_rows:
            return

        def value(col: str):
            return str(table.column(col)[row].as_py()) if col in table.column_names else None

        self.app.push_screen(ExplainScreen(value("request_id"), value("model"), value("version")))

    def action_cancel_query(self) -> None:
        stream = self.stream
        if stream is not None:
            stream.cancel()
        self.workers.cancel_group(self, "query")
        self.clear_result()
        self.set_status("✗ cancelled")

    def set_status(self, text: str) -> None:
        from rich.text import Text

        self.query_one("#query-status", Static).update(Text(text))  # "[query]" is no markup

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
        try:
            rows = export_query(self.app.backend, sql, path, kind)
        except Exception as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.app.call_from_thread(self.notify, f"export failed: {msg}", severity="error")
            self.app.call_from_thread(self.set_status, f"✗ export failed: {msg}")
            return
        self.app.call_from_thread(self.notify, f"exported {rows:,} rows to {path}")
        self.app.call_from_thread(self.set_status, f"✓ exported {rows:,} rows to {path}")


def spaced(name: str, before: str, after: str) -> str:
    """``name`` as inserted between ``before`` and ``after`` (the text left and right of the
    cursor on its line): a space added on a side where it would touch a word, a quote or a
    comma — ``FROM|`` → ``FROM predictions``, ``a,|`` → ``a, model`` — none after an opening
    bracket, before a closing one or a comma, or at either end of the line."""
    lead = " " if before and not before[-1].isspace() and before[-1] not in "(." else ""
    trail = " " if after and not after[0].isspace() and after[0] not in "),.;" else ""
    return lead + name + trail


def export_query(backend, sql: str, path: Path, kind: str) -> int:
    """The whole result of ``sql`` (``Backend.query``) written to ``path`` as CSV or Parquet,
    batch by batch, through ``console.fsio.replacing`` (a hidden temp file, the umask's mode,
    replaced into place only when complete). Timestamps carry their zone (``zoned``): ISO 8601
    text with ``Z`` in CSV, the very function ``mlops-console query --format csv`` uses; in
    Parquet, timestamps adjusted to UTC. Returns the number of rows."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from console.analytics.query import zoned
    from console.fsio import replacing

    def writer_for(fh, schema):
        return pq.ParquetWriter(fh, schema) if kind == "parquet" else pcsv.CSVWriter(fh, schema)

    rows = 0
    with replacing(path) as tmp, backend.query(sql) as q:
        writer = None
        for batch in q.batches():
            batch = zoned(batch, text=kind == "csv")
            if writer is None:
                writer = writer_for(tmp.file, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
        if writer is None:  # no rows: the header (or an empty table) all the same
            writer = writer_for(tmp.file, pa.schema([(c, pa.string()) for c in q.columns]))
        writer.close()
    return rows
