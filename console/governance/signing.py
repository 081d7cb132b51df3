"""Who wrote a journal entry: ed25519 keys, the allowed-signers file, signing and checking entries.

Every OS account has its own private key at ``~/.config/mlops-console/signing-key`` (PKCS#8
PEM; folder 0700, file 0600), created on first need with ``O_EXCL|O_NOFOLLOW``. A key file
that is a symlink, is not owned by the account, or is readable by group or others is refused.
Public keys live in the workspace's allowed-signers file (``<workspace>/signers``, or
``[governance] signers``), one ``user ed25519 <base64 public key>`` a line, maintained by the
administrator; a user may have several lines (an old key stays so old entries still verify).

An entry's ``sig`` is ``"ed25519:" + base64(signature)`` over the canonical JSON of the entry
without ``hash`` and ``sig`` — which includes ``prev_hash``, so a signature also fixes the
entry's place in the chain. The entry's ``hash`` (sha256 of the entry without ``hash``) covers
the signature.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import os
import pwd
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from console.errors import UsageError
from console.governance.journal import canonical
from console.identity import SYSTEM, Identity, os_user

KEY_DIR = (".config", "mlops-console")
KEY_NAME = "signing-key"
SIGNERS_NAME = "signers"
SIG_PREFIX = "ed25519:"
DEMO_SEED = "mlops-console demo key (public knowledge, never for real use): "


class KeyProblem(UsageError):
    """This account's signing key is missing from the signers file, or unsafe to use."""


# -- keys ---------------------------------------------------------------------------------------


def home_dir() -> Path:
    """``$HOME``, else the account's home directory from the password database."""
    home = os.environ.get("HOME")
    if home:
        return Path(home)
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def key_path() -> Path:
    return home_dir().joinpath(*KEY_DIR, KEY_NAME)


def public_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def signers_line(user: str, key: Ed25519PrivateKey) -> str:
    """The line an administrator adds to the signers file for ``user``'s ``key``."""
    return f"{user} ed25519 {public_b64(key)}"


def demo_seed(name: str) -> bytes:
    """The raw private key (32 bytes) of a fictional person of the sample workspace: well known,
    anyone can derive it. ``Identity(name, key=demo_seed(name))`` signs as them in-process."""
    return hashlib.sha256((DEMO_SEED + name).encode("utf-8")).digest()


def demo_key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(demo_seed(name))


def _check_private_folder(folder: Path) -> None:
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise KeyProblem(f"{folder} is not a folder (a symlink?); the signing key is not used")
    if st.st_uid != os.getuid():
        raise KeyProblem(f"{folder} is not owned by you; the signing key is not used")
    if st.st_mode & 0o022:
        raise KeyProblem(f"{folder} is writable by group or others: chmod 700 {folder}")


def _load_key_file(path: Path) -> Ed25519PrivateKey:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise KeyProblem(f"{path} is a symlink; the signing key must be a plain file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyProblem(f"{path} is not a plain file")
        if st.st_uid != os.getuid():
            raise KeyProblem(f"{path} is not owned by you ({os_user()}); it is not used")
        if st.st_mode & 0o077:
            raise KeyProblem(f"{path} is readable or writable by group or others: chmod 600 {path}")
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
    finally:
        os.close(fd)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyProblem(f"{path} is not a PEM ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{path} is not an ed25519 key")
    return key


def own_key(create: bool = True) -> Ed25519PrivateKey:
    """This account's private key; created (folder 0700, file 0600) when missing and ``create``."""
    try:
        return _own_key(create)
    except OSError as exc:
        raise KeyProblem(
            f"cannot use your signing key at {key_path()}: {exc.strerror or exc} "
            "(is $HOME your own home folder?)"
        ) from None


def _own_key(create: bool) -> Ed25519PrivateKey:
    path = key_path()
    folder = path.parent
    try:
        _check_private_folder(folder)
    except FileNotFoundError:
        if not create:
            raise KeyProblem(f"no signing key at {path} (run `mlops-console keys show`)") from None
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
        _check_private_folder(folder)
    try:
        return _load_key_file(path)
    except FileNotFoundError:
        if not create:
            raise KeyProblem(f"no signing key at {path} (run `mlops-console keys show`)") from None
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # Written whole under a temporary name, then linked in: a second console creating its key
    # at the same moment finds either no key or a complete one, never half of one.
    tmp = folder / f".{KEY_NAME}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another console won the race: use its key
    finally:
        os.unlink(tmp)
    return _load_key_file(path)


# -- the allowed-signers file ----------------------------------------------------------------


@dataclass
class Signers:
    """The public keys of each user, from the workspace's allowed-signers file."""

    path: Path
    keys: dict[str, list[Ed25519PublicKey]] = field(default_factory=dict)
    exists: bool = True

    def of(self, user: str) -> list[Ed25519PublicKey]:
        return self.keys.get(user, [])

    def has(self, user: str, key: Ed25519PrivateKey) -> bool:
        mine = public_b64(key)
        return any(public_b64(k) == mine for k in self.of(user))


def signers_path(ws) -> Path:
    """``[governance] signers`` (relative to the workspace root), default ``<workspace>/signers``."""
    value = ws.section("governance").get("signers", SIGNERS_NAME)
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{ws.config_path}: [governance] signers must be a file path")
    path = Path(value).expanduser()
    return path if path.is_absolute() else ws.root / path


def parse_signers(path: Path, text: str) -> Signers:
    out = Signers(path=path)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        bad = UsageError(f"{path}:{number}: expected `user ed25519 <base64 public key>`")
        if len(parts) < 3 or parts[1] != "ed25519":
            raise bad
        try:
            raw_key = base64.b64decode(parts[2], validate=True)
            key = Ed25519PublicKey.from_public_bytes(raw_key)
        except (binascii.Error, ValueError):
            raise bad from None
        out.keys.setdefault(parts[0], []).append(key)
    return out


def load_signers(ws) -> Signers:
    path = signers_path(ws)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Signers(path=path, exists=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_signers(path, text)


# -- signing and checking entries --------------------------------------------------------------


def signed_text(entry: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of the entry without ``hash`` and ``sig``."""
    return canonical({k: v for k, v in entry.items() if k not in ("hash", "sig")}).encode("utf-8")


def sign(entry: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return SIG_PREFIX + base64.b64encode(key.sign(signed_text(entry))).decode("ascii")


def _verifies(key: Ed25519PublicKey, sig: bytes, data: bytes) -> bool:
    try:
        key.verify(sig, data)
    except InvalidSignature:
        return False
    return True


def signature_problem(entry: dict[str, Any], signers: Signers) -> str | None:
    """Why ``entry``'s signature does not prove its actor wrote it, or None when it does."""
    actor = entry.get("actor")
    sig_text = entry.get("sig")
    if not isinstance(sig_text, str) or not sig_text:
        return f"unsigned (no signature by {actor})"
    try:
        if not sig_text.startswith(SIG_PREFIX):
            raise ValueError
        sig = base64.b64decode(sig_text[len(SIG_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return "the signature is not ed25519:<base64>"
    data = signed_text(entry)
    if any(_verifies(k, sig, data) for k in signers.of(str(actor))):
        return None
    for user, keys in signers.keys.items():
        if user != actor and any(_verifies(k, sig, data) for k in keys):
            return f"signed with {user}'s key, not {actor}'s (forged)"
    if not signers.of(str(actor)):
        return f"{actor} has no key in {signers.path.name}; the entry cannot be attributed"
    return f"the signature does not match {actor}'s key (edited, or signed by an unregistered key)"


# -- the signer of an action -------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """An account name and the private key its journal entries are signed with."""

    user: str
    key: Ed25519PrivateKey

    def sign(self, entry: dict[str, Any]) -> str:
        return sign(entry, self.key)


def signer_for(ws, ident: Identity) -> Signer:
    """The signer of ``ident``'s journal entries, registered in the workspace's signers file.

    An identity built in-process may carry its key (``Identity.key``: the 32 raw bytes);
    otherwise it must be the OS account running this process, whose own key is used (created
    on first need).
    """
    key = Ed25519PrivateKey.from_private_bytes(ident.key) if ident.key is not None else None
    if key is None and ident.user == SYSTEM:
        # the console itself (a policy-raised request): it signs with the running account's own
        # key, which counts only when the administrator registered it under the name system
        key = own_key(create=True)
        signers = load_signers(ws)
        if not signers.has(SYSTEM, key):
            raise KeyProblem(
                f"{os_user()}'s key is not registered as {SYSTEM} in {signers.path}: only an account the "
                f"administrator chose may raise requests as {SYSTEM}; to make it this one, add this line: "
                f"{signers_line(SYSTEM, key)}"
            )
        return Signer(SYSTEM, key)
    if key is None:
        if ident.user != os_user():
            raise KeyProblem(f"cannot sign as {ident.user}: only {os_user()}'s own key is available here")
        key = own_key(create=True)
    signers = load_signers(ws)
    if not signers.has(ident.user, key):
        raise KeyProblem(
            f"{ident.user}'s signing key is not registered in {signers.path}; "
            f"an administrator must add this line: {signers_line(ident.user, key)}"
        )
    return Signer(ident.user, key)
