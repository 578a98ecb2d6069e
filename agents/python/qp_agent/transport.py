"""The agent's port to the broker and the choice of its transport.

Two transports implement it, as on the TypeScript side (adapters/pulsar/messaging.ts and
adapters/pulsar/native.ts, chosen with QP_PULSAR_TRANSPORT): Pulsar's WebSocket API (the
default, qp_agent.pulsar) and the binary protocol through the official client
(``pulsar_transport="native"``, qp_agent.pulsar_native, the optional ``native`` extra).
"""

from __future__ import annotations

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
