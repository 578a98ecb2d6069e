"""Signing inputs and proofs, byte-compatible with core/message-proof.ts and core/agents.ts.

A message an agent publishes on a shared topic carries ``agentId``, ``sentAt`` (ms since the
epoch) and ``proof``: the base64 Ed25519 signature of the UTF-8 JSON
``["qp-proof/1", topic, [[name, value], ...every other property sorted by name], sha256hex(payload)]``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PROOF_AGENT = "agentId"
PROOF_SENT_AT = "sentAt"
PROOF = "proof"
PROOF_VERSION = "qp-proof/1"


def _js_json(value: object) -> str:
    """JSON as JavaScript's JSON.stringify writes it: no spaces, non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _js_sort_key(name: str) -> list[int]:
    """JavaScript's default sort compares UTF-16 code units, not code points."""
    return list(name.encode("utf-16-be"))


def proof_signing_input(topic: str, properties: Mapping[str, str], payload: bytes) -> bytes:
    """The bytes a proof signs: version, topic, every property but the proof (sorted), payload digest."""
    names = sorted((name for name in properties if name != PROOF), key=_js_sort_key)
    fields = [[name, properties[name]] for name in names]
    digest = hashlib.sha256(payload).hexdigest()
    return _js_json([PROOF_VERSION, topic, fields, digest]).encode("utf-8")


def sign_as_agent(
    private_key: Ed25519PrivateKey,
    agent_id: str,
    topic: str,
    properties: Mapping[str, str],
    payload: bytes,
    sent_at_ms: int,
) -> dict[str, str]:
    """The properties with agentId, sentAt (ms since the epoch) and the agent's Ed25519 proof added."""
    signed = {**properties, PROOF_AGENT: agent_id, PROOF_SENT_AT: str(int(sent_at_ms))}
    signature = private_key.sign(proof_signing_input(topic, signed, payload))
    signed[PROOF] = base64.b64encode(signature).decode("ascii")
    return signed


def challenge_signing_input(agent_id: str, challenge: str) -> str:
    """What an agent signs to answer its registration challenge (core/agents.ts)."""
    return f"qp-manager/challenge/v1\n{agent_id}\n{challenge}"


def sign_challenge(private_key: Ed25519PrivateKey, agent_id: str, challenge: str) -> str:
    """Base64 Ed25519 signature of the challenge signing input."""
    signature = private_key.sign(challenge_signing_input(agent_id, challenge).encode("utf-8"))
    return base64.b64encode(signature).decode("ascii")


def public_key_pem(private_key: Ed25519PrivateKey) -> str:
    """The public half as SPKI PEM, the form the register endpoint takes."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """An Ed25519 key from its 32-byte seed (the raw private key)."""
    return Ed25519PrivateKey.from_private_bytes(seed)
