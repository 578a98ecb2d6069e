"""The SDK's signatures against the vectors the TypeScript functions produced (test/fixtures/agent-proof-vectors.json)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

from qp_agent import (
    challenge_signing_input,
    private_key_from_seed,
    proof_signing_input,
    public_key_pem,
    sign_as_agent,
    sign_challenge,
)

VECTORS_FILE = Path(
    os.environ.get("QP_PROOF_VECTORS", Path(__file__).resolve().parents[3] / "test" / "fixtures" / "agent-proof-vectors.json")
)
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
KEY = private_key_from_seed(bytes.fromhex(VECTORS["seedHex"]))


def test_public_key_pem_is_the_typescript_spki_pem() -> None:
    assert public_key_pem(KEY) == VECTORS["publicKeyPem"]


def test_challenge_signing_input_and_signature_match() -> None:
    vector = VECTORS["challenge"]
    assert challenge_signing_input(vector["agentId"], vector["challenge"]) == vector["signingInput"]
    assert sign_challenge(KEY, vector["agentId"], vector["challenge"]) == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS["proofs"], ids=lambda v: v["topic"])
def test_message_proof_matches_byte_for_byte(vector: dict) -> None:
    payload = base64.b64decode(vector["payloadBase64"])
    signed = sign_as_agent(KEY, vector["agentId"], vector["topic"], vector["properties"], payload, vector["sentAt"])
    assert signed == vector["signed"]
    assert proof_signing_input(vector["topic"], signed, payload) == base64.b64decode(vector["signingInputBase64"])


def test_proof_covers_topic_properties_and_payload() -> None:
    vector = VECTORS["proofs"][1]
    payload = base64.b64decode(vector["payloadBase64"])
    signed = sign_as_agent(KEY, vector["agentId"], vector["topic"], vector["properties"], payload, vector["sentAt"])
    signature = base64.b64decode(signed["proof"])
    public = KEY.public_key()
    public.verify(signature, proof_signing_input(vector["topic"], signed, payload))
    changed = [
        ("swarm/s1/updates-job-8", signed, payload),
        (vector["topic"], {**signed, "round": "4"}, payload),
        (vector["topic"], signed, payload + b"\x00"),
    ]
    for topic, properties, body in changed:
        with pytest.raises(InvalidSignature):
            public.verify(signature, proof_signing_input(topic, properties, body))
