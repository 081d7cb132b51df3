"""The Prometheus export end to end on the ingested sample workspace: ``metrics --textfile``
(parsed with prometheus_client's own parser) and ``serve-metrics`` (a real server process,
scraped over HTTP) say exactly what ``drift``, ``ops``, ``check`` and ``cost`` say in JSON over
the same windows; a value that cannot be computed is left out and said so, never 0."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from console.cli import main
from tests.frozen_time import CONSOLE
from tests.test_unknown_is_not_ok import corrupt_reference_cache

MODELS = ("credit-risk", "delivery-eta", "ticket-router")


def cli(ws: Path, *args: str, expect: int = 0) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--workspace", str(ws)])
    assert code == expect, (args, code, err.getvalue())
    return out.getvalue()


def cli_json(ws: Path, *args: str, expect: int = 0):
    return json.loads(cli(ws, *args, "--format", "json", expect=expect))


def samples(text: str) -> dict[str, dict[tuple, float]]:
    """family name → {sorted label items: value}, from prometheus_client's parser."""
    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def one(got: dict, name: str, **labels) -> float:
    return got[name][tuple(sorted(labels.items()))]


def assert_same(a: dict, b: dict) -> None:
    """The same series with the same values (sums equal to the last bits: DuckDB's parallel
    aggregation adds in any order)."""
    assert {k: set(v) for k, v in a.items()} == {k: set(v) for k, v in b.items()}
    for name, series in a.items():
        for labels, value in series.items():
            assert value == pytest.approx(b[name][labels], rel=1e-12), (name, labels)


def at(seconds: float) -> str:
    """A window bound as the CLI's ``--start``/``--end`` take it (RFC 3339, microseconds)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def newest(ws: Path, model: str) -> dt.datetime:
    rows = cli_json(ws, "query", f"SELECT max(ts) AS t FROM predictions WHERE model = '{model}'")
    return dt.datetime.fromisoformat(rows[0]["t"].replace("Z", "+00:00"))


def assert_matches_cli(ws: Path, got: dict) -> None:
    """Every exported value against the CLI's JSON over the same window."""
    assert one(got, "mlops_console_up") == 1
    assert one(got, "mlops_console_evaluation_errors") == 0
    production = {m["model"]: m["production"] for m in cli_json(ws, "models")}
    for model in MODELS:
        end = newest(ws, model) + dt.timedelta(microseconds=1)  # the alert windows end there
        # drift share: the latest [alerts] window (7d) of the production version
        d_start = one(got, "mlops_console_window_start_timestamp_seconds", model=model, window="drift")
        d_end = one(got, "mlops_console_window_end_timestamp_seconds", model=model, window="drift")
        assert at(d_end) == at(end.timestamp()) and d_end - d_start == pytest.approx(7 * 86400)
        drift = cli_json(ws, "drift", "--model", model, "--start", at(d_start), "--end", at(d_end),
                         "--no-multivariate")
        version = production[model]
        assert drift["version"] == version
        assert one(got, "mlops_console_drift_share", model=model, version=version) == drift["dataset_drift"]["share"]
        assert one(got, "mlops_console_dataset_drift", model=model, version=version) == int(
            drift["dataset_drift"]["drifted"])
        # error rate and p95: the latest [alerts] ops_window (1h), every version
        o_start = one(got, "mlops_console_window_start_timestamp_seconds", model=model, window="ops")
        o_end = one(got, "mlops_console_window_end_timestamp_seconds", model=model, window="ops")
        assert o_end == d_end and o_end - o_start == pytest.approx(3600)
        ops = cli_json(ws, "ops", "--model", model, "--window", "all", "--start", at(o_start), "--end", at(o_end))
        (w,) = ops["windows"]
        assert w["requests"] > 0
        assert one(got, "mlops_console_requests", model=model) == w["requests"]
        assert one(got, "mlops_console_error_rate", model=model) == w["error_rate"]
        assert one(got, "mlops_console_latency_p95_seconds", model=model) == pytest.approx(
            w["latency_ms"]["p95"] / 1000, rel=1e-12)
    # alerts by kind and severity: check's JSON (exit 1: alerts fire in the sample)
    check = cli_json(ws, "check", expect=1)
    assert not check["errors"] and not check["skipped"]
    counted = {k: v for k, v in got["mlops_console_alerts"].items() if v}
    expected: dict[tuple, float] = {}
    for a in check["alerts"]:
        key = tuple(sorted({"model": a["model"], "kind": a["kind"], "severity": a["severity"]}.items()))
        expected[key] = expected.get(key, 0) + 1
    assert counted == expected and expected
    kinds = {dict(k)["kind"] for k in got["mlops_console_alerts"]}
    assert {"drift", "errors", "latency", "budget"} <= kinds  # evaluated kinds say 0, not nothing
    assert len(got["mlops_console_alerts"]) == len(MODELS) * len(kinds) * 2
    # cost burn: cost's budget entries
    cost = cli_json(ws, "cost")
    assert {b["model"] for b in cost["budget"]} == set(MODELS)
    for b in cost["budget"]:  # sums of DuckDB's parallel aggregation: equal to the last bits
        m = b["model"]
        assert one(got, "mlops_console_budget_burn_ratio", model=m) == pytest.approx(b["burn"], rel=1e-12)
        assert one(got, "mlops_console_cost_month_to_date_usd", model=m) == pytest.approx(b["mtd_usd"], rel=1e-12)
        assert one(got, "mlops_console_budget_usd", model=m) == b["budget_usd"]
        assert one(got, "mlops_console_cost_projected_usd", model=m) == pytest.approx(b["projected_usd"], rel=1e-12)
    # the estimated primary metric: estimate's JSON over the drift window as one window (binary:
    # CBPE roc_auc, regression: DLE rmse); a multiclass model cannot be estimated: said so
    tasks = {m["model"]: m["task"] for m in cli_json(ws, "models")}
    for model in MODELS:
        if tasks[model] == "multiclass":
            assert one(got, "mlops_console_not_evaluated", model=model, metric="estimated_metric", kind="",
                       reason="not_applicable") == 1
            continue
        metric = {"binary": "roc_auc", "regression": "rmse"}[tasks[model]]
        d_start = one(got, "mlops_console_window_start_timestamp_seconds", model=model, window="drift")
        d_end = one(got, "mlops_console_window_end_timestamp_seconds", model=model, window="drift")
        est = cli_json(ws, "estimate", "--model", model, "--window", "all", "--metric", metric,
                       "--start", at(d_start), "--end", at(d_end))
        (w,) = est["windows"]
        assert one(got, "mlops_console_estimated_metric", model=model, version=production[model],
                   metric=metric) == pytest.approx(w["metrics"][metric]["estimated"], rel=1e-12)


def test_textfile_is_what_the_cli_reports(sample_ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "mlops.prom"
    path.parent.mkdir()
    old = os.umask(0o002)
    try:
        assert cli(sample_ws, "metrics", "--textfile", str(path)) == ""
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o664)  # 0666 minus the umask, like every file
    assert sorted(p.name for p in path.parent.iterdir()) == ["mlops.prom"]  # no temp left behind
    text = path.read_text()
    assert_matches_cli(sample_ws, samples(text))
    assert_same(samples(cli(sample_ws, "metrics")), samples(text))  # stdout: the same document


def test_metrics_as_rows_are_the_same_series(sample_ws: Path) -> None:
    text = cli(sample_ws, "metrics")
    got = cli_json(sample_ws, "metrics")
    assert got and all(set(r) == {"metric", "labels", "value"} for r in got)
    rows: dict[str, dict[tuple, float]] = {}
    for r in got:
        rows.setdefault(r["metric"], {})[tuple(sorted(r["labels"].items()))] = r["value"]
    assert_same(rows, samples(text))
    table = list(csv.DictReader(io.StringIO(cli(sample_ws, "metrics", "--format", "csv"))))
    assert [r["metric"] for r in table] == [r["metric"] for r in got]
    assert [float(r["value"]) for r in table] == pytest.approx([r["value"] for r in got], rel=1e-6)
    assert table[0].keys() == {"metric", "labels", "value"}
    assert cli(sample_ws, "metrics", "--format", "table").splitlines()[0].split() == ["metric", "labels", "value"]
    err = subprocess.run([*CONSOLE, "metrics", "--format", "csv", "--textfile", "x.prom", "--workspace",
                          str(sample_ws)], capture_output=True, text=True, timeout=120)
    assert err.returncode == 2 and "leave out --format" in err.stderr


def test_textfile_replaces_a_planted_link_never_writes_through_it(sample_ws: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "mlops.prom"
    link.symlink_to(victim)
    cli(sample_ws, "metrics", "--textfile", str(link))
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink() and "mlops_console_up 1.0" in link.read_text()


def test_textfile_errors_are_one_line(sample_ws: Path, tmp_path: Path) -> None:
    res = subprocess.run([*CONSOLE, "metrics", "--textfile", str(tmp_path), "--workspace", str(sample_ws)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "is a folder" in res.stderr


def test_serve_metrics_scraped_over_http_equals_the_cli(sample_ws: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_CONSOLE_WORKSPACE"}
    proc = subprocess.Popen([*CONSOLE, "serve-metrics", "--port", "0", "--workspace", str(sample_ws)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=sample_ws)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving metrics on http://127.0.0.1:"), (line, proc.poll())
        url = line.split()[-1]
        with urllib.request.urlopen(url, timeout=120) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            first = resp.read().decode()
        assert_matches_cli(sample_ws, samples(first))
        with urllib.request.urlopen(url, timeout=120) as resp:  # recomputed per scrape: same store, same text
            assert_same(samples(resp.read().decode()), samples(first))
        # a store that cannot be read any more: the scrape still answers, up 0, nothing else
        (sample_ws / ".console" / "checkpoint.json").write_text("{not json")
        with urllib.request.urlopen(url, timeout=120) as resp:
            down = samples(resp.read().decode())
        assert one(down, "mlops_console_up") == 0 and one(down, "mlops_console_evaluation_errors") == 1
        assert "mlops_console_drift_share" not in down and "mlops_console_alerts" not in down
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        err = proc.stderr.read()
        assert "Traceback" not in err and "warning: scrape failed" in err and "checkpoint" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_value_that_cannot_be_computed_is_left_out_not_zero(sample_ws: Path) -> None:
    corrupt_reference_cache(sample_ws)  # drift cannot read its reference any more
    res = subprocess.run([*CONSOLE, "metrics", "--workspace", str(sample_ws)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    got = samples(res.stdout)
    assert one(got, "mlops_console_up") == 1
    assert "mlops_console_drift_share" not in got and "mlops_console_dataset_drift" not in got
    for model in MODELS:
        for metric in ("drift_share", "dataset_drift"):
            assert one(got, "mlops_console_not_evaluated", model=model, metric=metric, kind="", reason="error") == 1
        for kind in ("drift", "output_drift"):  # check could not compute these rules: no count
            assert one(got, "mlops_console_not_evaluated", model=model, metric="alerts", kind=kind,
                       reason="error") == 1
            assert not [k for k in got["mlops_console_alerts"] if dict(k)["model"] == model and dict(k)["kind"] == kind]
    errors = sum(v for k, v in got["mlops_console_not_evaluated"].items() if dict(k)["reason"] == "error")
    # 2 metrics + 5 alert kinds per model, and the estimate of a model whose reference it reads
    estimated = [dict(k)["model"] for k, v in got["mlops_console_not_evaluated"].items()
                 if dict(k)["metric"] == "estimated_metric" and dict(k)["reason"] == "error"]
    assert {dict(k)["model"] for k in got.get("mlops_console_estimated_metric", {})}.isdisjoint(estimated)
    assert one(got, "mlops_console_evaluation_errors") == errors == 3 * 7 + len(estimated)
    # what could be computed still is
    assert one(got, "mlops_console_alerts", model="ticket-router", kind="budget", severity="critical") == 1
    assert {dict(k)["model"] for k in got["mlops_console_error_rate"]} == set(MODELS)


def test_a_store_with_no_data_exports_reasons_not_zeros(bare_sample: Path) -> None:
    """No ingest yet: the views hold nothing — every model's values are not applicable, none
    is 0."""
    got = samples(cli(bare_sample, "metrics"))
    assert one(got, "mlops_console_up") == 1 and one(got, "mlops_console_evaluation_errors") == 0
    for name in ("drift_share", "error_rate", "latency_p95_seconds", "budget_burn_ratio"):
        assert f"mlops_console_{name}" not in got
    assert one(got, "mlops_console_not_evaluated", model="credit-risk", metric="error_rate", kind="",
               reason="not_applicable") == 1
