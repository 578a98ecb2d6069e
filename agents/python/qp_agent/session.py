"""A registration session kept across restarts of the agent's process.

What register() earns (the agent record, the credential and, where the broker authorises each agent,
the broker token) together with the Ed25519 key it registered: with these a restarted process resumes
the session (QpAgent.resume) instead of a new handshake. The file holds a secret key and a credential,
so it is written readable by its owner only.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from .proof import private_key_from_seed

Session = dict[str, Any]


def private_key_seed(private_key: Ed25519PrivateKey) -> str:
    """The key's 32-byte seed, base64."""
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode("ascii")


def session_private_key(session: Session) -> Ed25519PrivateKey | None:
    """The registration key a saved session holds, or None when it holds none."""
    seed = session.get("privateKey")
    if seed is None:
        return None
    raw = base64.b64decode(seed, validate=True)
    if len(raw) != 32:
        raise ValueError(f"a session's privateKey is a 32-byte Ed25519 seed, not {len(raw)} bytes")
    return private_key_from_seed(raw)


def save_session(path: str | os.PathLike[str], session: Session) -> None:
    """Writes the session as JSON, readable by its owner only; atomic (a crash leaves the old file or the new)."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    handle, temporary = tempfile.mkstemp(prefix=".qp-session-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(session, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_session(path: str | os.PathLike[str]) -> Session:
    """The saved session; FileNotFoundError when none was saved (the agent's first start)."""
    with open(os.fspath(path), encoding="utf-8") as saved:
        session = json.load(saved)
    if not isinstance(session, dict) or not isinstance(session.get("agent"), dict) or not isinstance(session.get("credential"), str):
        raise ValueError(f"{os.fspath(path)} is not a saved session (agent record and credential)")
    return session
