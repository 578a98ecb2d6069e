"""Calls to the manager's REST API: a timeout per request, retries with backoff on failures that may pass."""

from __future__ import annotations

import time
from typing import Any

import requests

from .errors import ApiError, ManagerUnavailableError
from .retry import backoff_s


class ApiClient:
    """JSON over HTTP to the manager; 4xx raise ApiError at once, 5xx and connection errors are retried."""

    def __init__(self, api_url: str, timeout_s: float = 10.0, retries: int = 4, session: requests.Session | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.session = session or requests.Session()

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, retries: int | None = None) -> Any:
        """The answer's JSON body; raises ApiError (the API's code and message) or ManagerUnavailableError."""
        response = self._request(method, path, body, token, retries)
        try:
            return response.json()
        except ValueError:
            return {}

    def call_bytes(self, method: str, path: str, token: str | None = None, retries: int | None = None) -> bytes:
        """The answer's body as bytes (a model download); errors as call()."""
        return self._request(method, path, None, token, retries).content

    def _request(self, method: str, path: str, body: Any, token: str | None, retries: int | None) -> requests.Response:
        limit = self.retries if retries is None else retries
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        url = f"{self.api_url}{path}"
        for attempt in range(limit + 1):
            retry_after_s = 0.0
            try:
                response = self.session.request(method, url, json=body, headers=headers, timeout=self.timeout_s)
            except requests.RequestException as error:
                if attempt >= limit:
                    raise ManagerUnavailableError(
                        f"cannot reach the manager at {self.api_url} ({method} {path}) after {attempt + 1} attempts: {error}"
                    ) from error
            else:
                if response.ok:
                    return response
                try:
                    payload = response.json()
                except ValueError:
                    payload = {}
                detail = payload.get("error", {}) if isinstance(payload, dict) else {}
                refused = ApiError(response.status_code, str(detail.get("code", "HTTP")), str(detail.get("message", response.reason)))
                # A 4xx is an answer, not a passing failure.
                if response.status_code < 500:
                    raise refused
                if attempt >= limit:
                    raise ManagerUnavailableError(
                        f"the manager at {self.api_url} failed {method} {path} after {attempt + 1} attempts: {refused}"
                    ) from refused
                retry_after_s = retry_after(response.headers.get("retry-after"))
            # A busy manager says how long to wait (Retry-After on its 503s): sooner only adds to its load.
            time.sleep(max(backoff_s(attempt), retry_after_s))
        raise AssertionError("unreachable")


RETRY_AFTER_MAX_S = 30.0


def retry_after(header: str | None) -> float:
    """A Retry-After header in seconds (the form the manager sends), capped; 0 when absent or not seconds."""
    if header is None or not header.strip().isdigit():
        return 0.0
    return min(RETRY_AFTER_MAX_S, float(header.strip()))
