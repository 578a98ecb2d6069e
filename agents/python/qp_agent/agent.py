"""A QP-Agent in Python: the same protocol as the TypeScript SDK (agents/sdk.ts).

Registers over REST with an Ed25519 key, answers the challenge (from its Pulsar inbox, or from the
register answer where the broker authorises each agent), keeps the credential for HTTP, heartbeats
over HTTP or signed onto the swarm's heartbeat topic, and deregisters.
"""

from __future__ import annotations

import json
import os
import threading
import time
from urllib.parse import quote
from collections.abc import Callable
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import ApiError, BrokerUnavailableError, HandshakeError
from .http import ApiClient
from .proof import public_key_pem, sign_as_agent, sign_challenge
from .transport import TRANSPORTS, FollowingSubscription, Subscription, Transport, open_transport
from .retry import backoff_s
from .privacy import clip_l2, with_local_privacy
from .rounds import (
    RoundTask,
    Update,
    agent_budget,
    bytes_to_params,
    evaluation_properties,
    global_params_inline,
    params_to_bytes,
    secagg_properties,
    update_properties,
)
from .secagg import SecAggAgent
from .session import Session, load_session, private_key_seed, save_session, session_private_key
from .tasks import TaskBidder, TaskContext, TaskDeclined, TaskHandler, bid_message, outcome_message, own_bid
from .ballot import Choice, sign_ballot
from .jsjson import js_json

Status = dict[str, Any]
Trainer = Callable[[np.ndarray, RoundTask], "Update | None"]
SECAGG_REQUESTS = ("shareKeysRequest", "maskedInputRequest", "unmaskRequest")
# How long a ballot is sent again through a broker outage when the agent has not seen its proposal's closesAt, s.
VOTE_RETRY_S = 60.0


def remember(bounded: dict[str, Any], key: str, value: Any, limit: int = 1024) -> None:
    """Sets bounded[key], dropping the oldest entries past limit."""
    bounded[key] = value
    while len(bounded) > limit:
        del bounded[next(iter(bounded))]


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
        session_file: str | os.PathLike[str] | None = None,
        pulsar_transport: str = "websocket",
    ) -> None:
        """pulsar_url: the broker, for the inbox and signed messages: its web service as ws://host:port (or
        http://) for the WebSocket transport (the default), pulsar://host:6650 for pulsar_transport="native"
        (the official client, installed with the package's native extra).

        session_file: where each session register() makes (and a re-registration renews) is saved with
        the agent's key, for resume() after a restart; deregister() removes it.
        """
        self.agent_id = agent_id
        self.swarm_id = swarm_id
        self.capabilities = capabilities or []
        self.resources = resources or {"cpu": 1, "memoryMb": 1024}
        self.region = region
        self.pool = pool
        self.pulsar_url = pulsar_url
        self.pulsar_tenant = pulsar_tenant
        if pulsar_transport not in TRANSPORTS:
            raise ValueError(f'pulsar_transport must be one of {", ".join(TRANSPORTS)}, not "{pulsar_transport}"')
        self.pulsar_transport = pulsar_transport
        self.handshake_timeout_s = handshake_timeout_s
        self.private_key = private_key or Ed25519PrivateKey.generate()
        self.api = ApiClient(api_url, timeout_s=request_timeout_s, retries=retries)
        self.on_event = on_event
        self.credential: str | None = None
        self.record: dict[str, Any] | None = None
        self._broker_token: str | None = None
        self._messaging: Transport | None = None
        self._inbox: Subscription | None = None
        self._heartbeats: threading.Thread | None = None
        self._stop = threading.Event()
        self.heartbeat_failures = 0
        self._rounds: FollowingSubscription | None = None
        self._rounds_thread: threading.Thread | None = None
        self._rounds_stop = threading.Event()
        self._started_rounds: dict[str, None] = {}
        self._publish_lock = threading.Lock()
        self._rounds_lock = threading.RLock()  # _new_model_version runs under it and spawns
        self._current_rounds: dict[str, tuple[int, int, threading.Event]] = {}
        self._trainings: set[threading.Thread] = set()
        self._async_jobs: dict[str, dict[str, Any]] = {}
        self._secagg_mail: dict[tuple[str, str], dict[str, Any]] = {}
        self._secagg_ready = threading.Condition()
        self._listeners: list[tuple[FollowingSubscription, threading.Thread]] = []
        self._listeners_stop = threading.Event()
        self._tasks_listening = False
        self._proposals_listening = False
        self._skills_listening = False
        self._answered_tasks: dict[str, None] = {}
        # The final answer of each attempt run here (bounded), sent again when the manager sends that attempt again.
        self._task_answers: dict[str, tuple[str, dict[str, Any]]] = {}
        # Attempts the manager withdrew (read on their own subscription, so they overtake the queued tasks they name).
        self._withdrawn_tasks: dict[str, None] = {}
        self._tasks_lock = threading.Lock()
        self._cast_at: dict[str, int] = {}
        # When voting closes, per decision, from the proposals received: a ballot is sent again until then.
        self._closes_at: dict[str, int] = {}
        self._closing = threading.Event()
        self.session_file = session_file

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key)

    def _emit(self, event: dict[str, Any]) -> None:
        if self.on_event:
            self.on_event(event)

    def _broker(self) -> Transport:
        if self.pulsar_url is None:
            raise ValueError("pulsar_url is required to read the inbox or publish signed messages")
        if self._messaging is None:
            self._messaging = open_transport(self.pulsar_url, self.pulsar_transport, tenant=self.pulsar_tenant, auth_token=self._broker_token)
        return self._messaging

    # ------------------------------------------------------------ handshake

    def register(self) -> dict[str, Any]:
        """Registers (or re-registers) and completes the challenge handshake; returns the agent record."""
        self._closing.clear()
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
            self._reopen_broker(str(broker["token"]))
        self.credential = issued["credential"]
        self.record = issued["agent"]
        self.swarm_id = self.record["swarmId"]
        if self.session_file is not None:
            save_session(self.session_file, self.session())
        self._emit({"type": "registered", "credentialExpiresAt": self.record.get("credentialExpiresAt")})
        return self.record

    def _reopen_broker(self, token: str) -> None:
        """Opens the broker anew with another session's token: producers and the inbox at once, the
        subscriptions the agent's loops read on their next receive (each from its own thread)."""
        if self._inbox is not None:
            self._inbox.close()
        if self._messaging is not None:
            self._messaging.close()
        self._messaging, self._inbox = None, None
        self._broker_token = token
        for following in [self._rounds, *(consumer for consumer, _ in self._listeners)]:
            if following is not None:
                following.move()

    # ------------------------------------------------------------ sessions

    def session(self) -> Session:
        """What a restarted process needs to resume this session: the record, the credential, the broker token
        (where the broker authorises each agent) and the registration key's seed. Secret: keep it so."""
        if self.credential is None or self.record is None:
            raise RuntimeError("register() first")
        session: Session = {
            "agentId": self.agent_id,
            "privateKey": private_key_seed(self.private_key),
            "agent": self.record,
            "credential": self.credential,
        }
        if self._broker_token is not None:
            session["brokerToken"] = self._broker_token
        return session

    def resume(self, session: Session | None = None) -> dict[str, Any]:
        """Picks up a session without a new handshake, as the TypeScript SDK's resume(): from a session()
        kept across a restart (by default the one saved in session_file). Returns the agent record.

        Nothing is sent: the manager knows the session already. The session's key (when it holds one)
        becomes the agent's, since its messages are checked against the key it registered. A credential
        the manager no longer accepts is renewed as ever: a heartbeat refused with 401 registers again.
        Raises FileNotFoundError when session_file holds no session yet (the agent's first start).
        """
        if session is None:
            if self.session_file is None:
                raise ValueError("resume() needs a session, or session_file")
            session = load_session(self.session_file)
        record = session.get("agent")
        if not isinstance(record, dict) or not isinstance(session.get("credential"), str):
            raise ValueError("a session holds the agent record and the credential register() returned")
        if record.get("agentId") != self.agent_id:
            raise ValueError(f"the session is {record.get('agentId')}'s, not {self.agent_id}'s")
        key = session_private_key(session)
        if key is not None:
            self.private_key = key
        token = session.get("brokerToken")
        if token is not None and token != self._broker_token:
            # The session's broker role: what was opened with another token opens nothing of it.
            self._reopen_broker(str(token))
        self._closing.clear()
        self.credential = str(session["credential"])
        self.record = record
        self.swarm_id = str(record["swarmId"])
        self._emit({"type": "resumed", "credentialExpiresAt": record.get("credentialExpiresAt")})
        return record

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
        """Takes part in the federated rounds that select this agent, on daemon threads, until close().

        train(global_params, task) gets the round's global model (float32) and returns an Update
        (or None to send nothing). The SDK applies what the job asks for, as the TypeScript SDK
        does: local DP (the change clipped and noised before it leaves the agent), secure
        aggregation (only the masked change is sent), and asynchronous jobs (the agent trains on
        the newest model version it holds). task.budget is this agent's work; task.should_stop()
        turns true when the time budget is spent or a later round supersedes this one.
        """
        if self.credential is None or self.record is None:
            raise RuntimeError("register() first")
        if self._rounds_thread is not None:
            return
        inbox = swarm_topic(self.record["swarmId"], f"inbox-{self.agent_id}")
        self._rounds = FollowingSubscription(
            lambda: self._broker().subscribe(inbox, f"agent-{self.agent_id}-rounds", initial_position="latest")
        )
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
                    body = json.loads(message.payload.decode("utf-8"))
                except ValueError:
                    continue
                if not isinstance(body, dict):
                    continue
                try:
                    if message.properties.get("type") == "secagg" or body.get("type") in SECAGG_REQUESTS:
                        self._deliver_secagg(body)
                    elif body.get("type") == "round-start" and body.get("agentId") == self.agent_id:
                        self._on_round_start(body, train)
                except (KeyError, TypeError, ValueError) as error:
                    # One malformed message must not deafen the agent to the next.
                    self._emit({"type": "round-failed", "error": f"malformed {body.get('type')}: {error!r}"})

        self._rounds_thread = threading.Thread(target=loop, name=f"qp-rounds-{self.agent_id}", daemon=True)
        self._rounds_thread.start()

    def _on_round_start(self, start: dict[str, Any], train: Trainer) -> None:
        """Starts training a round on its own thread; a later round of the same job supersedes the one still training."""
        job_id, round_, attempt = str(start["jobId"]), int(start["round"]), int(start["attempt"])
        key = f"{job_id}/{round_}/{attempt}"
        with self._rounds_lock:
            if key in self._started_rounds:
                return  # a retried start delivered twice trains once
            self._started_rounds[key] = None
            if len(self._started_rounds) > 256:
                del self._started_rounds[next(iter(self._started_rounds))]
            if start.get("mode") == "async":
                self._new_model_version(start, train)
                return
            current = self._current_rounds.get(job_id)
            if current is not None and (current[0], current[1]) > (round_, attempt):
                return
            if current is not None:
                # Work for an earlier round can no longer count: stop it and start this one now.
                current[2].set()
            abandon = threading.Event()
            self._current_rounds[job_id] = (round_, attempt, abandon)

        def run() -> None:
            try:
                self._train_round(start, train, abandon)
            finally:
                with self._rounds_lock:
                    if self._current_rounds.get(job_id, (0, 0, None))[2] is abandon:
                        del self._current_rounds[job_id]
                    self._trainings.discard(threading.current_thread())

        self._spawn(run, f"qp-round-{self.agent_id}-{key}")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._rounds_lock:
            self._trainings.add(thread)
        thread.start()

    def _new_model_version(self, start: dict[str, Any], train: Trainer) -> None:
        """An asynchronous job's new model version (called under _rounds_lock).

        The agent trains on the newest version it holds, one training at a time per job: a version
        that arrives while it trains is taken up next, and versions superseded meanwhile are skipped.
        Caught up, it waits for the next version. The update answers with the version it trained on.
        A training whose base falls more than the job's maxStaleness versions behind the newest is
        abandoned (the manager would refuse its update as stale) and the newest taken up at once.
        """
        job_id = str(start["jobId"])
        job = self._async_jobs.get(job_id)
        if job is None:
            job = self._async_jobs[job_id] = {"latest": None, "trained": -1, "running": False, "abandon": None}
            if len(self._async_jobs) > 64:
                del self._async_jobs[next(iter(self._async_jobs))]
        if job["latest"] is None or int(start["round"]) > int(job["latest"]["round"]):
            job["latest"] = start
        if job["running"]:
            max_staleness = job["latest"].get("maxStaleness")
            if max_staleness is not None and job["abandon"] is not None and int(job["latest"]["round"]) - job["trained"] > int(max_staleness):
                job["abandon"].set()
            return
        job["running"] = True

        def run() -> None:
            try:
                while True:
                    with self._rounds_lock:
                        version = job["latest"]
                        if self._rounds_stop.is_set() or version is None or int(version["round"]) <= job["trained"]:
                            # Decided under the lock: a version arriving now starts a new training thread.
                            job["running"], job["abandon"] = False, None
                            self._trainings.discard(threading.current_thread())
                            return
                        job["trained"] = int(version["round"])
                        abandon = job["abandon"] = threading.Event()
                    self._train_round(version, train, abandon)
            except BaseException:
                with self._rounds_lock:
                    job["running"], job["abandon"] = False, None
                    self._trainings.discard(threading.current_thread())
                raise

        self._spawn(run, f"qp-async-{self.agent_id}-{job_id}")

    def _train_round(self, start: dict[str, Any], train: Trainer, abandon: threading.Event | None = None) -> None:
        """Trains one round and sends its update (plain, under local DP, or through secure aggregation)."""
        abandon = abandon or threading.Event()
        job_id, round_, attempt = str(start["jobId"]), int(start["round"]), int(start["attempt"])
        try:
            global_params = global_params_inline(start)
            if global_params is None:
                global_params = self.download_model(job_id, str(start["globalDigest"]))
            # An evaluation-only round asks for no steps: the trainer finds itself stopped at once, scores the model and returns.
            evaluate_only = start.get("evaluateOnly") is True
            stopped = threading.Event() if evaluate_only else abandon
            if evaluate_only:
                stopped.set()
            # The time budget runs from when training starts.
            task = RoundTask(
                job_id=job_id,
                round=round_,
                attempt=attempt,
                training=dict(start.get("training") or {}),
                budget={"localSteps": 0} if evaluate_only else dict(start.get("budget") or agent_budget(start.get("training") or {})),
                deadline_at_ms=int(start.get("deadlineAt", 0)),
                evaluate=start.get("evaluate") is not False,
                evaluate_only=evaluate_only,
                stopped=stopped,
            )
            update = train(global_params.copy(), task)
            if abandon.is_set():
                # Superseded by a later round of the job (or the agent is closing): this work cannot count.
                if not self._rounds_stop.is_set():
                    self._emit({"type": "round-abandoned", "jobId": job_id, "round": round_, "attempt": attempt})
                return
            if update is None or self.credential is None:
                return
            if evaluate_only:
                properties = evaluation_properties(job_id, round_, attempt, self.agent_id, update)
                if properties is None:
                    return
                self._until_delivered(
                    lambda: self.publish_signed(str(start["updatesTopic"]), b"", properties),
                    float(start["deadlineAt"]),
                    abandon or self._rounds_stop,
                )
                self._emit({"type": "round-evaluated", "jobId": job_id, "round": round_, "attempt": attempt})
                return
            params = np.asarray(update.params, dtype=np.float32).reshape(-1)
            if params.shape != global_params.shape:
                raise ValueError(f"the update has {params.size} parameters, the global model {global_params.size}")
            if not task.evaluate:
                update.eval_loss = update.eval_accuracy = update.eval_examples = None
            if start.get("localPrivacy"):
                params = with_local_privacy(global_params, params, start["localPrivacy"])
            if start.get("secureAggregation"):
                self._secure_round(start, global_params, params, update.examples)
            else:
                properties = update_properties(job_id, round_, attempt, self.agent_id, update)
                payload = params_to_bytes(params)
                # It counts if the broker takes it by the round's deadline: until then an outage is waited out.
                self._until_delivered(
                    lambda: self.publish_signed(str(start["updatesTopic"]), payload, properties),
                    float(start["deadlineAt"]),
                    abandon or self._rounds_stop,
                )
            self._emit({"type": "round-trained", "jobId": job_id, "round": round_, "attempt": attempt})
        except Exception as error:  # noqa: BLE001 - one failed round never stops the agent
            self._emit({"type": "round-failed", "jobId": job_id, "round": round_, "error": str(error)})

    # ------------------------------------------------------------ secure aggregation

    def _secure_round(self, start: dict[str, Any], global_params: np.ndarray, params: np.ndarray, examples: float) -> None:
        """SecAgg+ from the agent's side: only the masked change (params - global) leaves the agent."""
        spec = start["secureAggregation"]
        config, stage_s = spec["config"], float(spec["stageTimeoutMs"]) / 1000
        delta = (params - global_params).astype(np.float32)
        # Under DP every agent weighs the same and bounds its own change.
        clip_norm = start.get("clipNorm")
        if clip_norm is not None:
            delta, _, _ = clip_l2(delta, float(clip_norm))
        weight = 1 if clip_norm is not None else examples
        machine = SecAggAgent(config, self.agent_id, weight=weight)
        topic = str(start["updatesTopic"])
        properties = secagg_properties(str(start["jobId"]), int(start["round"]), int(start["attempt"]), self.agent_id)

        def send(body: dict[str, Any], until_ms: float) -> None:
            # Each stage's message counts if the broker takes it while the manager still collects that stage:
            # through an outage it is sent again, signed anew, until then.
            payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            self._until_delivered(lambda: self.publish_signed(topic, payload, properties), until_ms, self._rounds_stop)

        def stage_end_ms() -> float:
            return time.time() * 1000 + stage_s * 1000

        round_id = str(config["roundId"])
        deadline_ms = float(start.get("deadlineAt", 0))
        patience_s = max(0.0, deadline_ms / 1000 - time.time()) + 2 * stage_s
        send(machine.advertise_keys(), deadline_ms)  # the manager collects advertised keys until the round's deadline
        send(machine.share_keys(self._secagg_request(round_id, "shareKeysRequest", patience_s)), stage_end_ms())
        send(machine.masked_input(self._secagg_request(round_id, "maskedInputRequest", 2 * stage_s), delta, weight), stage_end_ms())
        send(machine.unmask(self._secagg_request(round_id, "unmaskRequest", 2 * stage_s)), stage_end_ms())

    def _deliver_secagg(self, request: dict[str, Any]) -> None:
        with self._secagg_ready:
            self._secagg_mail[(str(request.get("roundId")), str(request.get("type")))] = request
            while len(self._secagg_mail) > 64:  # requests of rounds this agent gave up on
                del self._secagg_mail[next(iter(self._secagg_mail))]
            self._secagg_ready.notify_all()

    def _secagg_request(self, round_id: str, kind: str, timeout_s: float) -> dict[str, Any]:
        """The manager's next request of this round, waited for up to timeout_s."""
        key = (round_id, kind)
        deadline = time.monotonic() + timeout_s
        with self._secagg_ready:
            while key not in self._secagg_mail:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._rounds_stop.is_set():
                    raise TimeoutError(f"no {kind} for round {round_id} within {timeout_s:.1f} s")
                self._secagg_ready.wait(min(remaining, 0.5))
            return self._secagg_mail.pop(key)

    # ------------------------------------------------------------ listeners

    def _listen(self, topic: str, subscription: str, initial_position: str, handlers: dict[str, Callable[[dict[str, Any]], None]]) -> None:
        """Runs handlers[body.type] for each JSON message of the topic on a daemon thread, one at a time, until close()."""
        consumer = FollowingSubscription(lambda: self._broker().subscribe(topic, subscription, initial_position=initial_position))
        self._listeners_stop.clear()

        def loop() -> None:
            while not self._listeners_stop.is_set():
                try:
                    message = consumer.receive(0.5)
                except Exception as error:  # noqa: BLE001 - reported; the consumer reconnects on the next call
                    self._emit({"type": "listener-failed", "topic": topic, "error": str(error)})
                    self._listeners_stop.wait(1.0)
                    continue
                if message is None:
                    continue
                consumer.ack(message)
                try:
                    body = json.loads(message.payload.decode("utf-8"))
                except ValueError:
                    continue
                handle = handlers.get(str(body.get("type"))) if isinstance(body, dict) else None
                if handle is None:
                    continue
                try:
                    handle(body)
                except Exception as error:  # noqa: BLE001 - one bad message or failed handler must not deafen the agent
                    self._emit({"type": "listener-failed", "topic": topic, "error": repr(error)})

        thread = threading.Thread(target=loop, name=f"qp-listen-{self.agent_id}-{subscription}", daemon=True)
        self._listeners.append((consumer, thread))
        thread.start()

    # ------------------------------------------------------------ delegated tasks

    def on_task(self, handler: TaskHandler, bid: TaskBidder | None = None) -> None:
        """Runs delegated tasks, as the TypeScript SDK's onTask(handler, { bid }).

        Each 'task' the manager puts in this agent's inbox goes to handler(task, context), one at a
        time: its return value (small JSON) is the result, an exception a failure with its message as
        reason, context.decline(reason) a decline (the manager reallocates the task), and
        context.progress(fraction) reports progress. Outcomes are signed with the agent's key and
        published on the task's replyTopic. An attempt already answered is not run again: when the
        manager sends it again (its workflow task was retried after a worker crash) it is answered
        again with the answer given. An attempt the manager withdrew before it started (rebalancing
        moved it to another agent) is skipped.
        Contract Net: each 'task-announcement' is answered with a signed 'task-bid', from
        bid(announcement, own) when given (None: no bid) or else from the agent's declared profile.
        """
        if self.credential is None or self.record is None:
            raise RuntimeError("register() first")
        if self._tasks_listening:
            return
        self._tasks_listening = True

        def first_time(key: str) -> bool:
            with self._tasks_lock:
                if key in self._answered_tasks:
                    return False
                remember(self._answered_tasks, key, None)
                return True

        def on_withdrawal(withdrawal: dict[str, Any]) -> None:
            with self._tasks_lock:
                remember(self._withdrawn_tasks, f"{withdrawal['taskId']}/{withdrawal['attempt']}", None)
            self._emit({"type": "task-withdrawn", "taskId": withdrawal["taskId"], "attempt": withdrawal["attempt"], "reason": withdrawal.get("reason")})

        def on_assignment(task: dict[str, Any]) -> None:
            key = f"{task['taskId']}/{task['attempt']}"
            with self._tasks_lock:
                withdrawn = key in self._withdrawn_tasks
            if withdrawn:
                self._emit({"type": "task-skipped", "taskId": task["taskId"], "attempt": task["attempt"], "reason": "withdrawn"})
                return
            if first_time(key):
                self._run_task(task, handler)
                return
            with self._tasks_lock:
                answered = self._task_answers.get(key)
            if answered is not None:
                # The manager sent this attempt again: its workflow task was retried after a worker crash and
                # may not have taken the first answer. Answer again, without running the task again.
                outcome, fields = answered
                try:
                    self._answer_task_until_delivered(task, outcome, fields)
                    self._emit({"type": "task-answered-again", "taskId": task["taskId"], "attempt": task["attempt"], "outcome": outcome})
                except Exception as error:  # noqa: BLE001 - the attempt times out on the manager's side
                    self._emit({"type": "task-answer-failed", "taskId": task["taskId"], "attempt": task["attempt"], "error": str(error)})

        def on_announcement(announcement: dict[str, Any]) -> None:
            if time.time() * 1000 > announcement["bidDeadlineMs"]:
                return
            if first_time(f"bid/{announcement['taskId']}/{announcement['attempt']}"):
                self._bid(announcement, bid)

        inbox = swarm_topic(self.record["swarmId"], f"inbox-{self.agent_id}")
        # Subscribed first, on a subscription (and thread) of its own: a withdrawal is read while the task
        # it names still waits behind a running one.
        self._listen(inbox, f"agent-{self.agent_id}-task-withdrawals", "latest", {"task-withdrawn": on_withdrawal})
        self._listen(inbox, f"agent-{self.agent_id}-tasks", "latest", {"task": on_assignment, "task-announcement": on_announcement})

    def _until_delivered(self, send: Callable[[], object], until_ms: float, stop: threading.Event) -> None:
        """Calls send (a signed publish) again through a broker outage, signed anew each time, until it goes,
        until_ms (ms since the epoch) passes or stop is set; then raises the last BrokerUnavailableError."""
        attempt = 0
        while True:
            try:
                send()
                return
            except BrokerUnavailableError:
                if time.time() * 1000 >= until_ms or stop.wait(backoff_s(attempt, 0.25, 5.0)):
                    raise
                attempt += 1

    def _publish_json_signed(self, topic: str, body: dict[str, Any], kind: str, key: str) -> None:
        self.publish_signed(topic, js_json(body).encode("utf-8"), {"type": kind}, key=key)

    def _bid(self, announcement: dict[str, Any], bidder: TaskBidder | None) -> None:
        record = self.record or {}

        def own() -> Any:
            return own_bid(announcement, self.agent_id, record.get("capabilities") or [], record.get("resources"), time.time() * 1000)

        estimate = bidder(announcement, own) if bidder is not None else own()
        if estimate is None:
            return
        message = bid_message(announcement, self.agent_id, estimate)
        self._publish_json_signed(str(announcement["replyTopic"]), message, "task-bid", str(announcement["taskId"]))
        self._emit({"type": "task-bid", "taskId": announcement["taskId"], "attempt": announcement["attempt"]})

    def _answer_task(self, task: dict[str, Any], outcome: str, fields: dict[str, Any]) -> None:
        """Publishes one answer to the task's attempt, signed; a final one is remembered for an attempt sent again."""
        message = outcome_message(task, self.agent_id, outcome, **fields)
        payload = js_json(message).encode("utf-8")  # raises for a result that is not JSON
        if outcome != "progress":
            with self._tasks_lock:
                remember(self._task_answers, f"{task['taskId']}/{task['attempt']}", (outcome, fields))
        self.publish_signed(str(task["replyTopic"]), payload, {"type": "task-outcome"}, key=str(task["taskId"]))

    def _answer_task_until_delivered(self, task: dict[str, Any], outcome: str, fields: dict[str, Any]) -> None:
        # The task's message is acknowledged already: an answer given up on would only be missed at the
        # task's deadline.
        self._until_delivered(lambda: self._answer_task(task, outcome, fields), float(task["deadlineMs"]), self._listeners_stop)

    def _run_task(self, task: dict[str, Any], handler: TaskHandler) -> None:
        context = TaskContext(lambda fraction: self._answer_task(task, "progress", {"progress": min(1.0, max(0.0, float(fraction)))}))
        # As the TypeScript SDK: a result that cannot be sent (not JSON, refused by the broker) is answered as a
        # failure; one still unsent when the deadline passes or the agent closes is not (the task did not fail).
        fields: dict[str, Any] = {}
        try:
            self._answer_task_until_delivered(task, "succeeded", {"result": handler(task, context)})
            outcome = "succeeded"
        except BrokerUnavailableError as error:
            self._emit({"type": "task-answer-failed", "taskId": task["taskId"], "attempt": task["attempt"], "error": str(error)})
            return
        except TaskDeclined as declined:
            outcome = "declined"
            fields = {"reason": declined.reason}
        except Exception as error:  # noqa: BLE001 - a failed task is reported to the manager, not raised
            outcome = "failed"
            fields = {"reason": str(error)}
        if outcome != "succeeded":
            try:
                self._answer_task_until_delivered(task, outcome, fields)
            except Exception as error:  # noqa: BLE001 - the attempt times out on the manager's side
                self._emit({"type": "task-answer-failed", "taskId": task["taskId"], "attempt": task["attempt"], "error": str(error)})
                return
        self._emit({"type": "task-answered", "taskId": task["taskId"], "attempt": task["attempt"], "outcome": outcome})

    # ------------------------------------------------------------ votes

    def on_proposal(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Calls handler with every proposal of the swarm as its voting opens (the control topic, from the earliest
        message), on a daemon thread until close(); the handler may vote() at once."""
        if self.record is None:
            raise RuntimeError("register() first")
        if self._proposals_listening:
            raise RuntimeError("on_proposal() is already listening")
        self._proposals_listening = True

        def on_message(proposal: dict[str, Any]) -> None:
            if not isinstance(proposal.get("options"), list):
                return
            if isinstance(proposal.get("closesAt"), (int, float)):
                with self._tasks_lock:
                    decision_id = str(proposal["decisionId"])
                    remember(self._closes_at, decision_id, max(int(proposal["closesAt"]), self._closes_at.get(decision_id, 0)), 1000)
            handler(proposal)

        control = swarm_topic(self.record["swarmId"], "control")
        self._listen(control, f"agent-{self.agent_id}-proposals", "earliest", {"decision-proposal": on_message})

    def vote(self, decision_id: str, choice: Choice, via: str = "messaging", until_ms: float | None = None) -> dict[str, Any]:
        """Casts a ballot signed with the agent's registration key and returns it.

        via="messaging" (default) publishes it on the decision's ballot topic; through a broker outage it
        is sent again until it goes, voting closes (until_ms, ms since the epoch: by default the closesAt
        of the proposal as this agent received it, else VOTE_RETRY_S from now), a later vote on the
        decision replaces it, or close(); then the last BrokerUnavailableError is raised. via="api" posts
        it to /api/v1/decisions/{id}/votes, which answers a refusal (forged, ineligible, late, duplicate)
        at once as an ApiError. A later vote on the same decision replaces the earlier one where the
        decision allows vote changes (castAt, ms since the epoch, always grows).
        """
        if self.credential is None or self.record is None:
            raise RuntimeError("register() first")
        if via not in ("messaging", "api"):
            raise ValueError(f'via must be "messaging" or "api", not "{via}"')
        with self._tasks_lock:
            cast_at = max(int(time.time() * 1000), self._cast_at.get(decision_id, 0) + 1)
            self._cast_at[decision_id] = cast_at
            closes_at = self._closes_at.get(decision_id)
        ballot = sign_ballot(self.private_key, decision_id, self.agent_id, choice, cast_at)
        if via == "api":
            self.api.call(
                "POST",
                f"/api/v1/decisions/{quote(decision_id, safe='')}/votes",
                {"choice": choice, "castAt": cast_at, "signature": ballot["signature"]},
                token=self.credential,
                retries=0,
            )
            return ballot
        topic = swarm_topic(self.record["swarmId"], f"decision-{decision_id}")
        payload = js_json(ballot).encode("utf-8")
        if until_ms is None:
            until_ms = closes_at if closes_at is not None else time.time() * 1000 + VOTE_RETRY_S * 1000

        def send() -> None:
            # A ballot carries its own signature (over castAt, not a time window): the same one goes again.
            if self._cast_at.get(decision_id) != cast_at:
                return  # a later vote on this decision replaces this ballot: it need not arrive
            with self._publish_lock:
                self._broker().publish(topic, payload, properties={"type": "ballot"}, key=self.agent_id)

        self._until_delivered(send, until_ms, self._closing)
        return ballot

    # ------------------------------------------------------------ behaviors and skills

    def report_behavior(
        self,
        episode_id: str,
        descriptor: list[float],
        fitness: float,
        context: dict[str, Any] | None = None,
        timestamp: int | None = None,
        via: str = "messaging",
    ) -> dict[str, str]:
        """Reports what the agent did in an episode, as the TypeScript SDK's reportBehavior(); returns its behaviorId.

        via="messaging" (default) publishes it signed on the swarm's behaviors topic, which the behavior
        sweep drains; via="api" posts it to /api/v1/behaviors/reports with the credential, which answers a
        bad report (wrong field, not finite) at once as an ApiError. The descriptor's length is the
        swarm's dimension (QP_BEHAVIOR_DIMENSION); fitness is higher-is-better; timestamp is ms since the epoch.
        """
        if self.credential is None or self.record is None:
            raise RuntimeError("register() first")
        report: dict[str, Any] = {"episodeId": episode_id, "descriptor": [float(value) for value in descriptor], "fitness": float(fitness)}
        if context is not None:
            report["context"] = context
        if via == "api":
            if timestamp is not None:
                report["timestamp"] = int(timestamp)
            return self.api.call("POST", "/api/v1/behaviors/reports", report, token=self.credential)
        if via != "messaging":
            raise ValueError(f'via must be "messaging" or "api", not "{via}"')
        swarm_id = self.record["swarmId"]
        message = {"type": "behavior", "agentId": self.agent_id, "swarmId": swarm_id, **report, "timestamp": int(timestamp if timestamp is not None else time.time() * 1000)}
        self.publish_signed(swarm_topic(swarm_id, "behaviors"), js_json(message).encode("utf-8"))
        return {"behaviorId": f"{self.agent_id}:{episode_id}"}

    def on_skill(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Calls handler with every strategy the swarm's behavior sweeps disseminate as a skill (the broadcast
        topic, those published before the call included), on a daemon thread until close(), as the
        TypeScript SDK's onSkill(). A skill carries skillId, descriptor (the strategy's centroid: what an
        agent adopting it aims for), meanFitness, size, agentCount and representativeBehaviorId."""
        if self.record is None:
            raise RuntimeError("register() first")
        if self._skills_listening:
            raise RuntimeError("on_skill() is already listening")
        self._skills_listening = True

        def on_message(skill: dict[str, Any]) -> None:
            if isinstance(skill.get("descriptor"), list):
                handler(skill)

        broadcast = swarm_topic(self.record["swarmId"], "broadcast")
        self._listen(broadcast, f"agent-{self.agent_id}-skills", "earliest", {"skill": on_message})

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
            if self.session_file is not None and os.path.exists(self.session_file):
                os.unlink(self.session_file)  # the session is over: nothing to resume
        self.close()

    def close(self) -> None:
        """Stops heartbeats and rounds and closes the broker connections, leaving the registration as it is."""
        self._closing.set()
        self.stop_heartbeats()
        self._rounds_stop.set()
        thread, self._rounds_thread = self._rounds_thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._rounds_lock:
            trainings = list(self._trainings)
            for _, _, abandon in self._current_rounds.values():
                abandon.set()
        for training in trainings:
            if training is not threading.current_thread():
                training.join()
        self._listeners_stop.set()
        listeners, self._listeners = self._listeners, []
        for consumer, listener in listeners:
            if listener is not threading.current_thread():
                listener.join()
            consumer.close()
        self._tasks_listening = self._proposals_listening = self._skills_listening = False
        if self._rounds is not None:
            self._rounds.close()
            self._rounds = None
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None
        if self._messaging is not None:
            self._messaging.close()
            self._messaging = None
