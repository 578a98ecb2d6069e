"""Topic mapping, HTTP errors and retries, and the errors when nothing answers."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator

import numpy as np
import pytest
import requests

from qp_agent import (
    ApiError,
    BrokerError,
    BrokerUnavailableError,
    ManagerUnavailableError,
    QpAgent,
    RoundTask,
    Transport,
    Update,
    bytes_to_params,
    open_transport,
    params_to_bytes,
    topic_path,
)
from qp_agent.http import ApiClient
from qp_agent import pulsar as pulsar_websocket
from qp_agent.transport import TRANSPORTS


def test_topic_path_maps_like_the_typescript_adapter() -> None:
    assert topic_path("swarm/s1/heartbeats", "qp-test") == "qp-test/s1/heartbeats"
    assert topic_path("jobs", "qp-manager") == "qp-manager/system/jobs"
    with pytest.raises(ValueError):
        topic_path("a/b", "t")
    with pytest.raises(ValueError):
        topic_path("swarm/bad name/x", "t")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next (status, body) of the server's script."""

    def _answer(self) -> None:
        server = self.server
        server.requests.append((self.command, self.path, self.headers.get("authorization")))  # type: ignore[attr-defined]
        status, body, *extra = server.script.pop(0)  # type: ignore[attr-defined]
        server.arrivals.append(time.monotonic())  # type: ignore[attr-defined]
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (extra[0] if extra else {}).items():
            self.send_header(name, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    httpd.script = []  # type: ignore[attr-defined]
    httpd.requests = []  # type: ignore[attr-defined]
    httpd.arrivals = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_api_error_carries_the_code_and_message_and_is_not_retried(server: ThreadingHTTPServer) -> None:
    server.script = [(409, {"error": {"code": "KEY_MISMATCH", "message": "another key is registered"}})]  # type: ignore[attr-defined]
    with pytest.raises(ApiError) as caught:
        ApiClient(url(server), retries=3).call("POST", "/api/v1/swarm/register", {})
    assert (caught.value.status, caught.value.code, caught.value.message) == (409, "KEY_MISMATCH", "another key is registered")
    assert len(server.requests) == 1  # type: ignore[attr-defined]


def test_5xx_is_retried_until_it_passes(server: ThreadingHTTPServer) -> None:
    server.script = [(503, {"error": {"code": "UNAVAILABLE", "message": "busy"}}), (200, {"ok": True})]  # type: ignore[attr-defined]
    assert ApiClient(url(server), retries=2).call("GET", "/x", token="t") == {"ok": True}
    assert server.requests == [("GET", "/x", "Bearer t"), ("GET", "/x", "Bearer t")]  # type: ignore[attr-defined]


def test_a_503_is_tried_again_after_the_retry_after_the_manager_sends(server: ThreadingHTTPServer) -> None:
    server.script = [(503, {"error": {"code": "UNAVAILABLE", "message": "busy"}}, {"Retry-After": "1"}), (200, {"ok": True})]  # type: ignore[attr-defined]
    assert ApiClient(url(server), retries=2).call("GET", "/x") == {"ok": True}
    first, second = server.arrivals  # type: ignore[attr-defined]
    assert second - first >= 0.95


def test_5xx_past_the_retries_is_manager_unavailable(server: ThreadingHTTPServer) -> None:
    server.script = [(500, {"error": {"code": "INTERNAL", "message": "boom"}})] * 2  # type: ignore[attr-defined]
    with pytest.raises(ManagerUnavailableError, match="INTERNAL: boom"):
        ApiClient(url(server), retries=1).call("GET", "/x")


def test_an_unreachable_manager_is_a_clear_error() -> None:
    port = free_port()
    agent = QpAgent(f"http://127.0.0.1:{port}", "a1", retries=1, request_timeout_s=1)
    with pytest.raises(ManagerUnavailableError, match=f"cannot reach the manager at http://127.0.0.1:{port}"):
        agent.register()


@pytest.mark.parametrize("transport,scheme", [("websocket", "ws"), ("native", "pulsar")])
def test_an_unreachable_broker_is_a_clear_error(transport: str, scheme: str) -> None:
    port = free_port()
    broker = open_transport(f"{scheme}://127.0.0.1:{port}", transport, tenant="t", connect_timeout_s=0.5, send_timeout_s=1)
    try:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError, match=f"cannot reach the Pulsar broker at {scheme}://127.0.0.1:{port}"):
            broker.publish("swarm/s1/heartbeats", b"{}")
        assert time.monotonic() - started < 10
    finally:
        broker.close()


def test_the_transport_is_chosen_by_name_and_a_url_of_the_other_kind_is_refused() -> None:
    assert type(open_transport("ws://127.0.0.1:1", "websocket")).__name__ == "PulsarWebSocket"
    native = open_transport("pulsar://127.0.0.1:1", "native")
    assert type(native).__name__ == "PulsarNative"
    native.close()
    with pytest.raises(ValueError, match="pulsar://host:port"):
        open_transport("ws://127.0.0.1:1", "native")
    with pytest.raises(ValueError, match="web service URL"):
        open_transport("pulsar://127.0.0.1:1", "websocket")
    with pytest.raises(ValueError, match="pulsar_transport must be one of websocket, native"):
        QpAgent("http://127.0.0.1:1", "a1", pulsar_url="pulsar://127.0.0.1:1", pulsar_transport="grpc")


def test_heartbeat_before_register_is_refused() -> None:
    with pytest.raises(RuntimeError, match="register"):
        QpAgent("http://127.0.0.1:1", "a1").heartbeat()


# ------------------------------------------------------------ the transport contract, against the real broker
#
# Every case below runs on both transports (the WebSocket API and the native client) against the
# Pulsar the jest global set-up started (test/python-sdk-pulsar.test.ts passes its URLs in
# QP_TEST_PULSAR_URL, QP_TEST_PULSAR_WS_URL and QP_TEST_PULSAR_ADMIN_URL); without them they are skipped.

PULSAR_URL = os.environ.get("QP_TEST_PULSAR_URL")
PULSAR_WS_URL = os.environ.get("QP_TEST_PULSAR_WS_URL")
PULSAR_ADMIN_URL = os.environ.get("QP_TEST_PULSAR_ADMIN_URL")
TENANT = "qp-test"
real_pulsar = pytest.mark.skipif(
    not (PULSAR_URL and PULSAR_WS_URL and PULSAR_ADMIN_URL),
    reason="no real Pulsar: QP_TEST_PULSAR_URL, QP_TEST_PULSAR_WS_URL and QP_TEST_PULSAR_ADMIN_URL are set by the -pulsar jest suites",
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def swarm() -> str:
    """A namespace of its own on the real broker (as the manager makes one per swarm)."""
    assert PULSAR_ADMIN_URL is not None
    clusters = requests.get(f"{PULSAR_ADMIN_URL}/admin/v2/clusters", timeout=10).json()
    created = requests.put(f"{PULSAR_ADMIN_URL}/admin/v2/tenants/{TENANT}", json={"allowedClusters": clusters}, timeout=10)
    assert created.status_code in (204, 409), created.text
    swarm_id = unique("pyswarm")
    created = requests.put(f"{PULSAR_ADMIN_URL}/admin/v2/namespaces/{TENANT}/{swarm_id}", timeout=10)
    assert created.status_code in (204, 409), created.text
    return swarm_id


def broker_url(transport: str) -> str:
    url = PULSAR_URL if transport == "native" else PULSAR_WS_URL
    assert url is not None
    return url


@pytest.fixture(params=TRANSPORTS)
def broker(request: pytest.FixtureRequest) -> Iterator[Transport]:
    opened = open_transport(broker_url(request.param), request.param, tenant=TENANT, send_timeout_s=20)
    yield opened
    opened.close()


@real_pulsar
def test_a_published_message_arrives_with_its_payload_properties_key_and_id(broker: Transport, swarm: str) -> None:
    topic = f"swarm/{swarm}/{unique('contract')}"
    consumer = broker.subscribe(topic, "reader", initial_position="earliest")
    try:
        before = int(time.time() * 1000)
        sent = broker.publish(topic, b"\x00\x01payload\xff", properties={"type": "heartbeat", "agentId": "a1"}, key="a1")
        message = consumer.receive(10)
        assert message is not None
        assert (message.payload, message.properties, message.key) == (b"\x00\x01payload\xff", {"type": "heartbeat", "agentId": "a1"}, "a1")
        assert message.message_id == sent
        assert message.publish_time_ms is not None and before - 5000 <= message.publish_time_ms <= int(time.time() * 1000) + 5000
        consumer.ack(message)
    finally:
        consumer.close()


@real_pulsar
def test_messages_arrive_in_publication_order_and_a_quiet_topic_answers_none_in_time(broker: Transport, swarm: str) -> None:
    topic = f"swarm/{swarm}/{unique('contract')}"
    consumer = broker.subscribe(topic, "reader", initial_position="earliest")
    try:
        for i in range(5):
            broker.publish(topic, str(i).encode())
        received = []
        for _ in range(5):
            message = consumer.receive(10)
            assert message is not None
            received.append(message.payload)
            consumer.ack(message)
        assert received == [b"0", b"1", b"2", b"3", b"4"]
        started = time.monotonic()
        assert consumer.receive(0.5) is None
        assert 0.4 <= time.monotonic() - started < 5
    finally:
        consumer.close()


@real_pulsar
def test_a_latest_subscription_reads_only_what_is_published_after_it(broker: Transport, swarm: str) -> None:
    topic = f"swarm/{swarm}/{unique('contract')}"
    broker.publish(topic, b"before")
    consumer = broker.subscribe(topic, "late", initial_position="latest")
    try:
        broker.publish(topic, b"after")
        message = consumer.receive(10)
        assert message is not None and message.payload == b"after"
        consumer.ack(message)
        assert consumer.receive(0.5) is None
    finally:
        consumer.close()


@real_pulsar
def test_a_subscription_reopened_gets_back_what_was_not_acknowledged_and_not_what_was(broker: Transport, swarm: str) -> None:
    topic = f"swarm/{swarm}/{unique('contract')}"
    first = broker.subscribe(topic, "durable", initial_position="earliest")
    broker.publish(topic, b"acked")
    broker.publish(topic, b"unacked")
    acked = first.receive(10)
    unacked = first.receive(10)
    assert acked is not None and unacked is not None and (acked.payload, unacked.payload) == (b"acked", b"unacked")
    first.ack(acked)
    first.close()
    # The broker takes the acknowledgement asynchronously: the reopened subscription may briefly still get it back.
    deadline = time.monotonic() + 15
    while True:
        second = broker.subscribe(topic, "durable", initial_position="earliest")
        again = second.receive(10)
        assert again is not None
        if again.payload == b"unacked" or time.monotonic() > deadline:
            break
        second.close()
    try:
        assert again.payload == b"unacked"
        second.ack(again)
        assert second.receive(0.5) is None
    finally:
        second.close()


@real_pulsar
@pytest.mark.parametrize("writer", TRANSPORTS)
def test_what_one_transport_publishes_the_other_reads_the_same(broker: Transport, swarm: str, writer: str) -> None:
    topic = f"swarm/{swarm}/{unique('contract')}"
    other = open_transport(broker_url(writer), writer, tenant=TENANT, send_timeout_s=20)
    consumer = broker.subscribe(topic, "reader", initial_position="earliest")
    try:
        other.publish(topic, b"across", properties={"proof": "p"}, key="k")
        message = consumer.receive(10)
        assert message is not None
        # Message ids are each transport's own text (opaque to the agent): only the message itself must match.
        assert (message.payload, message.properties, message.key) == (b"across", {"proof": "p"}, "k")
    finally:
        consumer.close()
        other.close()


@real_pulsar
def test_a_consumer_opened_before_the_transport_closed_reads_on_until_it_is_closed(broker: Transport, swarm: str) -> None:
    # The agent closes its transport when a new session brings another broker token; what it still reads keeps working.
    topic = f"swarm/{swarm}/{unique('contract')}"
    consumer = broker.subscribe(topic, "survivor", initial_position="earliest")
    broker.close()
    other = open_transport(broker_url("native"), "native", tenant=TENANT, send_timeout_s=20)
    try:
        other.publish(topic, b"still read")
        message = consumer.receive(10)
        assert message is not None and message.payload == b"still read"
    finally:
        consumer.close()
        other.close()


@real_pulsar
def test_a_publish_to_a_swarm_whose_namespace_is_not_made_yet_waits_for_it(broker: Transport) -> None:
    assert PULSAR_ADMIN_URL is not None
    swarm_id = unique("pylate")
    topic = f"swarm/{swarm_id}/heartbeats"
    # The manager makes a swarm's namespace on first use: an agent that is quicker waits for it.
    maker = threading.Timer(1.5, lambda: requests.put(f"{PULSAR_ADMIN_URL}/admin/v2/namespaces/{TENANT}/{swarm_id}", timeout=10))
    maker.start()
    try:
        assert broker.publish(topic, b"early")
    finally:
        maker.join()


@real_pulsar
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_new_session_with_another_broker_token_reopens_the_broker_with_it(
    server: ThreadingHTTPServer, swarm: str, transport: str
) -> None:
    # Where the broker authorises each agent, the challenge comes in the register answer and the broker
    # token with the credential; the test broker does not check tokens, the transport must carry the new one.
    record = {"agentId": "a1", "swarmId": swarm, "status": "ACTIVE"}
    server.script = [  # type: ignore[attr-defined]
        (202, {"inboxTopic": f"swarm/{swarm}/inbox-a1", "challenge": "c1"}),
        (200, {"credential": "cred-1", "agent": record, "broker": {"role": "agent-a1-1", "token": "token-1"}}),
        (202, {"inboxTopic": f"swarm/{swarm}/inbox-a1", "challenge": "c2"}),
        (200, {"credential": "cred-2", "agent": record, "broker": {"role": "agent-a1-2", "token": "token-2"}}),
    ]
    agent = QpAgent(url(server), "a1", pulsar_url=broker_url(transport), pulsar_tenant=TENANT, swarm_id=swarm, pulsar_transport=transport)
    trained: list[int] = []

    def train(global_params: np.ndarray, task: RoundTask) -> Update:
        trained.append(task.round)
        return Update(params=global_params + 1, examples=1)

    try:
        agent.register()
        first = agent._broker()
        assert first.auth_token == "token-1"
        topic = f"swarm/{swarm}/{unique('heartbeats')}"
        reader = first.subscribe(topic, "reader", initial_position="earliest")
        agent.publish_signed(topic, b"first session")
        agent.participate(train)

        agent.register()
        second = agent._broker()
        assert second is not first and second.auth_token == "token-2"
        agent.publish_signed(topic, b"second session")
        received = [reader.receive(10), reader.receive(10)]
        assert [m.payload if m else None for m in received] == [b"first session", b"second session"]
        assert [m.properties["agentId"] if m else None for m in received] == ["a1", "a1"]
        reader.close()

        # The rounds the agent reads moved to the new transport: a round start sent now is read, trained and
        # answered through it.
        updates_topic = f"swarm/{swarm}/{unique('updates')}"
        updates = second.subscribe(updates_topic, "manager", initial_position="earliest")
        start = {
            "type": "round-start", "agentId": "a1", "jobId": "j1", "round": 1, "attempt": 1, "globalDigest": "d",
            "globalParams": base64.b64encode(params_to_bytes(np.zeros(3, dtype=np.float32))).decode(),
            "training": {"learningRate": 0.5, "epochs": 1, "batchSize": 32}, "deadlineAt": int(time.time() * 1000) + 30_000,
            "updatesTopic": updates_topic,
        }
        second.publish(f"swarm/{swarm}/inbox-a1", json.dumps(start).encode())
        update = updates.receive(15)
        updates.close()
        assert update is not None and update.properties["round"] == "1" and trained == [1]
        assert np.array_equal(bytes_to_params(update.payload), np.ones(3, dtype=np.float32))
        rounds = agent._rounds
        assert rounds is not None and getattr(rounds._current, "transport") is second
        if transport == "native":
            # Every consumer of the old transport is closed, and its client with them: nothing holds the old token.
            assert first._client_closed and not second._client_closed  # type: ignore[attr-defined]
    finally:
        agent.close()


@real_pulsar
def test_a_websocket_consumer_waits_out_a_409_for_a_moment_and_then_reports_who_holds_the_subscription(
    swarm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A consumer that just closed, or an upgrade of ours that timed out, holds an exclusive subscription
    # for a moment: a 409 is waited out that long; a holder that stays is reported as the broker's refusal.
    monkeypatch.setattr(pulsar_websocket, "CONFLICT_GRACE_S", 1.0)
    transport = open_transport(broker_url("websocket"), "websocket", tenant=TENANT, send_timeout_s=20)
    topic = f"swarm/{swarm}/{unique('contract')}"
    holder = transport.subscribe(topic, "exclusive", initial_position="earliest")
    try:
        started = time.monotonic()
        with pytest.raises(BrokerError) as refused:
            transport.subscribe(topic, "exclusive", initial_position="earliest")
        assert refused.value.status == 409
        assert time.monotonic() - started >= 1.0
        holder.close()
        holder = transport.subscribe(topic, "exclusive", initial_position="earliest")
        transport.publish(topic, b"to the new holder")
        message = holder.receive(10)
        assert message is not None and message.payload == b"to the new holder"
    finally:
        holder.close()
        transport.close()
