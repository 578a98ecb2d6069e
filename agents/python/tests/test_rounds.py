"""Plain federated rounds: the update's bytes and properties as core/tuning.ts writes them, and the round logic."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qp_agent import QpAgent, RoundTask, Update, bytes_to_params, params_to_bytes
from qp_agent.errors import BrokerUnavailableError
from qp_agent.pulsar import Message
from qp_agent.rounds import js_number, update_properties

VECTORS_FILE = Path(
    os.environ.get("QP_PROOF_VECTORS", Path(__file__).resolve().parents[3] / "test" / "fixtures" / "agent-proof-vectors.json")
)
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def update_of(header: dict[str, Any], params: np.ndarray) -> Update:
    return Update(
        params=params,
        examples=header["examples"],
        loss=header.get("trainLoss"),
        loss_squared=header.get("trainLossSquared"),
        accuracy=header.get("trainAccuracy"),
        eval_loss=header.get("evalLoss"),
        eval_accuracy=header.get("evalAccuracy"),
        eval_examples=header.get("evalExamples"),
        steps_completed=header.get("stepsCompleted"),
        steps_planned=header.get("stepsPlanned"),
    )


@pytest.mark.parametrize("vector", VECTORS["updates"], ids=lambda v: f"round-{v['header']['round']}")
def test_update_header_and_payload_match_the_typescript_encoding(vector: dict) -> None:
    header = vector["header"]
    params = np.array(vector["params"], dtype=np.float32)
    properties = update_properties(header["jobId"], header["round"], header["attempt"], header["agentId"], update_of(header, params))
    assert properties == vector["properties"]
    assert params_to_bytes(params) == base64.b64decode(vector["payloadBase64"])
    assert np.array_equal(bytes_to_params(base64.b64decode(vector["payloadBase64"])), params)


def test_js_number_spells_numbers_as_javascript() -> None:
    cases = {1: "1", 1200.0: "1200", 1e-7: "1e-7", 1.5e-7: "1.5e-7", 1e-5: "0.00001", 1e20: "100000000000000000000", 1e21: "1e+21", -0.25: "-0.25"}
    for value, text in cases.items():
        assert js_number(value) == text
    with pytest.raises(ValueError):
        js_number(float("nan"))


class Recorder(QpAgent):
    """An agent whose signed publications are recorded instead of sent."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        super().__init__("http://127.0.0.1:1", "py-1", on_event=self.events.append)
        self.credential, self.record = "qpc1.x.y", {"agentId": "py-1", "swarmId": "s1"}
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    def close(self) -> None:
        """Waits for the rounds under way; there is no broker to close."""
        with self._rounds_lock:
            trainings = list(self._trainings)
        for training in trainings:
            training.join()

    def publish_signed(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str:
        self.published.append((topic, payload, dict(properties or {})))
        return "1:0:-1:0"


def start(round_: int = 1, **extra: Any) -> dict[str, Any]:
    global_params = np.array([0.0, 1.0, 2.0], dtype=np.float32)
    return {
        "type": "round-start",
        "agentId": "py-1",
        "jobId": "j1",
        "round": round_,
        "attempt": 1,
        "globalDigest": "d",
        "globalParams": base64.b64encode(params_to_bytes(global_params)).decode(),
        "training": {"learningRate": 0.5, "epochs": 1, "batchSize": 32},
        "deadlineAt": 0,
        "updatesTopic": "swarm/s1/updates-j1",
        **extra,
    }


def step_toward_target(global_params: np.ndarray, task: RoundTask) -> Update:
    target = np.full_like(global_params, 4.0)
    params = global_params + task.training["learningRate"] * (target - global_params)
    return Update(params=params, examples=10, loss=float(np.mean((global_params - target) ** 2)), steps_completed=1, steps_planned=1)


def test_a_round_trains_on_the_global_model_and_publishes_a_signed_update_once() -> None:
    agent = Recorder()
    agent._on_round_start(start(), step_toward_target)
    agent._on_round_start(start(), step_toward_target)  # delivered twice: trained once
    agent.close()
    assert len(agent.published) == 1
    topic, payload, properties = agent.published[0]
    assert topic == "swarm/s1/updates-j1"
    assert np.array_equal(bytes_to_params(payload), np.array([2.0, 2.5, 3.0], dtype=np.float32))
    assert properties == {
        "type": "update", "jobId": "j1", "round": "1", "attempt": "1", "agentId": "py-1", "examples": "10",
        "trainLoss": js_number(float(np.mean((np.array([0.0, 1.0, 2.0], dtype=np.float32) - 4.0) ** 2))), "stepsCompleted": "1", "stepsPlanned": "1",
    }
    assert agent.events == [{"type": "round-trained", "jobId": "j1", "round": 1, "attempt": 1}]


def test_an_evaluation_only_round_sends_the_scores_of_the_global_model_and_no_parameters() -> None:
    seen: list[RoundTask] = []

    def scoring(global_params: np.ndarray, task: RoundTask) -> Update:
        seen.append(task)
        steps = 0
        while not task.should_stop() and steps < task.steps_planned():
            steps += 1
        return Update(params=global_params + 1, examples=10, loss=0.25, steps_completed=steps, steps_planned=task.steps_planned(),
                      eval_loss=float(np.sum(global_params)), eval_accuracy=0.75, eval_examples=6)

    agent = Recorder()
    agent._train_round(start(round_=3, evaluate=True, evaluateOnly=True), scoring)
    assert seen[0].evaluate_only and seen[0].should_stop() and seen[0].budget == {"localSteps": 0}
    assert agent.published == [("swarm/s1/updates-j1", b"", {
        "type": "update", "jobId": "j1", "round": "3", "attempt": "1", "agentId": "py-1", "examples": "0",
        "evalLoss": "3", "evalAccuracy": "0.75", "evalExamples": "6", "evalOnly": "true",
    })]
    assert agent.events == [{"type": "round-evaluated", "jobId": "j1", "round": 3, "attempt": 1}]


def test_an_evaluation_only_round_the_trainer_did_not_score_sends_nothing() -> None:
    agent = Recorder()
    agent._train_round(start(evaluateOnly=True), step_toward_target)
    assert agent.published == [] and agent.events == []


def test_a_wrong_sized_update_is_not_sent() -> None:
    agent = Recorder()
    agent._train_round(start(), lambda g, t: Update(params=np.zeros(2, dtype=np.float32), examples=1))
    assert agent.published == []
    assert agent.events[0]["type"] == "round-failed" and "2 parameters" in agent.events[0]["error"]


def test_the_budget_defaults_from_the_training_settings() -> None:
    seen: list[RoundTask] = []
    agent = Recorder()
    agent._train_round(start(training={"learningRate": 0.1, "localSteps": 5, "batchSize": 8, "timeBudgetMs": 50}), lambda g, t: seen.append(t))
    assert seen[0].budget == {"localSteps": 5, "timeBudgetMs": 50}
    assert agent.published == []  # the trainer returned None: nothing to send


def stepping(step_s: float = 0.01):
    """Takes the budget's localSteps of step_s each unless told to stop; moves every parameter by +1 a step."""

    def train(global_params: np.ndarray, task: RoundTask) -> Update:
        planned, done = task.steps_planned(), 0
        while done < planned and not task.should_stop():
            time.sleep(step_s)
            done += 1
        return Update(params=global_params + done, examples=10, steps_completed=done, steps_planned=planned)

    return train


def test_a_time_budget_stops_the_trainer_and_the_update_reports_the_steps_done() -> None:
    agent = Recorder()
    agent._train_round(start(training={"learningRate": 0.1, "localSteps": 1000, "batchSize": 8}, budget={"localSteps": 1000, "timeBudgetMs": 150}), stepping())
    [(_, payload, properties)] = agent.published
    done = int(properties["stepsCompleted"])
    assert 0 < done < 1000 and properties["stepsPlanned"] == "1000"
    assert np.array_equal(bytes_to_params(payload), np.array([0.0, 1.0, 2.0], dtype=np.float32) + done)


def test_the_trainer_gets_this_agents_budget_not_the_jobs_settings() -> None:
    agent = Recorder()
    agent._train_round(start(training={"learningRate": 0.1, "localSteps": 40, "batchSize": 8}, budget={"localSteps": 5}), stepping(0))
    assert agent.published[0][2]["stepsCompleted"] == "5" and agent.published[0][2]["stepsPlanned"] == "5"


def test_a_later_round_of_the_job_supersedes_the_one_still_training() -> None:
    agent = Recorder()
    started = threading.Event()

    def slow_then_quick(global_params: np.ndarray, task: RoundTask) -> Update:
        if task.round == 1:
            started.set()
            while not task.should_stop():
                time.sleep(0.005)
        return Update(params=global_params, examples=1)

    agent._on_round_start(start(1), slow_then_quick)
    assert started.wait(5)
    agent._on_round_start(start(2), slow_then_quick)
    agent.close()
    assert [p[2]["round"] for p in agent.published] == ["2"]
    assert {"type": "round-abandoned", "jobId": "j1", "round": 1, "attempt": 1} in agent.events


def test_an_async_job_trains_on_the_newest_version_and_skips_those_superseded_meanwhile() -> None:
    agent = Recorder()
    release, training = threading.Event(), threading.Event()
    trained: list[int] = []

    def train(global_params: np.ndarray, task: RoundTask) -> Update:
        trained.append(task.round)
        if task.round == 0:
            training.set()
            release.wait(5)  # versions 1 and 2 arrive while version 0 trains
        return Update(params=global_params + task.round, examples=4)

    agent._on_round_start(start(0, mode="async", attempt=0), train)
    assert training.wait(5)
    agent._on_round_start(start(1, mode="async", attempt=0), train)
    agent._on_round_start(start(2, mode="async", attempt=0), train)
    agent._on_round_start(start(1, mode="async", attempt=0), train)  # redelivered: nothing new
    release.set()
    agent.close()
    assert trained == [0, 2]
    assert [(p[2]["round"], p[2]["attempt"]) for p in agent.published] == [("0", "0"), ("2", "0")]
    assert np.array_equal(bytes_to_params(agent.published[1][1]), np.array([2.0, 3.0, 4.0], dtype=np.float32))


def test_an_async_training_that_falls_more_than_max_staleness_behind_is_abandoned_and_the_newest_trained_at_once() -> None:
    agent = Recorder()
    tasks: dict[int, RoundTask] = {}
    training = threading.Event()

    def train(global_params: np.ndarray, task: RoundTask) -> Update:
        tasks[task.round] = task
        if task.round == 0:
            training.set()
            deadline = time.monotonic() + 10
            while not task.should_stop() and time.monotonic() < deadline:  # a long local training
                time.sleep(0.005)
        return Update(params=global_params + task.round, examples=4)

    agent._on_round_start(start(0, mode="async", attempt=0, maxStaleness=1), train)
    assert training.wait(5)
    agent._on_round_start(start(1, mode="async", attempt=0, maxStaleness=1), train)
    assert not tasks[0].should_stop()  # one version behind: its update would still count
    agent._on_round_start(start(2, mode="async", attempt=0, maxStaleness=1), train)
    assert tasks[0].should_stop()  # two behind: the manager would refuse it as stale
    agent.close()
    assert sorted(tasks) == [0, 2]
    assert [(p[2]["round"], p[2]["attempt"]) for p in agent.published] == [("2", "0")]
    assert np.array_equal(bytes_to_params(agent.published[0][1]), np.array([2.0, 3.0, 4.0], dtype=np.float32))
    assert {"type": "round-abandoned", "jobId": "j1", "round": 0, "attempt": 0} in agent.events


def test_a_malformed_round_start_is_reported_and_the_next_one_still_trains() -> None:
    agent = Recorder()
    broken = start(1)
    del broken["jobId"]

    class Inbox:
        def __init__(self) -> None:
            self.messages = [json.dumps(broken).encode(), json.dumps(start(2)).encode()]

        def receive(self, timeout_s: float):
            if not self.messages:
                agent._rounds_stop.wait(timeout_s)
                return None
            return Message(payload=self.messages.pop(0), message_id=f"m{len(self.messages)}", properties={"type": "round-start"})

        def ack(self, message) -> None:
            pass

    agent._broker = lambda: type("Broker", (), {"subscribe": lambda self, *a, **k: Inbox()})()  # type: ignore[method-assign]
    agent.participate(step_toward_target)
    deadline = time.monotonic() + 5
    while not agent.published and time.monotonic() < deadline:
        time.sleep(0.01)
    agent._rounds_stop.set()
    agent.close()
    assert [p[2]["round"] for p in agent.published] == ["2"]
    assert agent.events[0]["type"] == "round-failed" and "jobId" in agent.events[0]["error"]


class StageMachine:
    """Stands in for SecAggAgent: one recognisable message per stage."""

    def __init__(self, config: dict[str, Any], agent_id: str, weight: float | None = None) -> None:
        self.agent_id = agent_id

    def advertise_keys(self) -> dict[str, Any]:
        return {"type": "advertiseKeys", "from": self.agent_id}

    def share_keys(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"type": "shareKeys", "answers": request["type"]}

    def masked_input(self, request: dict[str, Any], update: np.ndarray, weight: float | None = None) -> dict[str, Any]:
        return {"type": "maskedInput", "answers": request["type"]}

    def unmask(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"type": "unmask", "answers": request["type"]}


class FlakyRecorder(Recorder):
    """A recorder whose broker fails each message's first `failures` publications (every one with failures=None)."""

    def __init__(self, failures: int | None) -> None:
        super().__init__()
        self.failures, self.failed, self.attempts = failures, 0, 0

    def publish_signed(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str:
        self.attempts += 1
        if self.failures is None or self.failed < self.failures:
            self.failed += 1
            raise BrokerUnavailableError("the broker is unreachable")
        self.failed = 0
        return super().publish_signed(topic, payload, properties, key)


def secure_start(stage_timeout_ms: int) -> dict[str, Any]:
    return start(secureAggregation={"config": {"roundId": "r1"}, "stageTimeoutMs": stage_timeout_ms}, deadlineAt=int(time.time() * 1000) + stage_timeout_ms)


def test_each_secure_aggregation_stage_message_is_sent_again_through_a_broker_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qp_agent.agent.SecAggAgent", StageMachine)
    agent = FlakyRecorder(failures=2)
    for kind in ("shareKeysRequest", "maskedInputRequest", "unmaskRequest"):
        agent._deliver_secagg({"type": kind, "roundId": "r1"})
    global_params = np.zeros(3, dtype=np.float32)
    agent._secure_round(secure_start(120_000), global_params, global_params + 1, 10)
    sent = [json.loads(payload) for _, payload, _ in agent.published]
    assert [body["type"] for body in sent] == ["advertiseKeys", "shareKeys", "maskedInput", "unmask"]
    assert [body.get("answers") for body in sent[1:]] == ["shareKeysRequest", "maskedInputRequest", "unmaskRequest"]
    assert agent.attempts == 12  # two failures before each of the four
    assert all(properties["type"] == "secagg" for _, _, properties in agent.published)


def test_a_stage_message_still_unsent_when_the_stage_ends_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qp_agent.agent.SecAggAgent", StageMachine)
    agent = FlakyRecorder(failures=None)
    global_params = np.zeros(3, dtype=np.float32)
    with pytest.raises(BrokerUnavailableError):
        agent._secure_round(secure_start(500), global_params, global_params + 1, 10)
    assert agent.attempts >= 2 and agent.published == []
