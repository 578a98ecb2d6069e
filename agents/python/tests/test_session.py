"""Sessions kept across a restart: saved by register(), resumed without a handshake, renewed after a 401."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from qp_agent import QpAgent, load_session, private_key_from_seed
from test_transport import Scripted, server, url  # noqa: F401 - the fixture is used by name

RECORD = {"agentId": "a1", "swarmId": "s1", "status": "ACTIVE", "credentialGeneration": 1, "registeredAt": "2026-01-01T00:00:00.000Z"}


def registered_agent(server, session_file: Path) -> QpAgent:  # noqa: F811
    server.script = [  # the broker authorises each agent: challenge in the register answer, a broker token issued
        (202, {"inboxTopic": "swarm/s1/inbox-a1", "challenge": "Y2hhbGxlbmdl"}),
        (200, {"credential": "cred-1", "agent": RECORD, "broker": {"role": "agent-a1-1", "token": "broker-1"}}),
    ]
    agent = QpAgent(url(server), "a1", private_key=private_key_from_seed(bytes(range(32))), session_file=session_file)
    agent.register()
    return agent


def test_register_saves_the_session_readable_by_its_owner_only(server, tmp_path: Path) -> None:  # noqa: F811
    session_file = tmp_path / "session.json"
    agent = registered_agent(server, session_file)
    assert stat.S_IMODE(os.stat(session_file).st_mode) == 0o600
    saved = json.loads(session_file.read_text())
    assert saved == {
        "agentId": "a1",
        "privateKey": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "agent": RECORD,
        "credential": "cred-1",
        "brokerToken": "broker-1",
    }
    assert saved == agent.session()
    assert [name for name in os.listdir(tmp_path)] == ["session.json"]  # no temporary file left behind


def test_a_restarted_agent_resumes_without_a_handshake_and_deregistering_ends_it(server, tmp_path: Path) -> None:  # noqa: F811
    session_file = tmp_path / "session.json"
    first = registered_agent(server, session_file)
    handshake_requests = len(server.requests)

    events: list[dict] = []
    restarted = QpAgent(url(server), "a1", session_file=session_file, on_event=events.append)  # a new key until resume()
    assert restarted.public_key_pem != first.public_key_pem
    assert restarted.resume() == RECORD
    assert len(server.requests) == handshake_requests  # nothing was sent to resume
    assert restarted.public_key_pem == first.public_key_pem
    assert (restarted.credential, restarted.swarm_id, restarted._broker_token) == ("cred-1", "s1", "broker-1")
    assert events == [{"type": "resumed", "credentialExpiresAt": None}]

    server.script = [(202, {}), (204, {})]
    restarted.heartbeat({"load": 0.5})
    restarted.deregister()
    assert server.requests[handshake_requests:] == [
        ("POST", "/api/v1/swarm/agents/a1/heartbeat", "Bearer cred-1"),
        ("DELETE", "/api/v1/swarm/agents/a1", "Bearer cred-1"),
    ]
    assert not session_file.exists()
    with pytest.raises(FileNotFoundError):
        QpAgent(url(server), "a1", session_file=session_file).resume()


def test_a_session_of_another_agent_or_without_a_credential_is_refused(tmp_path: Path) -> None:
    agent = QpAgent("http://127.0.0.1:1", "a2")
    with pytest.raises(ValueError, match="a1's, not a2's"):
        agent.resume({"agent": RECORD, "credential": "c"})
    with pytest.raises(ValueError, match="credential"):
        agent.resume({"agent": {**RECORD, "agentId": "a2"}})
    with pytest.raises(ValueError, match="session_file"):
        agent.resume()
    (tmp_path / "bad.json").write_text('{"agent": 1}')
    with pytest.raises(ValueError, match="not a saved session"):
        load_session(tmp_path / "bad.json")
    assert agent.credential is None


def test_a_resumed_credential_the_manager_refuses_is_renewed_by_registering_again(server, tmp_path: Path) -> None:  # noqa: F811
    session_file = tmp_path / "session.json"
    registered_agent(server, session_file)
    before = len(server.requests)
    renewed = {**RECORD, "credentialGeneration": 2}
    server.script = [
        (401, {"error": {"code": "UNAUTHENTICATED", "message": "credential revoked"}}),
        (202, {"inboxTopic": "swarm/s1/inbox-a1", "challenge": "Y2hhbGxlbmdl"}),
        (200, {"credential": "cred-2", "agent": renewed, "broker": {"role": "agent-a1-2", "token": "broker-2"}}),
    ] + [(202, {})] * 50
    reconnected = threading.Event()
    agent = QpAgent(url(server), "a1", session_file=session_file, on_event=lambda e: reconnected.set() if e["type"] == "reconnected" else None)
    agent.resume()
    agent.start_heartbeats(interval_s=0.05)
    try:
        assert reconnected.wait(60)
    finally:
        agent.stop_heartbeats()
    paths = [(method, path, auth) for method, path, auth in server.requests[before:]]
    assert paths[:3] == [
        ("POST", "/api/v1/swarm/agents/a1/heartbeat", "Bearer cred-1"),
        ("POST", "/api/v1/swarm/register", None),
        ("POST", "/api/v1/swarm/agents/a1/challenge-response", None),
    ]
    saved = load_session(session_file)
    assert (saved["credential"], saved["brokerToken"], saved["agent"]["credentialGeneration"]) == ("cred-2", "broker-2", 2)
    assert saved["privateKey"] == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # the same identity
