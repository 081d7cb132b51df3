"""Champion versus challenger, side by side, for the sign-off view: offline metrics from the
registry, then live metrics, labelled rows, drift, flagged slices, error rate and p95 latency
from the engine's reports for each version. Runs in a worker thread.

Drift is compared on the same features: each side's drift row counts only the features both
versions' reports tested (``shared_drift``), its dataset verdict recomputed over them with the
report's own share threshold; features tested on one side only are named on a row of their own
("drift only in vN") instead of silently tipping one side's count."""

from __future__ import annotations

from typing import Any

from console.analytics.value import net_per_1k
from console.profiles import glance
from console.tui import format as fmt


def _safe(problems: list[str], what: str, fn, *args, **kwargs) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        problems.append(f"{what}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return None


def tested_features(report: dict | None) -> dict[str, dict]:
    """The features a drift report tested (a method ran), by name."""
    return {f["feature"]: f for f in (report or {}).get("features") or [] if f.get("method")}


def shared_drift(champion: dict | None, challenger: dict | None) -> dict:
    """Both drift reports judged on the features both tested: ``{"shared": [names], "only":
    [names only in the champion's, names only in the challenger's], "sides": [{"drifted",
    "tested", "share", "dataset_drift"} or None per side]}``."""
    sides = [tested_features(champion), tested_features(challenger)]
    present = [r is not None and bool(r) for r in (champion, challenger)]
    if all(present):
        shared = sorted(set(sides[0]) & set(sides[1]))
        only = [sorted(set(sides[0]) - set(sides[1])), sorted(set(sides[1]) - set(sides[0]))]
    else:
        shared = sorted(next((set(f) for f, p in zip(sides, present, strict=True) if p), set()))
        only = [[], []]
    out = []
    for report, feats, here in zip((champion, challenger), sides, present, strict=True):
        if not here:
            out.append(None)
            continue
        drifted = [n for n in shared if feats[n].get("drifted")]
        threshold = ((report or {}).get("dataset_drift") or {}).get("threshold")
        share = len(drifted) / len(shared) if shared else None
        out.append({"drifted": drifted, "tested": len(shared), "share": share, "threshold": threshold,
                    "dataset_drift": share is not None and threshold is not None and share >= threshold})
    return {"shared": shared, "only": only, "sides": out}


def compare_versions(backend, model: str, champion: str | None, challenger: str) -> dict:
    """``{"rows": [(label, champion text, challenger text)], "problems": [...]}``."""
    problems: list[str] = []
    versions = [champion, challenger]
    infos = [backend.registry.get(model, v) if v else None for v in versions]
    rows: list[tuple[str, str, str]] = []
    names = []
    for info in infos:
        for k in (info.metrics if info else {}):
            if k not in names:
                names.append(k)
    for k in names:
        rows.append((f"offline {k}", *[fmt.num(i.metrics.get(k)) if i else "—" for i in infos]))
    reports = []
    for v in versions:
        if v is None:
            reports.append({})
            continue
        reports.append({
            "perf": _safe(problems, f"performance v{v}", backend.report, "performance_report",
                          model=model, version=v, window="all"),
            "drift": _safe(problems, f"drift v{v}", backend.report, glance.drift_report, model=model, version=v),
            "slices": _safe(problems, f"slices v{v}", backend.report, "slices_report", model=model, version=v),
            "ops": _safe(problems, f"ops v{v}", backend.report, "ops_report", model=model, version=v, window="all"),
        })

    def perf_window(r: dict) -> dict:
        wins = (r.get("perf") or {}).get("windows") or [{}]
        return wins[-1]

    live_names = []
    for r in reports:
        for k in (perf_window(r).get("metrics") or {}):
            if k not in live_names:
                live_names.append(k)
    for k in live_names:
        rows.append((f"live {k}", *[fmt.num((perf_window(r).get("metrics") or {}).get(k)) if r else "—" for r in reports]))
    rows.append(("rows / labelled", *[f"{fmt.num(perf_window(r).get('rows'))} / {fmt.num(perf_window(r).get('labelled'))}"
                                      if r else "—" for r in reports]))

    drift = shared_drift(*[(r.get("drift") if r else None) for r in reports])

    def drift_cell(side: dict | None) -> str:
        if not side:
            return "—"
        if not side["tested"]:
            return "? no shared feature"
        return (("✗ drift" if side["dataset_drift"] else "✓ ok")
                + f" ({len(side['drifted'])} of {side['tested']} feat.)")

    def slices_cell(r: dict) -> str:
        s = r.get("slices") if r else None
        if not s:
            return "—"
        n = sum(1 for x in s.get("slices", []) if x.get("flagged"))
        return f"✗ {n} flagged" if n else "✓ none flagged"

    def ops_cell(r: dict) -> str:
        o = (r.get("ops") or {}).get("windows") if r else None
        if not o:
            return "—"
        w = o[-1]
        return f"{fmt.pct(w.get('error_rate'))} err · p95 {fmt.ms((w.get('latency_ms') or {}).get('p95'))}"

    profiled = any((r.get("drift") or {}).get("source") == "profiles" for r in reports if r)
    rows.append(("drift (same features" + (", profiles)" if profiled else ")"),
                 *[drift_cell(side) for side in drift["sides"]]))
    for i, names in enumerate(drift["only"]):
        if names:
            shown = ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
            cells = ["—", "—"]
            cells[i] = "not compared: " + shown
            rows.append((f"drift only in v{versions[i]}", *cells))
    rows.append(("slices", *[slices_cell(r) for r in reports]))
    rows.append(("ops", *[ops_cell(r) for r in reports]))
    rows.extend(value_rows(backend, model, versions, problems))
    return {"rows": rows, "problems": problems}


def value_rows(backend, model: str, versions: list[str | None], problems: list[str]) -> list[tuple[str, str, str]]:
    """Expected net value per 1,000 predictions of each side and the challenger's difference
    (``value_report`` by version over all data; "? not valued" with the reason when unknown)."""
    rep = _safe(problems, "value", backend.report, "value_report", model=model, by="version")
    if rep is None:
        return []
    why = {n["version"]: n["reason"] for n in rep.get("not_valued") or []}
    nets = [net_per_1k(rep, model, v) if v else None for v in versions]

    def cell(v: str | None, net: float | None) -> str:
        if v is None:
            return "—"
        if net is None:
            return "? not valued" + (f": {why[v]}" if v in why else " (no labelled traffic)")
        return f"{'-' if net < 0 else ''}{fmt.usd(abs(net))} per 1k"

    rows = [("net value (expected)", *[cell(v, n) for v, n in zip(versions, nets, strict=True)])]
    if None not in nets:
        diff = nets[1] - nets[0]
        word = "▲ challenger better" if diff > 0 else "▼ champion better" if diff < 0 else "= the same"
        rows.append(("net value, challenger − champion", "",
                     f"{'-' if diff < 0 else '+'}{fmt.usd(abs(diff))} per 1k ({word})"))
    return rows
