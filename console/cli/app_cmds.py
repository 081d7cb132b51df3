"""Sub-commands that open the console (``demo``, no command) and list the fleet (``models``)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from console.cli.output import emit
from console.errors import UsageError
from console.governance.state import fleet_state
from console.store.registry import load_registry
from console.workspace import Workspace, load_dir


def register(sub, parents) -> None:
    p = sub.add_parser(
        "demo",
        parents=[parents["common"]],
        help="open the console on a fresh, writable copy of the bundled sample workspace",
    )
    p.add_argument("--read-only", action="store_true", help="remove every action")
    p.add_argument("--dir", metavar="DIR", help="where to put the copy (default: a new temp dir)")
    p.add_argument("--no-tui", action="store_true", help="make the copy, print its path, and stop")
    p.set_defaults(handler=run_demo)

    p = sub.add_parser(
        "models",
        parents=[parents["common"], parents["format"]],
        help="models with their versions, stages and production version",
    )
    p.set_defaults(handler=run_models)


def models_report(ws: Workspace, registry=None) -> list[dict]:
    """``models`` (docs/formats.md, 'Registry'): one entry per model with its versions and stages, and the
    model's registry files that were skipped (``invalid``: path and reason)."""
    registry = registry if registry is not None else load_registry(ws.registry, ws.root)
    state = fleet_state(ws, registry)
    invalid: dict[str, list[dict]] = {}
    for err in registry.errors:
        if err.path.parent != Path(ws.registry):  # files outside a model folder belong to no model
            invalid.setdefault(err.path.parent.name, []).append({"path": str(err.path), "reason": err.reason})
    out = []
    for model in sorted(set(registry.models()) | set(invalid)):
        versions = registry.versions_of(model)
        out.append(
            {
                "model": model,
                "task": versions[-1].task if versions else None,
                "production": state.production.get(model),
                "versions": [
                    {"version": v.version, "stage": state.stage(model, v.version)} for v in versions
                ],
                "invalid": invalid.get(model, []),
            }
        )
    return out


def run_models(ctx) -> int:
    # table and json list invalid registry files themselves; csv keeps one table and warns
    registry = ctx.registry(warn=ctx.fmt == "csv")
    report = models_report(ctx.workspace(), registry)
    rows = [
        {"model": m["model"], "task": m["task"], "production": m["production"],
         "versions": ", ".join(f"{v['version']} ({v['stage']})" for v in m["versions"]),
         "invalid": len(m["invalid"]) or None}
        for m in report
    ]
    if ctx.fmt == "csv":
        rows = [
            {"model": m["model"], "task": m["task"], "production": m["production"],
             "version": v["version"], "stage": v["stage"]}
            for m in report for v in m["versions"]
        ]
    emit(report, ctx.fmt, rows=rows)
    bad = [f for m in report for f in m["invalid"]]
    loose = [e for e in registry.errors if e.path.parent == Path(ctx.workspace().registry)]
    if ctx.fmt == "table":
        bad += [{"path": str(e.path), "reason": e.reason} for e in loose]
    else:
        for e in loose:
            sys.stderr.write(f"mlops-console: warning: registry file skipped: {e}\n")
    if ctx.fmt == "table" and bad:
        sys.stdout.write("\n")
        emit(bad, "table", title=f"invalid registry files ({len(bad)}, skipped)")
    return 0


def bundled_sample() -> Path | None:
    """The sample workspace shipped in the repository (``sample_data/``), if present."""
    root = Path(__file__).resolve().parents[2] / "sample_data"
    return root if (root / "console.toml").is_file() else None


def fresh_demo_copy(target: Path | None = None) -> Path:
    """Copy the bundled sample workspace somewhere writable (never touching the repository),
    with this OS account as the copy's administrator, operator and reviewer."""
    src = bundled_sample()
    dest = Path(target) if target else Path(tempfile.mkdtemp(prefix="mlops-console-demo-"))
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"{dest}: not empty; the demo needs a fresh directory")
    if src is None:
        from console.samplegen import generate

        generate(dest)
    else:
        shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".console"))
    from console.governance.seed import adopt_copy

    adopt_copy(dest)  # you administer your copy: your key is registered, you may act in it
    return dest


def run_demo(ctx) -> int:
    dest = fresh_demo_copy(Path(ctx.args.dir) if ctx.args.dir else None)
    if ctx.args.no_tui:
        print(dest)
        return 0
    return launch(load_dir(dest), read_only=ctx.args.read_only)


def run_tui(ctx) -> int:
    return launch(ctx.workspace(), read_only=getattr(ctx.args, "read_only", False))


def launch(ws: Workspace, read_only: bool = False) -> int:
    from console.tui.app import ConsoleApp

    app = ConsoleApp(ws, read_only=read_only)
    app.run()
    return int(app.return_code or 0)
