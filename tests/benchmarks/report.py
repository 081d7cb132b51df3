"""The results as markdown: the targets (met / missed), each section's table with median and
spread, the machine and its load while the run went on, and the commands to reproduce."""

from __future__ import annotations

from typing import Any

from tests.benchmarks.common import fmt_s, fmt_spread


def _mib(s: dict[str, Any] | None) -> str:
    if not s or s.get("median") is None:
        return "–"
    return f"{s['median']:.0f} MiB ({s['min']:.0f}–{s['max']:.0f})"


def _rps(s: dict[str, Any] | None) -> str:
    if not s or s.get("median") is None:
        return "–"
    k = lambda x: f"{x / 1000:,.0f}k"  # noqa: E731
    return f"{k(s['median'])}/s ({k(s['min'])}–{k(s['max'])})"


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    p = res["parameters"]
    lines = [
        "# Benchmarks",
        "",
        f"Run {res['started']} → {res.get('finished', '(in progress)')}"
        f"{' — QUICK mode (small data, not the published figures)' if res.get('quick') else ''}; "
        f"total {fmt_s(res.get('total_seconds'))}. Commit `{m.get('commit', '')}`.",
        "",
        f"**Machine:** {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}; Python {m['python']}, "
        f"DuckDB {m['duckdb']}, PyArrow {m['pyarrow']}, Polars {m['polars']}, Textual {m['textual']}.",
        "",
        _load_note(res),
        "",
        f"Every figure is the **median of its repetitions** with the spread (min–max, n = repetitions): "
        f"{p['reps']} by default, {p.get('ev_reps', p['reps'])} for Evidently; *whole process* = a fresh process from exec to exit, measured by the driver (wall clock and "
        "peak RSS from `wait4`); *in-process* = `perf_counter` around the call inside that process.",
        "",
        "## Targets",
        "",
        "| target | measured | status | issue |",
        "|---|---|---|---|",
    ]
    for t in res.get("targets", []):
        mark = {"met": "✅ met", "missed": "❌ missed"}.get(t["status"], "– " + t["status"])
        lines.append(f"| {t['target']} | {t['measured']} | {mark} | {t['issue']} |")
    s = res["sections"]
    if res.get("budget_cuts"):
        lines += ["", "**Cut by the time budget:** " + "; ".join(res["budget_cuts"]) + "."]
    if res.get("errors"):
        lines += ["", "**Sections that failed in this run:**", ""]
        lines += [f"- `{k}`: {v}" for k, v in res["errors"].items()]
    lines += _data(res)
    if "ingest" in s:
        lines += _ingest(s["ingest"])
    if "badlines" in s:
        lines += _bad_lines(s["badlines"])
    if "drift" in s:
        lines += _drift(s["drift"])
    if "windows" in s or "reports" in s:
        lines += _analytics(s.get("windows"), s.get("reports"))
    if "tui" in s:
        lines += _tui(s["tui"])
    if "explain" in s:
        lines += _explain(s["explain"])
    if "spark" in s:
        lines += _spark(s["spark"])
    if "big100m" in s:
        lines += _big(s["big100m"])
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                                   # everything, ~30 min with the data cached",
        ".venv/bin/python -m tests.benchmarks.run --quick            # small data, a few minutes",
        ".venv/bin/python -m tests.benchmarks.run --only drift --reps 5",
        "```",
        "",
        f"This run: `{res['command']}`. The first run generates the workspaces "
        "(`python -m console.samplegen --profile bench --rows N --format both|parquet`) under `bench-out/data/`, "
        "and creates `.bench-venv/evidently` (`evidently==0.7.23`, `pandas<3`); later runs reuse both. "
        "See `tests/benchmarks/README.md`.",
        "",
    ]
    return "\n".join(lines)


def _big(b: dict[str, Any]) -> list[str]:
    """The 100M section (``bench_big``): one run of each step, its own process."""
    st = b.get("steps") or {}
    d = b.get("data") or {}
    gen = (f"generated in {d['generated_seconds'] / 60:.1f} min (peak RSS {d.get('generated_max_rss_mb') or 0:,.0f} MiB)"
           if d.get("generated_seconds") else "generated earlier")
    lines = ["", "## 100M store, adopted in place (`--only big100m`, n = 1)", "",
             f"`{b.get('workspace')}`: {b.get('rows', 0):,} predictions of the bench profile as Parquet, {gen}"
             f"{', cached' if d.get('cached') else ''}; `[ingest] adopt_parquet = true`, the files read where they are. "
             "Each step is its own process (wall clock, CPU seconds and peak RSS from `wait4`; load average "
             "at its end).", "",
             "| step | wall | CPU | peak RSS | figures | load |", "|---|---|---|---|---|---|"]

    def row(name: str, x: dict[str, Any] | None, figures: str) -> None:
        if not x:
            return
        load = "/".join(f"{v:.1f}" for v in (x.get("loadavg") or [])[:3])
        lines.append(f"| {name} | {fmt_s(x.get('wall_s'))} | {x.get('cpu_s', '–')} s | "
                     f"{x.get('max_rss_mb', 0):,.0f} MiB | {figures} | {load} |")

    ad = st.get("adopt")
    if ad:
        row("adopt (`ingest`, deleted store)", ad, f"{ad['records']:,} records, {ad['records_per_s']:,}/s")
    pr = st.get("profile")
    if pr:
        row("`profile` (deleted profiles)", pr, f"{pr.get('model_days')} model-days, {pr.get('rows_per_s', 0):,} rows/s")
    rd = st.get("readers")
    if rd:
        row("trend 30×1d + fleet, in one process", rd,
            f"trend {rd.get('trend_30d_profiles_first_s')} s first / {rd.get('trend_30d_profiles_again_s')} s cached "
            f"({rd.get('trend_windows')} windows, {rd.get('trend_windows_with_drift')} with drift); fleet "
            f"{rd.get('fleet_profiles_first_s')} s / {rd.get('fleet_profiles_again_s')} s ({rd.get('fleet_source')})")
    for key, label in (("trend_cli", "`trend --window 1d`"), ("fleet_cli", "`fleet`")):
        x = st.get(key)
        if x:
            row(label + " (1st process)", x["first"], f"source {x.get('source')}")
            row(label + " (2nd process)", x["again"], "")
    tui = st.get("tui") or {}
    for key, label in (("launch_cold", "TUI launch, cold cache"), ("launch_warm", "TUI launch, warm cache")):
        x = tui.get(key)
        if x:
            row(label, x, f"first paint {fmt_s(x.get('first_paint_s'))}, fleet populated {fmt_s(x.get('populated_s'))}, "
                f"complete {fmt_s(x.get('complete_s'))}")
    x = tui.get("panels")
    if x:
        row("TUI panel switches (bench-binary)", x, f"{x['switches']} switches, p50 {fmt_s(x.get('p50_s'))}, "
            f"p95 {fmt_s(x.get('p95_s'))}, {x['timed_out']} timed out")
    if b.get("errors"):
        lines += ["", "Steps that failed: " + "; ".join(f"`{k}`: {v}" for k, v in b["errors"].items())]
    return lines


def _load_note(res: dict[str, Any]) -> str:
    loads = res.get("load", [])
    if not loads:
        return ""
    peak = max((x["loadavg"][0] for x in loads if x.get("loadavg")), default=0.0)
    busy = sorted({b["cmd"][:60] for x in loads for b in x.get("busy", [])})
    cores = res["machine"].get("cores") or 1
    # The load average counts the benchmark's own processes (they use both cores), so only
    # other busy processes seen between sections make the machine "shared".
    shared = bool(busy)
    text = (f"**Load:** 1-minute load average between sections peaked at {peak:.1f} on {cores} cores. ")
    if shared:
        text += ("**The machine was shared** while this ran (other processes using CPU: "
                 + "; ".join(f"`{b}`" for b in busy[:6]) + ("…" if len(busy) > 6 else "")
                 + "), so the timings are pessimistic.")
    else:
        text += "No other busy process was seen: a quiet machine."
    return text


def _data(res: dict[str, Any]) -> list[str]:
    d = res.get("data") or {}
    out = ["", "## Data", ""]
    for key, label in (("small", "ingest workspaces (JSONL and Parquet, same records)"),
                       ("big", "big workspace (Parquet)")):
        meta = d.get(key)
        if not meta:
            continue
        cached = "cached from an earlier run" if meta.get("cached") else "generated in this run"
        out.append(f"- {label}: {meta['rows']:,} predictions, 3 models, 20 features (15 numeric, 5 categorical), "
                   f"30 days, half labelled; generation took {fmt_s(meta.get('generated_seconds'))} ({cached}).")
    bi = d.get("big_ingest")
    if bi:
        out.append(f"- big store: `mlops-console ingest` took {fmt_s(bi['wall_s'])}, peak {bi['max_rss_mb']:.0f} MiB "
                   f"(one run{', in an earlier run' if bi.get('cached') else ''}).")
    return out


def _ingest(ing: dict[str, Any]) -> list[str]:
    out = ["", "## Ingest", "",
           "Whole process, a deleted store each time. Records = predictions + label records. DuckDB raw = one "
           "statement over the same files in a fresh Python process (`table`: parse every column into memory; "
           "`copy`: parse and write Parquet, the least an ingester does; `count`: `count(*)`, for Parquet read "
           "from the footers). Ratio = DuckDB's median time ÷ ours (1.0 = as fast as the practical limit; above 1 = "
           "faster than DuckDB's own reader into a table or Parquet).", "",
           "| format | records | ours | ours records/s | peak RSS | DuckDB table | DuckDB copy | DuckDB count | "
           "ratio (table / copy) |", "|---|---|---|---|---|---|---|---|---|"]
    for fmt, f in ing.get("formats", {}).items():
        r = f["duckdb_raw"]
        out.append(f"| {fmt} ({f['source_mib']:.0f} MiB) | {f['records']:,} | {fmt_spread(f['wall_s'])} | "
                   f"{_rps(f['records_per_s'])} | {_mib(f['max_rss_mb'])} | {fmt_spread(r['table']['wall_s'])} | "
                   f"{fmt_spread(r['copy']['wall_s'])} | {fmt_spread((r.get('count') or {}).get('wall_s'))} | "
                   f"{f['ratio_to_duckdb_table']:.2f} / {f['ratio_to_duckdb_copy']:.2f} |")
    inproc = [(fmt, f["in_process"]) for fmt, f in ing.get("formats", {}).items() if f.get("in_process")]
    cpu_lines = []
    for fmt, f in ing.get("formats", {}).items():
        cpu = {m: r.get("records_per_cpu_s") for m, r in f["duckdb_raw"].items() if r.get("records_per_cpu_s")}
        if cpu:
            cpu_lines.append(f"- DuckDB over the {fmt} files, records per CPU second of the statement: "
                             + ", ".join(f"{m} {_rps(v)}" for m, v in cpu.items()))
    if cpu_lines:
        out += ["", *cpu_lines]
    if inproc:
        out += ["", "In process (the ingester alone, `Ingester.run_once` on a deleted store; `parquet-adopt`: "
                "`[ingest] adopt_parquet = true`, prediction files adopted in place, labels rewritten):", ""]
        out += [f"- {fmt}: {fmt_spread(x['seconds'])}, {_rps(x['records_per_s'])} records/s"
                + (f"; CPU {fmt_spread(x['cpu_s'])}, {_rps(x['records_per_cpu_s'])} records per CPU second"
                   if x.get("cpu_s") else "")
                + (f", {x['adopted_files']} files adopted" if x.get("adopted_files") else "") for fmt, x in inproc]
    b = ing.get("big_parquet_single_run")
    if b and b.get("wall_s"):
        rps = b.get("records_per_s")
        out += ["", f"Big store (Parquet), one run: {fmt_s(b['wall_s'])}"
                + (f", {rps:,} records/s" if rps else "") + f", peak {b['max_rss_mb']:.0f} MiB — {b['note']}."]
    return out


def _bad_lines(b: dict[str, Any]) -> list[str]:
    out = ["", "## Bad input: memory of bad lines against good ones", "",
           f"{b['rows']:,} lines each. {b['what']}.", "",
           "| lines | source | whole process | lines/s | peak RSS |", "|---|---|---|---|---|"]
    for which in ("good", "bad"):
        f = b[which]
        out.append(f"| {which} | {f['source_mib']:.0f} MiB | {fmt_spread(f['wall_s'])} | {_rps(f['records_per_s'])} | "
                   f"{_mib(f['max_rss_mb'])} |")
    out += ["", f"Peak RSS, bad ÷ good: **{b['ratio']:.2f}×**."]
    return out


def _drift(d: dict[str, Any]) -> list[str]:
    o, e, a = d["ours"], d["evidently"], d["agreement"]
    out = ["", "## Drift: 20 features, reference vs current (against Evidently)", "",
           f"{d['model']}: reference {d['reference_rows']:,} rows ({d['reference_window'][0][:10]} … "
           f"{d['reference_window'][1][:10]}), current {d['current_rows']:,} rows ({d['current_window'][0][:10]} … "
           f"{d['current_window'][1][:10]}), {d['features']} features. Evidently "
           f"{' with pandas '.join(e['versions'].split())} in its own venv, on the same rows.", "",
           "| | compute (in-process) | whole process | peak RSS |", "|---|---|---|---|",
           f"| ours | {fmt_spread(o['compute_s'])} | {fmt_spread(o['process_wall_s'])} | {_mib(o['max_rss_mb'])} |",
           f"| Evidently DataDriftPreset | {fmt_spread(e['compute_s'])} | {fmt_spread(e['process_wall_s'])} | "
           f"{_mib(e['max_rss_mb'])} |",
           f"| ratio | **{d['speedup_compute']:.1f}× faster** | {d['speedup_process']:.1f}× faster | "
           f"**{d['memory_fraction']:.2f}** of Evidently's |", "",
           f"Ours: {o['what']}. Evidently: {e['what']} (its compute excludes reading the Parquet, "
           f"{fmt_spread(e['load_s'])}, and importing, {fmt_spread(e['import_s'])}; ours includes reading the "
           "store).", "",
           f"**Agreement: {a['agree']}/{a['features']} features** have the same method, score (tolerance "
           f"{a['tolerance']}) and verdict.", "",
           "| feature | method (Evidently) | ours | Evidently | drift ours / Evidently | agree |",
           "|---|---|---|---|---|---|"]
    for r in a["rows"]:
        if "method" not in r:
            out.append(f"| {r['feature']} | – | – | – | – | ✗ {r.get('why', '')} |")
            continue
        out.append(f"| {r['feature']} | {r['method']} ({r['evidently_method']}) | {r['score']:.6g} | "
                   f"{r['evidently_score']:.6g} | {'yes' if r['drifted'] else 'no'} / "
                   f"{'yes' if r['evidently_drifted'] else 'no'} | {'✓' if r['agree'] else '✗'} |")
    return out


def _analytics(w: dict[str, Any] | None, r: dict[str, Any] | None) -> list[str]:
    out = ["", "## Analytics over the big store", "",
           "| report | rows | first run | cached (same process) | cached (new process) |", "|---|---|---|---|---|"]
    if w:
        out.append(f"| 30 daily drift windows × {len(w['models'])} models ({w['reports']} reports) | {w['rows']:,} | "
                   f"{fmt_spread(w['first_s'])} | {fmt_spread(w['cached_in_process_s'])} | "
                   f"{fmt_spread(w['cached_new_process_s'])} |")
    for kind, x in (r or {}).items():
        out.append(f"| {kind} × {len(x['models'])} models | {x['rows']:,} | {fmt_spread(x['first_s'])} | "
                   f"{fmt_spread(x['cached_in_process_s'])} | – |")
    out.append("")
    if w:
        out.append(f"- drift windows: {w['what']}; per model ≈ {fmt_s(w['per_model_first_s'])} first.")
    for kind, x in (r or {}).items():
        out.append(f"- {kind}: {x['what']}.")
    return out


def _tui(t: dict[str, Any]) -> list[str]:
    out = ["", "## TUI (Textual Pilot, headless)", "",
           "| workspace | app ready (first frame) | first paint (fleet rows) | fleet populated | drift + alerts in "
           "| idle RSS | peak RSS |",
           "|---|---|---|---|---|---|---|"]
    for key, label in (("launch_sample", "sample workspace, cold cache"), ("launch_big", "big store, cold cache"),
                       ("launch_big_warm", "big store, warm cache")):
        x = t.get(key)
        if not x:
            continue
        complete = fmt_spread(x["complete_s"])
        idle = _mib(x["rss_idle_mb"])
        if x.get("complete_timed_out"):
            complete += f"; {x['complete_timed_out']} run(s) not done after {x['timeout_s']:g} s"
            idle += " (measured while drift was still loading)"
        out.append(f"| {label} | {fmt_spread(x.get('app_ready_s'))} | {fmt_spread(x['first_paint_s'])} | {fmt_spread(x['populated_s'])} | {complete} | "
                   f"{idle} | {_mib(x['peak_rss_mb'])} |")
    lb = t.get("launch_big") or t.get("launch_sample")
    if lb:
        out += ["", f"Launch: {lb['what']}."]
        if lb.get("problems"):
            out.append(f"Problems the console showed: {'; '.join(lb['problems'][:3])}.")
    ms = lambda x: "–" if x is None else f"{x * 1000:.0f} ms"  # noqa: E731
    for key, how in (("panels_big", "highlighted in the fleet while it loaded (its tabs computed ahead)"),
                     ("panels_big_not_highlighted", "not highlighted: the cursor moved to it just before enter, "
                                                    "nothing computed ahead")):
        pb = t.get(key)
        if not pb or pb.get("p50_s") is None:
            continue
        worst = max((s["seconds"] for s in pb.get("all", []) if s.get("seconds") is not None), default=None)
        out += ["", f"Panel switches on {pb['model']} (big store), {how}: {pb['switches']} switches"
                + (f", {pb['timed_out']} timed out after {pb['timeout_s']:g} s (left out of the percentiles)"
                   if pb["timed_out"] else "")
                + f"; opening the model screen took {ms(pb['open_model_s'])}"
                + (f", every tab complete after {ms(pb['model_loaded_s'])}" if pb.get("model_loaded_s") else "")
                + f"; slowest switch {ms(worst)}.", "",
                "| switches | p50 | p95 |", "|---|---|---|",
                f"| all | {ms(pb['p50_s'])} | {ms(pb['p95_s'])} |",
                f"| first visit of a tab | {ms(pb['first_visit_p50_s'])} | {ms(pb['first_visit_p95_s'])} |",
                f"| revisits | {ms(pb['revisit_p50_s'])} | {ms(pb['revisit_p95_s'])} |", "",
                f"{pb['what']}. Peak RSS of that process {pb['max_rss_mb']:.0f} MiB."]
    return out


def _explain(x: dict[str, Any]) -> list[str]:
    return ["", "## Explanations", "",
            "| predictions | method | cold | warm | one request by id | max additivity error | peak RSS |",
            "|---|---|---|---|---|---|---|",
            f"| {x['rows']:,} | {x['method']} | {fmt_spread(x['cold_s'])} | {fmt_spread(x['warm_s'])} | "
            f"{x['one_request_ms']:.0f} ms | {x['max_additivity_error']:.1e} | {x['max_rss_mb']:.0f} MiB |",
            "", f"{x['what']}."]


def _spark(x: dict[str, Any]) -> list[str]:
    if x.get("skipped"):
        return ["", "## Daily profiles: Spark beside the local engine", "", f"Not measured: {x['skipped']}."]
    q = x["equal"]
    verdict = ("identical tables (every count, histogram bin, sketch bucket and sum)" if q["identical"] else
               f"counts and histograms {'equal' if q['exact_rows_equal'] else 'NOT equal'}; sketch buckets "
               f"{'equal' if q['sketch_rows_equal'] else 'differ'}, quantiles within the bound: "
               f"{q['sketch_quantiles_within_bound']} (worst relative gap {q['max_sketch_quantile_rel_diff']:.2g})")
    out = ["", "## Daily profiles: Spark beside the local engine", "",
           f"The big workspace's prediction logs ({x['lake_files']} Parquet files, {x['lake_mib']:.0f} MiB, "
           f"{x.get('rows', 0):,} predictions, {x['model_days']} model-days) profiled as a lake. "
           f"PySpark {x['pyspark']}, {x['java']}.", "",
           "| engine | command | wall | peak RSS (process tree) |", "|---|---|---|---|"]
    for name, label in (("local", "local (DuckDB)"), ("spark", f"Spark {x['master']}")):
        e = x["engines"][name]
        out.append(f"| {label} | `{e['command']}` | {fmt_spread(e['wall_s'])} | "
                   f"{_mib(e['tree_peak_rss_mb'])} |")
    out += ["", f"Spark / local wall: {x['spark_over_local']:.1f}×. Result: {verdict}. {x['what'][:1].upper() + x['what'][1:]}."]
    return out


def readme_section(res: dict[str, Any]) -> str:
    """The README's "Performance" section: the targets table, the machine, how to reproduce."""
    m = res["machine"]
    lines = [
        f"Measured by `make bench` ({res['started'][:10]}, commit `{m.get('commit', '')}`) on {m['cpu']}, "
        f"{m['cores']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}, DuckDB {m['duckdb']}. "
        "Medians of repeated runs; spreads, the load on the machine and every other figure are in "
        "[docs/benchmarks.md](docs/benchmarks.md).",
        "",
        "| target | measured | status |",
        "|---|---|---|",
    ]
    for t in res.get("targets", []):
        mark = {"met": "✅ met", "missed": "❌ missed"}.get(t["status"], "– " + t["status"])
        lines.append(f"| {t['target']} | {t['measured']} | {mark} |")
    note = _load_note(res)
    if note:
        lines += ["", note]
    lines += ["", "Reproduce: `make bench` (or `.venv/bin/python -m tests.benchmarks.run --quick` for a "
              "small run); see [tests/benchmarks/README.md](tests/benchmarks/README.md)."]
    return "\n".join(lines)


def replace_readme_section(readme: str, body: str, heading: str = "## Performance") -> str:
    """``readme`` with the text between ``heading`` and the next ``## `` heading replaced by ``body``."""
    start = readme.find(heading + "\n")
    if start < 0:
        return readme
    after = start + len(heading) + 1
    nxt = readme.find("\n## ", after)
    end = len(readme) if nxt < 0 else nxt + 1
    return readme[:after] + "\n" + body.rstrip() + "\n\n" + readme[end:]
