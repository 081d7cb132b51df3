"""``audit verify`` of a workspace: the journal's chain, every entry's signature, and the traces
the journal leaves elsewhere.

``verify_workspace(ws)`` = ``Journal.verify`` with signatures checked against the workspace's
allowed-signers file (entries before ``[governance] unsigned_before``, default 1, may be
unsigned: a journal started before signing existed), plus: every request that ``serving.json``
names must be in the journal (a deleted or truncated journal whose head went with it still
shows there).
"""

from __future__ import annotations

from typing import Any

from console.errors import UsageError
from console.governance.journal import Journal
from console.governance.signing import load_signers, signature_problem
from console.governance.state import read_serving
from console.workspace import Workspace


def unsigned_before(ws: Workspace) -> int:
    """``[governance] unsigned_before``: the first seq that must be signed (default 1: all)."""
    value = ws.section("governance").get("unsigned_before", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{ws.config_path}: [governance] unsigned_before must be a seq number ≥ 1")
    return value


def verify_workspace(ws: Workspace) -> dict[str, Any]:
    """``{"ok", "entries", "first_bad_seq", "problems", "partial_tail", "signed", "signers"}``."""
    signers = load_signers(ws)
    journal = Journal(ws.journal_path)
    result = journal.verify(lambda e: signature_problem(e, signers), unsigned_before(ws))
    result["signers"] = str(signers.path)
    if not signers.exists and result["entries"]:
        result["problems"].append(f"{signers.path.name} does not exist: no signature can be checked")
        result["ok"] = False
    known = {e.get("request_id") for e in journal.entries()}
    missing = sorted(
        {
            str(h.get("request_id"))
            for m in read_serving(ws)["models"].values() if isinstance(m, dict)
            for h in (m.get("history") or []) if isinstance(h, dict) and h.get("request_id")
        } - known
    )
    if missing:
        result["problems"].append(
            f"{ws.serving_path.name} records {', '.join(missing)}, which {ws.journal_path.name} does "
            "not have: journal entries were deleted"
        )
        result["ok"] = False
    return result


def verdict(ws: Workspace) -> dict[str, Any]:
    """``verify_workspace`` for displays (report, TUI): never raises; a signers file or setting
    that cannot be read makes the verdict not ok, with the reason among the problems."""
    try:
        return verify_workspace(ws)
    except UsageError as exc:
        result = Journal(ws.journal_path).verify()
        result.update(ok=False, problems=[*result["problems"], str(exc)])
        return result
