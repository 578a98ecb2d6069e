"""The agent's port to the broker and the choice of its transport.

Two transports implement it, as on the TypeScript side (adapters/pulsar/messaging.ts and
adapters/pulsar/native.ts, chosen with QP_PULSAR_TRANSPORT): Pulsar's WebSocket API (the
default, qp_agent.pulsar) and the binary protocol through the official client
(``pulsar_transport="native"``, qp_agent.pulsar_native, the optional ``native`` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from .pulsar import Message, PulsarWebSocket

TransportName = Literal["websocket", "native"]
TRANSPORTS: tuple[TransportName, ...] = ("websocket", "native")


class Subscription(Protocol):
    """One consumer of a topic."""

    def receive(self, timeout_s: float) -> Message | None: ...

    def ack(self, message: Message) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Producers and consumers of logical topics (swarm/<swarmId>/<name>) with one credential."""

    tenant: str
    auth_token: str | None

    def publish(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str: ...

    def subscribe(self, topic: str, subscription: str, initial_position: str = "latest") -> Subscription: ...

    def close(self) -> None: ...


def open_transport(
    url: str,
    transport: str = "websocket",
    tenant: str = "qp-manager",
    auth_token: str | None = None,
    connect_timeout_s: float = 5.0,
    send_timeout_s: float = 30.0,
) -> Transport:
    """The named transport to the broker at url: ws(s):// or http(s):// of the web service for
    "websocket", pulsar(+ssl):// of the broker for "native"."""
    if transport == "websocket":
        if url.startswith("pulsar"):
            raise ValueError(f'the WebSocket transport needs the web service URL (ws://host:port), not "{url}": or use pulsar_transport="native"')
        return PulsarWebSocket(url, tenant=tenant, auth_token=auth_token, connect_timeout_s=connect_timeout_s, send_timeout_s=send_timeout_s)
    if transport == "native":
        from .pulsar_native import PulsarNative

        return PulsarNative(url, tenant=tenant, auth_token=auth_token, connect_timeout_s=connect_timeout_s, send_timeout_s=send_timeout_s)
    raise ValueError(f'pulsar_transport must be one of {", ".join(TRANSPORTS)}, not "{transport}"')


class FollowingSubscription:
    """A long-lived subscription that follows the agent to a new transport.

    When a new session brings another broker token, the agent opens a new transport; the
    subscriptions its loops read (rounds, tasks, proposals, skills) are then marked to move: the
    reading thread itself closes the old consumer and subscribes again through open_subscription
    (the new transport, the new token) on its next receive. The subscription is durable, so what
    arrives in between waits in it. Only the reading thread calls receive and ack (and close, or
    the agent once that thread has ended).
    """

    def __init__(self, open_subscription: Callable[[], Subscription]) -> None:
        self._open = open_subscription
        self._current: Subscription | None = open_subscription()
        self._move = False
        self._closed = False

    def move(self) -> None:
        """Reopens the subscription through the agent's current transport before the next receive.
        Call it after the agent's new transport (or token) is in place: the reopening reads it."""
        self._move = True

    def receive(self, timeout_s: float) -> Message | None:
        if self._closed:
            return None
        if self._move or self._current is None:
            # Cleared before reopening: a move asked for meanwhile reopens once more, never is lost.
            self._move = False
            old, self._current = self._current, None
            if old is not None:
                old.close()
            self._current = self._open()  # raises while the broker is unreachable: reopened on a later call
        return self._current.receive(timeout_s)

    def ack(self, message: Message) -> None:
        current = self._current
        if current is not None:
            current.ack(message)

    def close(self) -> None:
        self._closed = True
        current, self._current = self._current, None
        if current is not None:
            current.close()
