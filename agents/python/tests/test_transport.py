"""Topic mapping, HTTP errors and retries, and the errors when nothing answers."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator

import pytest

from qp_agent import ApiError, BrokerUnavailableError, ManagerUnavailableError, PulsarWebSocket, QpAgent, topic_path
from qp_agent.http import ApiClient


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
        status, body = server.script.pop(0)  # type: ignore[attr-defined]
        data = json.dumps(body).encode()
        self.send_response(status)
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


def test_5xx_past_the_retries_is_manager_unavailable(server: ThreadingHTTPServer) -> None:
    server.script = [(500, {"error": {"code": "INTERNAL", "message": "boom"}})] * 2  # type: ignore[attr-defined]
    with pytest.raises(ManagerUnavailableError, match="INTERNAL: boom"):
        ApiClient(url(server), retries=1).call("GET", "/x")


def test_an_unreachable_manager_is_a_clear_error() -> None:
    port = free_port()
    agent = QpAgent(f"http://127.0.0.1:{port}", "a1", retries=1, request_timeout_s=1)
    with pytest.raises(ManagerUnavailableError, match=f"cannot reach the manager at http://127.0.0.1:{port}"):
        agent.register()


def test_an_unreachable_broker_is_a_clear_error() -> None:
    port = free_port()
    broker = PulsarWebSocket(f"ws://127.0.0.1:{port}", tenant="t", connect_timeout_s=0.5, send_timeout_s=1)
    with pytest.raises(BrokerUnavailableError, match=f"cannot reach the Pulsar broker at ws://127.0.0.1:{port}"):
        broker.publish("swarm/s1/heartbeats", b"{}")


def test_heartbeat_before_register_is_refused() -> None:
    with pytest.raises(RuntimeError, match="register"):
        QpAgent("http://127.0.0.1:1", "a1").heartbeat()
