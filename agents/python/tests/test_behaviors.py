"""Behavior reports and skills without a broker: the message on the behaviors topic, the API body, the skill filter."""

from __future__ import annotations

import json

import pytest

from qp_agent import QpAgent
from test_transport import Scripted, server, url  # noqa: F401 - the fixture is used by name


class Recorder(QpAgent):
    def __init__(self, api_url: str = "http://127.0.0.1:1") -> None:
        super().__init__(api_url, "a1")
        self.credential = "cred"
        self.record = {"agentId": "a1", "swarmId": "s1"}
        self.published: list[tuple[str, dict, dict[str, str], str | None]] = []

    def publish_signed(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str:
        self.published.append((topic, json.loads(payload), dict(properties or {}), key))
        return "id"


def test_a_report_goes_signed_on_the_swarm_behaviors_topic_as_the_typescript_sdk_writes_it() -> None:
    agent = Recorder()
    assert agent.report_behavior("e1", [1, 0.5, -2, 1e-7], 0.75, context={"task": "maze"}, timestamp=1234) == {"behaviorId": "a1:e1"}
    topic, body, properties, key = agent.published[0]
    assert (topic, properties, key) == ("swarm/s1/behaviors", {}, None)  # publish_signed adds the proof, keyed by the agent
    assert body == {"type": "behavior", "agentId": "a1", "swarmId": "s1", "episodeId": "e1", "descriptor": [1, 0.5, -2, 1e-7], "fitness": 0.75, "context": {"task": "maze"}, "timestamp": 1234}
    agent.report_behavior("e2", [0, 0, 0, 0], 1)
    assert isinstance(agent.published[1][1]["timestamp"], int) and agent.published[1][1]["timestamp"] > 1_700_000_000_000


def test_a_report_over_the_api_carries_the_credential_and_a_refusal_is_an_api_error(server) -> None:  # noqa: F811
    from qp_agent import ApiError

    server.script = [(202, {"behaviorId": "a1:e1"}), (400, {"error": {"code": "INVALID_ARGUMENT", "message": "descriptor: expected 4 numbers"}})]
    agent = Recorder(url(server))
    assert agent.report_behavior("e1", [1, 2, 3, 4], 0.5, via="api") == {"behaviorId": "a1:e1"}
    with pytest.raises(ApiError) as refused:
        agent.report_behavior("e2", [1, 2], 0.5, via="api")
    assert (refused.value.status, refused.value.code) == (400, "INVALID_ARGUMENT")
    assert server.requests == [("POST", "/api/v1/behaviors/reports", "Bearer cred")] * 2
    assert agent.published == []


def test_behaviors_need_a_registration_and_a_known_transport() -> None:
    with pytest.raises(RuntimeError, match="register"):
        QpAgent("http://127.0.0.1:1", "a1").report_behavior("e1", [0.0], 1.0)
    with pytest.raises(RuntimeError, match="register"):
        QpAgent("http://127.0.0.1:1", "a1").on_skill(lambda skill: None)
    with pytest.raises(ValueError, match="via"):
        Recorder().report_behavior("e1", [0.0], 1.0, via="pigeon")
