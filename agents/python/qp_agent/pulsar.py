"""Pulsar's WebSocket API, the transport the TypeScript side uses by default (adapters/pulsar/).

Logical topic names map to Pulsar topics as adapters/pulsar/topics.ts does:
``swarm/<swarmId>/<name>`` -> ``persistent://<tenant>/<swarmId>/<name>``, a single name ->
``persistent://<tenant>/system/<name>``. Payloads travel base64-encoded in JSON frames.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import websocket

from .errors import BrokerError, BrokerUnavailableError
from .retry import backoff_s

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=:-]*$")
# How long a 409 ("already connected") on a consumer is waited out before it is reported.
CONFLICT_GRACE_S = 5.0


def topic_path(logical: str, tenant: str, default_namespace: str = "system") -> str:
    """``tenant/namespace/local`` of a logical topic name, as in WebSocket and REST paths."""
    parts = logical.split("/")
    if len(parts) == 1:
        namespace, local = default_namespace, logical
    elif len(parts) == 3 and parts[0] == "swarm":
        namespace, local = parts[1], parts[2]
    else:
        raise ValueError(f'topic "{logical}" must be swarm/<swarmId>/<name> or a single name')
    for what, value in (("tenant", tenant), ("namespace", namespace), ("topic", local)):
        if not _SEGMENT.match(value) or len(value) > 200:
            raise ValueError(f'{what} "{value}" is not a valid Pulsar name')
    return f"{tenant}/{namespace}/{local}"


@dataclass
class Message:
    """One message read from a topic."""

    message_id: str
    payload: bytes
    properties: dict[str, str] = field(default_factory=dict)
    key: str | None = None
    publish_time_ms: int | None = None


def _publish_time_ms(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


class PulsarWebSocket:
    """Producers and consumers over the broker's WebSocket API (``ws://host:8080``, the web service port)."""

    def __init__(
        self,
        web_socket_url: str,
        tenant: str = "qp-manager",
        auth_token: str | None = None,
        connect_timeout_s: float = 5.0,
        send_timeout_s: float = 30.0,
    ) -> None:
        base = re.sub(r"/ws(/v2)?$", "", web_socket_url.rstrip("/"))
        if base.startswith("http://"):
            base = "ws://" + base[len("http://") :]
        elif base.startswith("https://"):
            base = "wss://" + base[len("https://") :]
        self.ws_base = f"{base}/ws/v2"
        self.tenant = tenant
        self.auth_token = auth_token
        self.connect_timeout_s = connect_timeout_s
        self.send_timeout_s = send_timeout_s
        self._producers: dict[str, websocket.WebSocket] = {}
        self._counter = 0

    def _open(self, url: str, deadline: float) -> websocket.WebSocket:
        """Opens a socket, retrying with backoff until the deadline (monotonic seconds)."""
        header = [f"Authorization: Bearer {self.auth_token}"] if self.auth_token else []
        attempt = 0
        first_conflict: float | None = None
        while True:
            try:
                return websocket.create_connection(url, timeout=self.connect_timeout_s, header=header)
            except websocket.WebSocketBadStatusException as error:
                status = int(getattr(error, "status_code", 0) or 0)
                # 409 on an exclusive subscription: our own consumer that just closed, or an upgrade of
                # ours that timed out, may hold it for a moment; another holder is reported after the grace.
                if status == 409:
                    first_conflict = first_conflict if first_conflict is not None else time.monotonic()
                    if time.monotonic() - first_conflict > CONFLICT_GRACE_S:
                        raise BrokerError(f"the Pulsar broker refused the consumer (HTTP 409: already connected) at {url.split('?')[0]}", status) from error
                # 404: the swarm's namespace may not exist yet (the manager creates it); wait for it.
                elif 400 <= status < 500 and status != 404:
                    what = "refused the credentials" if status in (401, 403) else "rejected the request"
                    raise BrokerError(f"the Pulsar broker {what} (HTTP {status}) at {url.split('?')[0]}", status) from error
                cause: Exception = error
            except (OSError, websocket.WebSocketException) as error:
                cause = error
            if time.monotonic() + backoff_s(attempt) > deadline:
                raise BrokerUnavailableError(
                    f"cannot reach the Pulsar broker at {url.split('?')[0]} after {attempt + 1} attempts: {cause}"
                ) from cause
            time.sleep(backoff_s(attempt))
            attempt += 1

    def publish(
        self,
        topic: str,
        payload: bytes,
        properties: dict[str, str] | None = None,
        key: str | None = None,
    ) -> str:
        """Publishes one message and waits for the broker to store it; returns its message id."""
        deadline = time.monotonic() + self.send_timeout_s
        self._counter += 1
        frame: dict[str, Any] = {
            "payload": base64.b64encode(payload).decode("ascii"),
            "properties": properties or {},
            "context": str(self._counter),
        }
        if key is not None:
            frame["key"] = key
        attempt = 0
        while True:
            ws = self._producers.get(topic)
            try:
                if ws is None:
                    url = f"{self.ws_base}/producer/persistent/{topic_path(topic, self.tenant)}"
                    ws = self._producers[topic] = self._open(url, deadline)
                ws.settimeout(max(0.1, deadline - time.monotonic()))
                ws.send(json.dumps(frame))
                while True:
                    ack = json.loads(ws.recv())
                    if ack.get("context") == frame["context"]:
                        break
                if ack.get("result") != "ok":
                    raise BrokerError(f"the Pulsar broker refused the message on {topic}: {ack.get('errorMsg', ack)}")
                return str(ack.get("messageId", ""))
            except (OSError, websocket.WebSocketException) as error:
                self._drop_producer(topic)
                if time.monotonic() + backoff_s(attempt) > deadline:
                    raise BrokerUnavailableError(f"publish on {topic} not acknowledged in time: {error}") from error
                time.sleep(backoff_s(attempt))
                attempt += 1

    def subscribe(self, topic: str, subscription: str, initial_position: str = "latest") -> "Consumer":
        """A consumer of topic (exclusive subscription); ``initial_position`` is earliest or latest."""
        query = urlencode(
            {
                "subscriptionType": "Exclusive",
                "subscriptionInitialPosition": "Earliest" if initial_position == "earliest" else "Latest",
                "receiverQueueSize": "100",
            }
        )
        url = f"{self.ws_base}/consumer/persistent/{topic_path(topic, self.tenant)}/{quote(subscription, safe='')}?{query}"
        return Consumer(self, url, topic)

    def _drop_producer(self, topic: str) -> None:
        ws = self._producers.pop(topic, None)
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

    def close(self) -> None:
        for topic in list(self._producers):
            self._drop_producer(topic)


class Consumer:
    """Reads one subscription; reconnects with backoff when the socket drops."""

    def __init__(self, client: PulsarWebSocket, url: str, topic: str) -> None:
        self.client = self.transport = client
        self.url = url
        self.topic = topic
        self._ws: websocket.WebSocket | None = client._open(url, time.monotonic() + client.send_timeout_s)

    def receive(self, timeout_s: float) -> Message | None:
        """The next message, or None when none arrives within timeout_s."""
        deadline = time.monotonic() + timeout_s
        attempt = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                if self._ws is None:
                    self._ws = self.client._open(self.url, time.monotonic() + self.client.send_timeout_s)
                self._ws.settimeout(left)
                frame = json.loads(self._ws.recv())
            except websocket.WebSocketTimeoutException:
                return None
            except (OSError, websocket.WebSocketException) as error:
                self._close_socket()
                if time.monotonic() + backoff_s(attempt) > deadline + self.client.send_timeout_s:
                    raise BrokerUnavailableError(f"lost the Pulsar consumer of {self.topic}: {error}") from error
                time.sleep(backoff_s(attempt))
                attempt += 1
                continue
            if not isinstance(frame.get("messageId"), str):
                continue
            return Message(
                message_id=frame["messageId"],
                payload=base64.b64decode(frame.get("payload") or ""),
                properties=dict(frame.get("properties") or {}),
                key=frame.get("key"),
                publish_time_ms=_publish_time_ms(frame.get("publishTime")),
            )

    def ack(self, message: Message) -> None:
        """Acknowledges a message; a lost socket redelivers it, which readers tolerate."""
        if self._ws is None:
            return
        try:
            self._ws.send(json.dumps({"messageId": message.message_id}))
        except (OSError, websocket.WebSocketException):
            self._close_socket()

    def _close_socket(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
        self._ws = None

    def close(self) -> None:
        self._close_socket()
