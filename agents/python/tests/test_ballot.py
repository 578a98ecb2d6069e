"""Ballots against the vectors core/decisions/ballot.ts signBallot produced."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

import base64

from qp_agent import QpAgent, ballot_signing_input, canonical_choice, private_key_from_seed, sign_ballot
from qp_agent.errors import BrokerUnavailableError
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


class Broker:
    """A broker that is unreachable for the first `failures` publications (or for ballots `refuse` picks)."""

    def __init__(self, failures: int = 0, refuse: Callable[[dict], bool] = lambda ballot: False) -> None:
        self.failures, self.refuse, self.attempts = failures, refuse, 0
        self.published: list[tuple[str, dict, dict[str, str], str | None]] = []

    def publish(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str:
        self.attempts += 1
        ballot = json.loads(payload)
        if self.failures > 0 or self.refuse(ballot):
            self.failures = max(0, self.failures - 1)
            raise BrokerUnavailableError("the broker is unreachable")
        self.published.append((topic, ballot, dict(properties or {}), key))
        return "1:0:-1:0"

    def close(self) -> None:
        pass


class Voter(QpAgent):
    """A registered agent on a fake broker, its proposal listener kept to be fed by hand."""

    def __init__(self, broker: Broker) -> None:
        super().__init__("http://127.0.0.1:1", "py-voter", private_key=KEY)
        self.credential = "qpc1.x.y"
        self.record = {"agentId": "py-voter", "swarmId": "s1"}
        self.broker = broker
        self.proposals: dict = {}

    def _broker(self) -> Any:
        return self.broker

    def _listen(self, topic: str, subscription: str, initial_position: str, handlers: dict) -> None:
        self.proposals = handlers


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_until(what: str, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_ballot_is_sent_again_through_a_broker_outage_and_arrives_once() -> None:
    broker = Broker(failures=3)
    ballot = Voter(broker).vote("d-out", "for")
    assert broker.attempts == 4
    assert broker.published == [("swarm/s1/decision-d-out", ballot, {"type": "ballot"}, "py-voter")]
    KEY.public_key().verify(base64.b64decode(ballot["signature"]), ballot_signing_input("d-out", "py-voter", ballot["castAt"], "for"))


def test_a_ballot_is_sent_again_until_the_proposal_closes_then_the_outage_is_raised() -> None:
    broker = Broker(failures=10**9)
    agent = Voter(broker)
    voted: list = []
    agent.on_proposal(lambda proposal: voted.append(proposal["decisionId"]))
    started_ms = time.time() * 1000
    closes_at = int(started_ms + 1_500)
    agent.proposals["decision-proposal"]({"type": "decision-proposal", "decisionId": "d-closing", "options": ["for", "against"], "closesAt": closes_at})
    assert voted == ["d-closing"]
    with pytest.raises(BrokerUnavailableError):
        agent.vote("d-closing", "for")
    assert time.time() * 1000 >= closes_at
    assert broker.attempts >= 2 and broker.published == []


def test_close_stops_a_ballot_waiting_out_an_outage() -> None:
    broker = Broker(failures=10**9)
    agent = Voter(broker)
    thread, outcome = in_thread(lambda: agent.vote("d-long", "for", until_ms=time.time() * 1000 + 600_000))
    wait_until("two attempts", lambda: broker.attempts >= 2)
    agent.close()
    thread.join(60)
    assert not thread.is_alive()
    assert isinstance(outcome[0], BrokerUnavailableError)


def test_a_later_vote_on_the_decision_ends_the_retries_of_the_earlier_ballot() -> None:
    broker = Broker(refuse=lambda ballot: ballot["choice"] == "for")
    agent = Voter(broker)
    thread, outcome = in_thread(lambda: agent.vote("d-change", "for", until_ms=time.time() * 1000 + 600_000))
    wait_until("the first ballot to be tried", lambda: broker.attempts >= 1)
    changed = agent.vote("d-change", "against")
    thread.join(60)
    assert not thread.is_alive()
    assert outcome[0]["choice"] == "for" and outcome[0]["castAt"] < changed["castAt"]
    assert [ballot for _, ballot, _, _ in broker.published] == [changed]
