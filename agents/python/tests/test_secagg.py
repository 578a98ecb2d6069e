"""SecAgg+ against the vectors the TypeScript side computed from seeded randomness (the "secagg" part of
test/fixtures/agent-proof-vectors.json): every building block, and a whole round replayed agent by agent."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qp_agent.secagg import (
    SecAggAgent,
    SecAggError,
    agree,
    combine_shares,
    commit_seed,
    decode_uint32,
    derive_key,
    encode_uint32,
    envelope_aad,
    open_box,
    pairwise_key,
    prg_uint32,
    quantize,
    seal,
    seeded_random_source,
    split_secret,
    x25519_from_raw,
    x25519_public_wire,
)

VECTORS_FILE = Path(
    os.environ.get("QP_PROOF_VECTORS", Path(__file__).resolve().parents[3] / "test" / "fixtures" / "agent-proof-vectors.json")
)
V = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["secagg"]


def test_the_seeded_random_stream_is_the_typescript_one() -> None:
    random = seeded_random_source(V["seededRandom"]["seed"])
    # Read in uneven pieces: the stream does not depend on how it is read.
    assert (random(7) + random(60) + random(33)).hex() == V["seededRandom"]["bytesHex"]


def test_x25519_keys_agreement_and_derived_keys_match() -> None:
    a, b = (x25519_from_raw(bytes.fromhex(k["rawHex"])) for k in V["keys"])
    assert [x25519_public_wire(a), x25519_public_wire(b)] == [k["publicWire"] for k in V["keys"]]
    vector = V["agreement"]
    shared = agree(a, x25519_public_wire(b))
    assert shared.hex() == vector["sharedHex"]
    assert agree(b, x25519_public_wire(a)) == shared
    assert derive_key(shared, vector["roundId"], "share-envelope").hex() == vector["envelopeKeyHex"]
    assert pairwise_key(b, x25519_public_wire(a), vector["roundId"]).hex() == vector["pairwiseKeyHex"]
    for case in V["derive"]:
        assert derive_key(bytes.fromhex(case["secretHex"]), case["roundId"], case["purpose"]).hex() == case["keyHex"]


def test_low_order_peer_keys_are_refused() -> None:
    a = x25519_from_raw(bytes.fromhex(V["keys"][0]["rawHex"]))
    zero_point = base64.urlsafe_b64encode(b"\x00" * 32).decode().rstrip("=")
    with pytest.raises(SecAggError) as raised:
        agree(a, zero_point)
    assert raised.value.code == "INVALID_ARGUMENT"


def test_mask_expansion_matches_word_for_word() -> None:
    vector = V["prg"]
    words = prg_uint32(bytes.fromhex(vector["keyHex"]), vector["length"])
    assert encode_uint32(words) == vector["wordsBase64"]
    assert np.array_equal(decode_uint32(vector["wordsBase64"]), words)


def test_share_envelopes_seal_and_open_as_in_typescript() -> None:
    vector = V["seal"]
    key, plaintext = bytes.fromhex(vector["keyHex"]), bytes.fromhex(vector["plaintextHex"])
    assert vector["aad"] == envelope_aad("job-7/3/0", "a", "b")
    assert seal(key, plaintext, vector["aad"], seeded_random_source(vector["seed"])) == vector["box"]
    assert open_box(key, vector["box"], vector["aad"]) == plaintext
    with pytest.raises(SecAggError):
        open_box(key, vector["box"], envelope_aad("job-7/3/0", "a", "c"))


def test_seed_commitment_matches() -> None:
    vector = V["commit"]
    assert commit_seed(bytes.fromhex(vector["seedHex"]), vector["roundId"], vector["owner"]) == vector["commitment"]


def test_shamir_shares_split_and_rebuild_as_in_typescript() -> None:
    vector = V["shamir"]
    secret = bytes.fromhex(vector["secretHex"])
    shares = split_secret(secret, vector["threshold"], vector["xs"], seeded_random_source(vector["seed"]))
    assert shares == vector["shares"]
    chosen = [vector["shares"][x - 1] for x in vector["combinedFrom"]]
    assert combine_shares(chosen, vector["threshold"], len(secret)) == secret
    with pytest.raises(SecAggError) as raised:
        combine_shares(chosen[:2], vector["threshold"], len(secret))
    assert raised.value.code == "UNAVAILABLE"


@pytest.mark.parametrize("case", V["quantize"], ids=lambda c: f"{c['rounding']}-{c['scale']}")
def test_quantisation_matches_element_for_element(case: dict[str, Any]) -> None:
    q = quantize(
        np.array(case["values"], dtype=np.float32),
        case["clipRange"],
        case["levels"],
        case["rounding"],
        case["scale"],
        seeded_random_source(case["seed"]),
    )
    assert q.tolist() == case["quantized"]


def test_a_whole_round_replays_message_for_message() -> None:
    """Each Python agent, seeded as the TypeScript agent was, answers the manager's recorded requests with the same bytes."""
    vector = V["round"]
    sent_by: dict[str, list[dict[str, Any]]] = {}
    for message in vector["agentMessages"]:
        sent_by.setdefault(message["from"], []).append(message)
    asked: dict[str, list[dict[str, Any]]] = {}
    for request in vector["serverRequests"]:
        asked.setdefault(request["to"], []).append(request)
    stage_of = {"shareKeysRequest": "share_keys", "maskedInputRequest": "masked_input", "unmaskRequest": "unmask"}
    compared = 0
    for agent_id, update in vector["updates"].items():
        agent = SecAggAgent(
            vector["config"], agent_id, weight=vector["weights"][agent_id], random=seeded_random_source(f"{vector['seed']}/{agent_id}")
        )
        expected = iter(sent_by[agent_id])
        assert agent.advertise_keys() == next(expected)
        compared += 1
        for request in asked.get(agent_id, []):
            answer = next(expected, None)
            if answer is None:
                break  # this agent dropped: the manager's later requests went unanswered
            if request["type"] == "maskedInputRequest":
                produced = agent.masked_input(request, np.array(update, dtype=np.float32))
            else:
                produced = getattr(agent, stage_of[request["type"]])(request)
            assert produced == answer, f"{agent_id} {request['type']}"
            compared += 1
    assert compared == len(vector["agentMessages"])


def test_the_surviving_masked_inputs_sum_to_the_weighted_updates() -> None:
    """The masks cancel: what the manager unmasks is the sum of the survivors' quantised, weighted updates."""
    vector = V["round"]
    config, survivors = vector["config"], vector["survivors"]
    expected = sum(np.array(vector["updates"][s], dtype=np.float64) * vector["weights"][s] for s in survivors)
    step = 2 * config["clipRange"] / 2**20 * config["maxWeight"]
    assert np.max(np.abs(np.array(vector["sum"]) - expected)) <= len(survivors) * step + 1e-3
    assert abs(vector["totalWeight"] - sum(vector["weights"][s] for s in survivors)) < 1e-3


def test_an_agent_refuses_to_reveal_both_secrets_of_one_peer() -> None:
    vector = V["round"]
    agent_id = "agent-a"
    agent = SecAggAgent(vector["config"], agent_id, weight=10, random=seeded_random_source(f"{vector['seed']}/{agent_id}"))
    agent.advertise_keys()
    requests = [r for r in vector["serverRequests"] if r["to"] == agent_id]
    agent.share_keys(requests[0])
    agent.masked_input(requests[1], np.array(vector["updates"][agent_id], dtype=np.float32))
    peer = requests[2]["survivors"][0]
    with pytest.raises(SecAggError) as raised:
        agent.unmask({**requests[2], "survivors": [peer], "dropped": [peer]})
    assert raised.value.code == "FORBIDDEN" and agent.stage == "aborted"
