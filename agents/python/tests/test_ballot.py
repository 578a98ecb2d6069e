"""Ballots against the vectors core/decisions/ballot.ts signBallot produced."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

import base64

from qp_agent import ballot_signing_input, canonical_choice, private_key_from_seed, sign_ballot
from qp_agent.jsjson import js_json

VECTORS_FILE = Path(
    os.environ.get("QP_PROOF_VECTORS", Path(__file__).resolve().parents[3] / "test" / "fixtures" / "agent-proof-vectors.json")
)
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
KEY = private_key_from_seed(bytes.fromhex(VECTORS["seedHex"]))


@pytest.mark.parametrize("vector", VECTORS["ballots"]["cases"], ids=lambda v: v["ballot"]["decisionId"])
def test_ballot_is_signed_byte_for_byte_as_sign_ballot(vector: dict) -> None:
    expected = vector["ballot"]
    ballot = sign_ballot(KEY, expected["decisionId"], expected["agentId"], expected["choice"], expected["castAt"])
    assert ballot_signing_input(expected["decisionId"], expected["agentId"], expected["castAt"], expected["choice"]) == vector["signingInput"].encode("utf-8")
    assert ballot == expected
    assert js_json(ballot) == vector["json"]


def test_object_choices_sort_their_options_in_utf16_order() -> None:
    assert canonical_choice({"😀": 1, "\uffff": 2, "a": 3}) == '{"a":3,"😀":1,"\uffff":2}'


def test_signature_covers_the_choice() -> None:
    ballot = sign_ballot(KEY, "d", "a", {"x": 1}, 5)
    public = KEY.public_key()
    public.verify(base64.b64decode(ballot["signature"]), ballot_signing_input("d", "a", 5, {"x": 1}))
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(ballot["signature"]), ballot_signing_input("d", "a", 5, {"x": 2}))
