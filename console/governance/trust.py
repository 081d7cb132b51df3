"""Whether a workspace's configuration, hooks and signer keys can be trusted (like ssh's StrictModes).

Governance decisions are only as good as the files that define them: ``console.toml`` (who is a
reviewer), the hook programs (what runs as the next approver) and the allowed-signers file
(whose signature counts). Each of them, and every folder from it up to the workspace root,
must be owned by root or by the workspace's **administrator** — the owner of the workspace
folder — and writable by nobody but its owner. The workspace folder itself is group-writable
in a shared set-up (the journal and ``serving.json`` are replaced there), which is safe because
a file someone else puts in place of an admin's is owned by them and refused here. The folders
above the workspace must not be writable by group or others unless sticky (``/tmp``).

``trust_problems(ws)`` lists what is wrong, one line each with the fix; ``require_trusted(ws)``
raises the first as ``UntrustedFiles`` (exit 2) — every governance action calls it first.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from console.errors import UsageError
from console.ownership import user_name as _user
from console.ownership import write_problem
from console.workspace import Workspace


class UntrustedFiles(UsageError):
    """console.toml, a hook or the signers file could be changed by someone other than the admin."""


def protected_files(ws: Workspace) -> list[Path]:
    """``console.toml``, the signers file (when it exists) and every hook or notification
    command program (``[notify.<name>] command``) that exists."""
    from console.governance.signing import signers_path

    files = [ws.config_path]
    try:
        signers = signers_path(ws)
    except UsageError:
        signers = None
    if signers is not None and os.path.lexists(signers):
        files.append(signers)
    notify = ws.section("notify")
    commands = [t.get("command") for t in notify.values() if isinstance(t, dict)]  # notification sinks
    for argv in [*ws.hooks.values(), *(c for c in commands if isinstance(c, list))]:
        for arg in argv:
            path = Path(arg) if os.path.isabs(arg) else ws.root / arg
            if "/" in arg and os.path.isfile(path) and path not in files:
                files.append(path)
    return files


_check = write_problem  # the shared owner-and-permission check (console.ownership)


def trust_problems(ws: Workspace) -> list[str]:
    """Every way in which someone other than the administrator could change the governance."""
    root = ws.root.resolve()
    try:
        admin = os.stat(root).st_uid
    except OSError as exc:
        return [f"cannot inspect {root}: {exc.strerror or exc}"]
    problems: list[str] = []
    seen: set[Path] = set()

    def add(problem: str | None) -> None:
        if problem and problem not in problems:
            problems.append(problem)

    for file in protected_files(ws):
        chain = [Path(file)]
        if os.path.islink(file):
            chain.append(Path(os.path.realpath(file)))
        for path in chain:
            add(_check(path, admin, "file"))
            folder = path.parent.resolve()
            while True:
                if folder in seen:
                    break
                seen.add(folder)
                if folder == root:
                    st = os.stat(folder)
                    if st.st_mode & 0o002 and not st.st_mode & stat.S_ISVTX:
                        add(f"{folder} is writable by everyone: chmod o-w {folder}")
                elif root in folder.parents:
                    add(_check(folder, admin, "folder"))
                else:
                    st = os.stat(folder)
                    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
                        add(f"{folder} (above the workspace) is writable by group or others: "
                            f"chmod go-w {folder}")
                    elif st.st_uid not in (0, admin):
                        add(f"{folder} (above the workspace) is owned by {_user(st.st_uid)}, "
                            f"not root or {_user(admin)}")
                if folder.parent == folder:
                    break
                folder = folder.parent
    return problems


def require_trusted(ws: Workspace) -> None:
    """Raise ``UntrustedFiles`` (exit 2, one line) when ``trust_problems`` finds anything."""
    problems = trust_problems(ws)
    if problems:
        more = f" (and {len(problems) - 1} more: mlops-console check)" if len(problems) > 1 else ""
        raise UntrustedFiles(f"governance refused: {problems[0]}{more}")
