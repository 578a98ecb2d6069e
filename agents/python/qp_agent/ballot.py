"""Ballots signed exactly as core/decisions/ballot.ts signBallot signs them.

The signing input is ``qp-ballot/1 \\n decisionId \\n agentId \\n castAt \\n canonical JSON of the choice``,
where an object choice has its entries sorted by option name (UTF-16 order, as JavaScript sorts).
"""

from __future__ import annotations

import base64
from typing import Any, Union

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .jsjson import js_json, js_sort_key

BALLOT_VERSION = "qp-ballot/1"
Choice = Union[str, list[str], dict[str, float]]


def canonical_choice(choice: Choice) -> str:
    """The choice as canonical JSON: a string or list as cast, an object with its keys sorted."""
    if isinstance(choice, (str, list, tuple)):
        return js_json(choice)
    return js_json({name: choice[name] for name in sorted(choice, key=js_sort_key)})


def ballot_signing_input(decision_id: str, agent_id: str, cast_at_ms: int, choice: Choice) -> bytes:
    """The bytes an agent signs for a ballot; cast_at_ms in ms since the epoch."""
    return "\n".join([BALLOT_VERSION, decision_id, agent_id, str(int(cast_at_ms)), canonical_choice(choice)]).encode("utf-8")


def sign_ballot(private_key: Ed25519PrivateKey, decision_id: str, agent_id: str, choice: Choice, cast_at_ms: int) -> dict[str, Any]:
    """The ballot (decisionId, agentId, choice, castAt, signature) as signBallot returns it."""
    signature = private_key.sign(ballot_signing_input(decision_id, agent_id, cast_at_ms, choice))
    return {
        "decisionId": decision_id,
        "agentId": agent_id,
        "choice": choice,
        "castAt": int(cast_at_ms),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
