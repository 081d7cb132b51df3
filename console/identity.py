"""Who is running the console: the OS account of the process (its uid), and its roles.

Identity is never taken from an environment variable or a flag (docs/governance.md, 'Who you are and what you may do'). Code that
needs to act as someone else in-process (tests, the TUI's pilot tests) passes an
``Identity`` object explicitly; no command-line or environment path can construct one.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field
from pathlib import Path

#: The console itself as a journal actor: a retrain request raised by ``[retrain_policy]``
#: (``governance.policy``). Never an OS account's identity: it holds no role in ``[access]``,
#: signs only with a key the administrator registered as ``system``, and never decides.
SYSTEM = "system"


@dataclass(frozen=True)
class Identity:
    """An OS user name with the roles the workspace grants it.

    ``key``: the raw private signing key (32 bytes) of an identity built in-process (tests,
    the sample's fictional people); None means the account's own key
    (``console.governance.signing``).
    """

    user: str
    operator: bool = False
    reviewer: bool = False
    key: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def role(self) -> str:
        """A short label for headers: 'operator', 'reviewer', 'operator+reviewer' or 'read-only'."""
        roles = [r for r, has in (("operator", self.operator), ("reviewer", self.reviewer)) if has]
        return "+".join(roles) if roles else "read-only"


def os_user() -> str:
    """The name of the OS account running this process, looked up from its real uid."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry (some containers): still an identity
        return f"uid:{uid}"


def state_dir() -> Path:
    """The OS account's own folder for what the console remembers per person (the query
    screen's history): ``$XDG_STATE_HOME/mlops-console``, else ``~/.local/state/mlops-console``
    (home from ``$HOME``, else the password database; ``OSError`` when the account has none).
    Never inside a shared workspace."""
    base = os.environ.get("XDG_STATE_HOME")
    if not base or not os.path.isabs(base):  # the XDG rule: a relative value is ignored
        home = os.environ.get("HOME")
        if not home:
            try:
                home = pwd.getpwuid(os.getuid()).pw_dir
            except KeyError:
                raise OSError(f"no home folder for uid {os.getuid()}") from None
        base = os.path.join(home, ".local", "state")
    return Path(base) / "mlops-console"


def identity_for(user: str, operators: list[str], reviewers: list[str]) -> Identity:
    """The roles ``user`` holds under a workspace's ``[access]`` lists."""
    return Identity(user=user, operator=user in operators, reviewer=user in reviewers)
