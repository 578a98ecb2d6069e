"""Pulsar's binary protocol through the official client (PyPI ``pulsar-client``, C++ libpulsar underneath).

The optional transport, as adapters/pulsar/native.ts is on the TypeScript side: chosen with
``pulsar_transport="native"`` and a ``pulsar://host:6650`` URL, installed with ``pip install
qp-agent[native]``. Topic names, message ids (base64 of the serialised id), payloads and errors
are those of the WebSocket transport (qp_agent.pulsar), so the agent cannot tell them apart.

Like the WebSocket transport, close() ends the producers while consumers opened through the
transport live until they are closed themselves: the client (one connection pool, one credential)
is closed with the last of them. A new credential therefore means a new transport, whose
producers and consumers all authenticate with it.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from typing import Any

from .errors import BrokerError, BrokerUnavailableError
from .pulsar import Message, topic_path
from .retry import backoff_s

_pulsar: Any = None
try:
    import pulsar

    _pulsar = pulsar
except ImportError:  # the optional extra is not installed
    pass

INSTALL_HINT = "pip install 'qp-agent[native]' installs it (the pulsar-client wheel), or use pulsar_transport=\"websocket\""
_URL = re.compile(r"^pulsar(\+ssl)?://[^/]+/?$")
# The client's own log lines go to Python logging, not to stdout where an agent may speak JSON.
_LOG = logging.getLogger("qp_agent.pulsar_native")


def native_transport_unavailable() -> str | None:
    """Why the native transport cannot run here, or None when pulsar-client imports."""
    if _pulsar is None:
        return f'the PyPI package "pulsar-client" is not installed: {INSTALL_HINT}'
    return None


def _refused(error: Exception) -> int | None:
    """The HTTP-like status of an error retrying cannot help with (credentials), else None."""
    assert _pulsar is not None
    if isinstance(error, _pulsar.AuthenticationError):
        return 401
    if isinstance(error, _pulsar.AuthorizationError):
        return 403
    if isinstance(error, (_pulsar.InvalidTopicName, _pulsar.InvalidConfiguration, _pulsar.MessageTooBig)):
        return 400
    return None


def message_id_text(message_id: Any) -> str:
    """A message id as the WebSocket API writes it: base64 of the serialised id."""
    return base64.b64encode(message_id.serialize()).decode("ascii")


class PulsarNative:
    """Producers and consumers over the broker's binary protocol (``pulsar://host:6650``)."""

    def __init__(
        self,
        service_url: str,
        tenant: str = "qp-manager",
        auth_token: str | None = None,
        connect_timeout_s: float = 5.0,
        send_timeout_s: float = 30.0,
    ) -> None:
        missing = native_transport_unavailable()
        if missing is not None:
            raise ImportError(missing)
        assert _pulsar is not None
        service_url = service_url.rstrip("/")
        if not _URL.match(service_url):
            raise ValueError(f'the native transport needs a pulsar://host:port service URL, not "{service_url}"')
        self.service_url = service_url
        self.tenant = tenant
        self.auth_token = auth_token
        self.connect_timeout_s = connect_timeout_s
        self.send_timeout_s = send_timeout_s
        self._client = _pulsar.Client(
            service_url,
            authentication=_pulsar.AuthenticationToken(auth_token) if auth_token else None,
            operation_timeout_seconds=max(1, int(round(min(connect_timeout_s, send_timeout_s)))),
            connection_timeout_ms=max(100, int(connect_timeout_s * 1000)),
            logger=_LOG,
        )
        self._lock = threading.Lock()
        self._producers: dict[str, Any] = {}
        self._consumers: set[NativeConsumer] = set()
        self._closed = False
        self._client_closed = False

    def _full_name(self, topic: str) -> str:
        return f"persistent://{topic_path(topic, self.tenant)}"

    def _retrying(self, what: str, action: Any, deadline: float) -> Any:
        """action() until it passes; connection troubles (and a namespace the manager has not made yet) are
        retried with backoff until the deadline (monotonic seconds), refusals raised at once."""
        attempt = 0
        while True:
            try:
                return action()
            except _pulsar.PulsarException as error:
                status = _refused(error)
                if status is not None:
                    why = "refused the credentials" if status in (401, 403) else "rejected the request"
                    raise BrokerError(f"the Pulsar broker {why} ({type(error).__name__}) for {what}", status) from error
                if self._closed and self._client_closed:
                    raise BrokerUnavailableError(f"the transport to {self.service_url} is closed") from error
                if time.monotonic() + backoff_s(attempt) > deadline:
                    raise BrokerUnavailableError(
                        f"cannot reach the Pulsar broker at {self.service_url} for {what} after {attempt + 1} attempts: "
                        f"{type(error).__name__}: {error}"
                    ) from error
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
        full_name = self._full_name(topic)

        def send() -> str:
            with self._lock:
                if self._closed:
                    raise BrokerError("publish on a closed transport")
                producer = self._producers.get(full_name)
            if producer is None:
                producer = self._client.create_producer(
                    full_name,
                    batching_enabled=False,
                    chunking_enabled=True,
                    send_timeout_millis=max(1, int(self.send_timeout_s * 1000)),
                )
                with self._lock:
                    if self._closed:
                        producer.close()
                        raise BrokerError("publish on a closed transport")
                    # Two threads raced to create it: keep the first, close the other.
                    kept = self._producers.setdefault(full_name, producer)
                if kept is not producer:
                    producer.close()
                    producer = kept
            try:
                return message_id_text(producer.send(payload, properties=dict(properties or {}), partition_key=key))
            except _pulsar.PulsarException:
                self._drop_producer(full_name)
                raise

        return str(self._retrying(f"publish on {topic}", send, deadline))

    def subscribe(self, topic: str, subscription: str, initial_position: str = "latest") -> "NativeConsumer":
        """A consumer of topic (exclusive subscription); ``initial_position`` is earliest or latest."""
        assert _pulsar is not None
        with self._lock:
            if self._closed:
                raise BrokerError("subscribe on a closed transport")
        position = _pulsar.InitialPosition.Earliest if initial_position == "earliest" else _pulsar.InitialPosition.Latest
        native = self._retrying(
            f"the subscription {subscription} of {topic}",
            lambda: self._client.subscribe(
                self._full_name(topic),
                subscription,
                consumer_type=_pulsar.ConsumerType.Exclusive,
                initial_position=position,
                receiver_queue_size=100,
            ),
            time.monotonic() + self.send_timeout_s,
        )
        consumer = NativeConsumer(self, native, topic)
        with self._lock:
            self._consumers.add(consumer)
        return consumer

    def _drop_producer(self, full_name: str) -> None:
        with self._lock:
            producer = self._producers.pop(full_name, None)
        if producer is not None:
            try:
                producer.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

    def _consumer_closed(self, consumer: "NativeConsumer") -> None:
        with self._lock:
            self._consumers.discard(consumer)
            last = self._closed and not self._consumers and not self._client_closed
            if last:
                self._client_closed = True
        if last:
            self._client.close()

    def close(self) -> None:
        """Closes the producers; the client goes with the last consumer still open (at once when there is none)."""
        with self._lock:
            self._closed = True
            producers, self._producers = list(self._producers.values()), {}
            last = not self._consumers and not self._client_closed
            if last:
                self._client_closed = True
        for producer in producers:
            try:
                producer.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
        if last:
            self._client.close()


class NativeConsumer:
    """Reads one subscription; the client reconnects by itself when the connection drops."""

    def __init__(self, transport: PulsarNative, native: Any, topic: str) -> None:
        self.transport = transport
        self.topic = topic
        self._native = native
        self._received: dict[str, Any] = {}
        self._closed = False

    def receive(self, timeout_s: float) -> Message | None:
        """The next message, or None when none arrives within timeout_s."""
        assert _pulsar is not None
        if self._closed:
            raise BrokerUnavailableError(f"the consumer of {self.topic} is closed")
        if timeout_s <= 0:
            return None
        try:
            message = self._native.receive(timeout_millis=max(1, int(timeout_s * 1000)))
        except _pulsar.Timeout:
            return None
        except _pulsar.PulsarException as error:
            raise BrokerUnavailableError(f"lost the Pulsar consumer of {self.topic}: {type(error).__name__}: {error}") from error
        message_id = message_id_text(message.message_id())
        self._received[message_id] = message.message_id()
        while len(self._received) > 10_000:  # ids read and never acknowledged
            del self._received[next(iter(self._received))]
        return Message(
            message_id=message_id,
            payload=bytes(message.data()),
            properties=dict(message.properties()),
            key=message.partition_key() or None,
            publish_time_ms=int(message.publish_timestamp()) or None,
        )

    def ack(self, message: Message) -> None:
        """Acknowledges a message; one that cannot be is redelivered, which readers tolerate."""
        message_id = self._received.pop(message.message_id, None)
        if message_id is None or self._closed:
            return
        try:
            self._native.acknowledge(message_id)
        except Exception:  # noqa: BLE001 - redelivered later
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._native.close()
        except Exception:  # noqa: BLE001 - already closed with the client
            pass
        self.transport._consumer_closed(self)
