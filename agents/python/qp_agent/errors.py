"""Exceptions of the SDK: the API's error code and message, or why a service cannot be reached."""

from __future__ import annotations


class QpAgentError(Exception):
    """Base class of every error the SDK raises."""


class ApiError(QpAgentError):
    """The manager's API answered with an error: HTTP status, its error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ManagerUnavailableError(QpAgentError):
    """The manager's API did not answer (connection refused, timeout, 5xx) after every retry."""


class BrokerError(QpAgentError):
    """The Pulsar broker refused a request (credentials, topic): retrying will not help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BrokerUnavailableError(BrokerError):
    """The Pulsar broker could not be reached, or did not acknowledge in time, after every retry."""


class HandshakeError(QpAgentError):
    """No challenge arrived in the agent's inbox within the handshake timeout."""
