"""``mlops-console policy run`` (docs/formats.md, 'mlops-console policy run'): evaluate the
``[retrain_policy]`` rule over the store and raise the retrain requests it calls for, as the
``system`` actor (``console.governance.policy``) — what cron runs after ``ingest``. There is no
flag to choose the actor: ``system`` signs with this account's key only when the administrator
registered that key as ``system``.
"""

from __future__ import annotations

import sys

from console.cli.output import emit
from console.errors import EXIT_USAGE, UsageError


def register(sub, parents) -> None:
    p = sub.add_parser("policy", parents=[parents["common"]], help="policy-raised requests")
    policy_sub = p.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    r = policy_sub.add_parser("run", parents=[parents["common"], parents["format"]],
                              help="evaluate [retrain_policy]; raise a retrain request as system where it holds")
    r.add_argument("--model", help="only this model")
    r.add_argument("--dry-run", action="store_true", help="evaluate and report; raise nothing")
    r.set_defaults(handler=run_policy)


def run_policy(ctx) -> int:
    """Exit 0: evaluated (requests raised or not); 2: a window could not be computed (nothing is
    raised for that model; the reason on stderr), no rule, or the request was refused."""
    from console import clock
    from console.cli import PROG
    from console.cli.analytics_cmds import _open
    from console.governance.policy import load_policy, run

    ws = ctx.workspace()
    policy = load_policy(ws)
    if policy is None:
        raise UsageError(f"{ws.config_path} has no [retrain_policy]; nothing to evaluate")
    rep = run(ws, _open(ctx), policy, model=ctx.args.model, dry_run=ctx.args.dry_run, now=clock.now())
    rows = []
    for e in rep["models"]:
        last = {c: ws_[-1] for c, ws_ in e["conditions"].items()}
        rows.append({"model": e["model"], "version": e["version"],
                     "holds": ("✗ holds: " + ", ".join(e["held"])) if e["holds"] else "✓ does not hold",
                     "windows": " ".join(f"{c}: " + "".join("✗" if w["status"] == "breach" else "·"
                                                              for w in e["conditions"][c]) for c in last),
                     "outcome": e["outcome"], "request": e.get("request_id")})
    for s in rep["skipped"]:
        rows.append({"model": s["model"], "version": None, "holds": "? not evaluated",
                     "windows": s.get("condition") or "", "outcome": s["reason"], "request": None})
    for x in rep["errors"]:
        rows.append({"model": x["model"], "version": None, "holds": "✗ failed",
                     "windows": ",".join(x["kinds"]), "outcome": f"could not be computed: {x['error']}",
                     "request": None})
    rule = rep["rule"]
    title = (f"retrain policy: {' or '.join(rule['when'])} in each of the last {rule['consecutive_windows']} "
             f"windows of {rule['window']}; raised: {', '.join(rep['raised']) or 'none'}"
             + (" (dry run)" if ctx.args.dry_run else ""))
    emit(rep, ctx.fmt, rows=rows, title=title)
    if rep["errors"]:
        first = rep["errors"][0]
        sys.stderr.write(f"{PROG}: error: policy incomplete: {first['model']} {'/'.join(first['kinds'])} "
                         f"could not be computed: {first['error']}\n")
        return EXIT_USAGE
    return 0
