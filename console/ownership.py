"""Who may change a file: the one owner-and-permission check behind every "trusted file" rule.

A file (or folder) is trusted when it is owned by root or by the workspace's administrator (the
owner of the workspace folder) and writable by nobody but its owner (no group or other write
bit). ``console.governance.trust`` applies it to ``console.toml``, hooks and the signers file;
``console.analytics.explain`` to a model artifact before loading it (loading a pickle runs code).
Standard library only: every layer may import it.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def write_problem(path: Path, admin: int, what: str) -> str | None:
    """One line saying who else could change ``path`` (with the fix), or ``None`` when only root
    or ``admin`` can. A symlink itself passes (it cannot be rewritten); check its target too."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot inspect {path}: {exc.strerror or exc}"
    if st.st_uid not in (0, admin):
        return (f"{path} is owned by {user_name(st.st_uid)}, not root or the workspace's administrator "
                f"({user_name(admin)}): it must be the administrator's {what} — "
                f"chown {user_name(admin)} {path} after checking its content")
    if stat.S_ISLNK(st.st_mode):
        return None  # the link itself cannot be rewritten; its target is checked separately
    if st.st_mode & 0o020:
        return f"{path} is writable by group {group_name(st.st_gid)}: chmod g-w {path}"
    if st.st_mode & 0o002:
        return f"{path} is writable by everyone: chmod o-w {path}"
    return None
