"""A QP-Agent in Python: the same protocol as the TypeScript SDK (agents/sdk.ts).

Registers over REST with an Ed25519 key, answers the challenge (from its Pulsar inbox, or from the
register answer where the broker authorises each agent), keeps the credential for HTTP, heartbeats
over HTTP or signed onto the swarm's heartbeat topic, and deregisters.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import ApiError, HandshakeError
from .http import ApiClient
from .proof import public_key_pem, sign_as_agent, sign_challenge
from .pulsar import Consumer, PulsarWebSocket
from .retry import backoff_s
from .rounds import RoundTask, Update, agent_budget, bytes_to_params, global_params_inline, params_to_bytes, update_properties

Status = dict[str, Any]
Trainer = Callable[[np.ndarray, RoundTask], "Update | None"]


def swarm_topic(swarm_id: str, name: str) -> str:
    """A swarm's logical topic name (core/topics.ts), e.g. swarm/s1/heartbeats."""
    return f"swarm/{swarm_id}/{name}"


class QpAgent:
    """One agent of a swarm. Not thread-safe apart from the heartbeat thread it runs itself."""

    def __init__(
        self,
        api_url: str,
        agent_id: str,
        pulsar_url: str | None = None,
        swarm_id: str | None = None,
        capabilities: list[str] | None = None,
        resources: dict[str, Any] | None = None,
        region: str | None = None,
        pulsar_tenant: str = "qp-manager",
        private_key: Ed25519PrivateKey | None = None,
        pool: str | None = None,
        request_timeout_s: float = 10.0,
        handshake_timeout_s: float = 30.0,
        retries: int = 4,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """pulsar_url: the broker's web service as ws://host:port (or http://), for the inbox and signed messages."""
        self.agent_id = agent_id
        self.swarm_id = swarm_id
        self.capabilities = capabilities or []
        self.resources = resources or {"cpu": 1, "memoryMb": 1024}
        self.region = region
        self.pool = pool
        self.pulsar_url = pulsar_url
        self.pulsar_tenant = pulsar_tenant
        self.handshake_timeout_s = handshake_timeout_s
        self.private_key = private_key or Ed25519PrivateKey.generate()
        self.api = ApiClient(api_url, timeout_s=request_timeout_s, retries=retries)
        self.on_event = on_event
        self.credential: str | None = None
        self.record: dict[str, Any] | None = None
        self._broker_token: str | None = None
        self._messaging: PulsarWebSocket | None = None
        self._inbox: Consumer | None = None
        self._heartbeats: threading.Thread | None = None
        self._stop = threading.Event()
        self.heartbeat_failures = 0
        self._rounds: Consumer | None = None
        self._rounds_thread: threading.Thread | None = None
        self._rounds_stop = threading.Event()
        self._started_rounds: set[str] = set()
        self._publish_lock = threading.Lock()

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key)

    def _emit(self, event: dict[str, Any]) -> None:
        if self.on_event:
            self.on_event(event)

    def _broker(self) -> PulsarWebSocket:
        if self.pulsar_url is None:
            raise ValueError("pulsar_url is required to read the inbox or publish signed messages")
        if self._messaging is None:
            self._messaging = PulsarWebSocket(self.pulsar_url, tenant=self.pulsar_tenant, auth_token=self._broker_token)
        return self._messaging

    # ------------------------------------------------------------ handshake

    def register(self) -> dict[str, Any]:
        """Registers (or re-registers) and completes the challenge handshake; returns the agent record."""
        body: dict[str, Any] = {
            "agentId": self.agent_id,
            "capabilities": self.capabilities,
            "resources": self.resources,
            "publicKey": self.public_key_pem,
        }
        if self.swarm_id is not None:
            body["swarmId"] = self.swarm_id
        if self.region is not None:
            body["region"] = self.region
        accepted = self.api.call("POST", "/api/v1/swarm/register", body)
        # Where the broker authorises each agent, the inbox opens only with the token the
        # handshake brings: the challenge comes in the answer instead.
        if accepted.get("challenge"):
            return self._answer_challenge(accepted["challenge"])
        if self._inbox is None:
            self._inbox = self._broker().subscribe(accepted["inboxTopic"], f"agent-{self.agent_id}", initial_position="earliest")
        deadline = time.monotonic() + self.handshake_timeout_s
        while time.monotonic() < deadline:
            message = self._inbox.receive(min(1.0, deadline - time.monotonic()))
            if message is None:
                continue
            self._inbox.ack(message)
            try:
                parsed = json.loads(message.payload.decode("utf-8"))
            except ValueError:
                continue
            if not isinstance(parsed, dict) or parsed.get("type") != "challenge" or not isinstance(parsed.get("challenge"), str):
                continue
            try:
                return self._answer_challenge(parsed["challenge"])
            except ApiError as error:
                # An older challenge left in the inbox: wait for the current one.
                if error.code == "STALE_CHALLENGE":
                    continue
                raise
        raise HandshakeError(f"no challenge arrived in the inbox of {self.agent_id} within {self.handshake_timeout_s} s")

    def _answer_challenge(self, challenge: str) -> dict[str, Any]:
        signature = sign_challenge(self.private_key, self.agent_id, challenge)
        issued = self.api.call(
            "POST",
            f"/api/v1/swarm/agents/{self.agent_id}/challenge-response",
            {"challenge": challenge, "signature": signature},
        )
        broker = issued.get("broker")
        if broker and broker.get("token") != self._broker_token:
            # A new session's role: reopen the broker with its token.
            if self._messaging is not None:
                self._messaging.close()
            if self._inbox is not None:
                self._inbox.close()
            self._messaging, self._inbox = None, None
            self._broker_token = broker["token"]
        self.credential = issued["credential"]
        self.record = issued["agent"]
        self.swarm_id = self.record["swarmId"]
        self._emit({"type": "registered", "credentialExpiresAt": self.record.get("credentialExpiresAt")})
        return self.record

    # ------------------------------------------------------------ messages

    def publish_signed(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str:
        """Publishes on a shared topic with this agent's proof; no credential travels over messaging."""
        with self._publish_lock:
            signed = sign_as_agent(self.private_key, self.agent_id, topic, properties or {}, payload, int(time.time() * 1000))
            return self._broker().publish(topic, payload, properties=signed, key=key or self.agent_id)

    def heartbeat(self, status: Status | None = None, via: str = "http") -> None:
        """One heartbeat: with the credential over HTTP (via="http"), or signed onto the heartbeat topic (via="messaging")."""
        if self.credential is None or self.record is None:
            raise RuntimeError("register() first")
        reported: Status = dict(status or {})
        if self.pool is not None:
            reported = {"pool": self.pool, **reported}
        if via == "messaging":
            message = {"agentId": self.agent_id, "sentAt": int(time.time() * 1000), **reported}
            payload = json.dumps(message, separators=(",", ":")).encode("utf-8")
            self.publish_signed(swarm_topic(self.record["swarmId"], "heartbeats"), payload)
            return
        if via != "http":
            raise ValueError(f'via must be "http" or "messaging", not "{via}"')
        self.api.call("POST", f"/api/v1/swarm/agents/{self.agent_id}/heartbeat", reported, token=self.credential, retries=0)

    def start_heartbeats(self, interval_s: float = 10.0, via: str = "http", status: Callable[[], Status] | None = None) -> None:
        """Heartbeats every interval_s on a daemon thread until stop_heartbeats(); a 401 registers again."""
        self.stop_heartbeats()
        self._stop.clear()

        def loop() -> None:
            delay = 0.0
            while not self._stop.wait(delay):
                try:
                    self.heartbeat(status() if status else None, via=via)
                    self.heartbeat_failures = 0
                    delay = interval_s
                except Exception as error:  # noqa: BLE001 - reported, and the loop goes on
                    self.heartbeat_failures += 1
                    self._emit({"type": "heartbeat-failed", "error": str(error), "attempt": self.heartbeat_failures})
                    delay = min(interval_s, backoff_s(self.heartbeat_failures, 0.25, interval_s))
                    if isinstance(error, ApiError) and error.status == 401:
                        self._reconnect()

        self._heartbeats = threading.Thread(target=loop, name=f"qp-heartbeats-{self.agent_id}", daemon=True)
        self._heartbeats.start()

    def _reconnect(self) -> None:
        try:
            self.register()
            self._emit({"type": "reconnected"})
        except Exception as error:  # noqa: BLE001 - the next heartbeat tries again
            self._emit({"type": "heartbeat-failed", "error": f"re-registration failed: {error}", "attempt": self.heartbeat_failures})

    # ------------------------------------------------------------ rounds

    def participate(self, train: Trainer) -> None:
        """Takes part in plain federated rounds that select this agent, on a daemon thread, until close().

        train(global_params, task) gets the round's global model (float32) and returns an Update
        (or None to send nothing); the update is published signed on the round's updates topic.
        Rounds that ask for secure aggregation, local DP or asynchronous training are not
        supported yet: they are reported as round-failed events and get no update.
        """
        if self.credential is None or self.record is None:
            raise RuntimeError("register() first")
        if self._rounds_thread is not None:
            return
        inbox = swarm_topic(self.record["swarmId"], f"inbox-{self.agent_id}")
        self._rounds = self._broker().subscribe(inbox, f"agent-{self.agent_id}-rounds", initial_position="latest")
        self._rounds_stop.clear()
        rounds = self._rounds

        def loop() -> None:
            while not self._rounds_stop.is_set():
                try:
                    message = rounds.receive(0.5)
                except Exception as error:  # noqa: BLE001 - reported; the consumer reconnects on the next call
                    self._emit({"type": "round-failed", "error": f"inbox: {error}"})
                    self._rounds_stop.wait(1.0)
                    continue
                if message is None:
                    continue
                rounds.ack(message)
                try:
                    start = json.loads(message.payload.decode("utf-8"))
                except ValueError:
                    continue
                if isinstance(start, dict) and start.get("type") == "round-start" and start.get("agentId") == self.agent_id:
                    self._train_round(start, train)

        self._rounds_thread = threading.Thread(target=loop, name=f"qp-rounds-{self.agent_id}", daemon=True)
        self._rounds_thread.start()

    def _train_round(self, start: dict[str, Any], train: Trainer) -> None:
        job_id, round_, attempt = str(start["jobId"]), int(start["round"]), int(start["attempt"])
        key = f"{job_id}/{round_}/{attempt}"
        if key in self._started_rounds:
            return  # a retried start delivered twice trains once
        self._started_rounds.add(key)
        unsupported = [
            what
            for what, asked in (
                ("secure aggregation", start.get("secureAggregation")),
                ("local DP", start.get("localPrivacy")),
                ("asynchronous rounds", start.get("mode") == "async"),
            )
            if asked
        ]
        try:
            if unsupported:
                raise NotImplementedError(f"the Python SDK does not support {', '.join(unsupported)} yet")
            global_params = global_params_inline(start)
            if global_params is None:
                global_params = self.download_model(job_id, str(start["globalDigest"]))
            task = RoundTask(
                job_id=job_id,
                round=round_,
                attempt=attempt,
                training=dict(start.get("training") or {}),
                budget=dict(start.get("budget") or agent_budget(start.get("training") or {})),
                deadline_at_ms=int(start.get("deadlineAt", 0)),
                evaluate=start.get("evaluate") is not False,
            )
            update = train(global_params.copy(), task)
            if update is None or self.credential is None:
                return
            params = np.asarray(update.params, dtype=np.float32)
            if params.shape != global_params.shape:
                raise ValueError(f"the update has {params.size} parameters, the global model {global_params.size}")
            if not task.evaluate:
                update.eval_loss = update.eval_accuracy = update.eval_examples = None
            properties = update_properties(job_id, round_, attempt, self.agent_id, update)
            self.publish_signed(str(start["updatesTopic"]), params_to_bytes(params), properties)
            self._emit({"type": "round-trained", "jobId": job_id, "round": round_, "attempt": attempt})
        except Exception as error:  # noqa: BLE001 - one failed round never stops the agent
            self._emit({"type": "round-failed", "jobId": job_id, "round": round_, "error": str(error)})

    def download_model(self, job_id: str, digest: str) -> np.ndarray:
        """A job's global model by digest, over REST with the credential."""
        data = self.api.call_bytes("GET", f"/api/v1/tuning/{job_id}/model?digest={digest}", token=self.credential)
        return bytes_to_params(data)

    def stop_heartbeats(self) -> None:
        self._stop.set()
        thread, self._heartbeats = self._heartbeats, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def deregister(self) -> None:
        """Ends the registration session (every credential of it stops working) and closes the broker."""
        self.stop_heartbeats()
        if self.credential is not None:
            self.api.call("DELETE", f"/api/v1/swarm/agents/{self.agent_id}", token=self.credential)
            self.credential = None
            self._emit({"type": "deregistered"})
        self.close()

    def close(self) -> None:
        """Stops heartbeats and rounds and closes the broker connections, leaving the registration as it is."""
        self.stop_heartbeats()
        self._rounds_stop.set()
        thread, self._rounds_thread = self._rounds_thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if self._rounds is not None:
            self._rounds.close()
            self._rounds = None
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None
        if self._messaging is not None:
            self._messaging.close()
            self._messaging = None
