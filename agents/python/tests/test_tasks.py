"""Contract Net bids and task messages against the vectors the TypeScript functions produced."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

from qp_agent import QpAgent, TaskBid, TaskContext, TaskDeclined, bid_message, own_bid, outcome_message, private_key_from_seed, sign_as_agent
from qp_agent.errors import BrokerUnavailableError
from qp_agent.jsjson import js_json

VECTORS_FILE = Path(
    os.environ.get("QP_PROOF_VECTORS", Path(__file__).resolve().parents[3] / "test" / "fixtures" / "agent-proof-vectors.json")
)
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
KEY = private_key_from_seed(bytes.fromhex(VECTORS["seedHex"]))
TASKS = VECTORS["tasks"]


@pytest.mark.parametrize("vector", TASKS["bids"], ids=lambda v: v["announcement"]["taskId"])
def test_profile_bid_is_the_typescript_bid_to_the_bit(vector: dict) -> None:
    announcement = vector["announcement"]
    bid = own_bid(announcement, vector["agentId"], vector["capabilities"], vector.get("resources"), vector["nowMs"])
    if vector["bid"] is None:
        assert bid is None
        return
    assert bid is not None
    message = bid_message(announcement, vector["agentId"], bid)
    assert message == vector["bid"]  # float equality: the same doubles, not merely close ones


def test_the_vectors_cover_a_deferred_start_and_every_reason_for_no_bid() -> None:
    by_id = {v["announcement"]["taskId"]: v for v in TASKS["bids"]}
    deferred = by_id["t-deferrable"]
    run_ms = deferred["announcement"]["estimatedWork"] / deferred["resources"]["energy"]["speed"] * 1000
    assert deferred["bid"]["finishAtMs"] - run_ms > deferred["nowMs"]  # it waits for the greener window
    assert [by_id[t]["bid"] for t in ("t-nocap", "t-memory", "t-gpu", "t-budget")] == [None] * 4


@pytest.mark.parametrize("vector", TASKS["signed"], ids=lambda v: f"{v['sentAt']}")
def test_task_messages_are_the_typescript_bytes_and_proofs(vector: dict) -> None:
    payload = base64.b64decode(vector["payloadBase64"])
    body = json.loads(payload)
    if body["type"] == "task-bid":
        rebuilt = bid_message(body, body["agentId"], TaskBid(body["finishAtMs"], body["energyWh"], body["carbonG"]))
    else:
        fields = {name: body[name] for name in ("result", "reason", "progress") if name in body}
        rebuilt = outcome_message(body, body["agentId"], body["outcome"], **fields)
    written = js_json(rebuilt).encode("utf-8")
    assert written == payload
    signed = sign_as_agent(KEY, body["agentId"], vector["topic"], {"type": body["type"]}, written, vector["sentAt"])
    assert signed == vector["signed"]


def test_js_json_spells_numbers_as_javascript_does() -> None:
    assert js_json({"a": 5.0, "b": 0.1 + 0.2, "c": 1e-7, "d": 1e21, "e": float("nan"), "f": [True, None, "é"]}) == (
        '{"a":5,"b":0.30000000000000004,"c":1e-7,"d":1e+21,"e":null,"f":[true,null,"é"]}'
    )


def test_decline_raises_and_progress_reports() -> None:
    reported: list[float] = []
    context = TaskContext(reported.append)
    context.progress(0.5)
    with pytest.raises(TaskDeclined) as declined:
        context.decline("busy")
    assert declined.value.reason == "busy" and reported == [0.5]
    with pytest.raises(ValueError):
        outcome_message({"taskId": "t", "attempt": 1}, "a", "finished")


class Recorder(QpAgent):
    """An agent whose signed publications are recorded instead of sent."""

    def __init__(self, resources: dict | None = None) -> None:
        super().__init__("http://127.0.0.1:1", "py-1", capabilities=["echo"])
        self.credential = "qpc1.x.y"
        self.record = {"agentId": "py-1", "swarmId": "s1", "capabilities": ["echo"], "resources": resources or {"cpu": 1, "memoryMb": 1024}}
        self.published: list[tuple[str, dict, dict[str, str], str | None]] = []

    def publish_signed(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str:
        self.published.append((topic, json.loads(payload), dict(properties or {}), key))
        return "1:0:-1:0"


TASK = {"type": "task", "taskId": "t1", "attempt": 2, "swarmId": "s1", "kind": "echo", "input": {"n": 7}, "deadlineMs": 1, "replyTopic": "swarm/s1/task-results"}


def outcomes(agent: Recorder) -> list[dict]:
    return [{k: v for k, v in body.items() if k not in ("type", "taskId", "attempt", "agentId")} for _, body, _, _ in agent.published]


def test_a_task_answers_progress_then_its_result_signed_on_the_reply_topic() -> None:
    agent = Recorder()

    def handler(task: dict, context: TaskContext) -> object:
        context.progress(1.5)  # clamped to 1
        return {"echo": task["input"]}

    agent._run_task(TASK, handler)
    assert outcomes(agent) == [{"outcome": "progress", "progress": 1.0}, {"outcome": "succeeded", "result": {"echo": {"n": 7}}}]
    topic, body, properties, key = agent.published[-1]
    assert (topic, key, properties) == ("swarm/s1/task-results", "t1", {"type": "task-outcome"})  # publish_signed adds the proof
    assert (body["taskId"], body["attempt"], body["agentId"]) == ("t1", 2, "py-1")


def test_a_raising_handler_fails_and_a_declining_one_declines() -> None:
    agent = Recorder()

    def failing(task: dict, context: TaskContext) -> object:
        raise RuntimeError("out of memory")

    def declining(task: dict, context: TaskContext) -> object:
        context.decline("busy")

    agent._run_task(TASK, failing)
    agent._run_task(TASK, declining)
    assert outcomes(agent) == [{"outcome": "failed", "reason": "out of memory"}, {"outcome": "declined", "reason": "busy"}]


def test_bids_come_from_the_registered_profile_or_the_bidder() -> None:
    agent = Recorder({"cpu": 2, "memoryMb": 1024, "energy": {"carbonGPerKWh": 20, "busyWatts": 100, "speed": 2}})
    announcement = {**TASKS["bids"][0]["announcement"], "taskId": "t2", "estimatedWork": 60}
    agent._bid(announcement, None)
    _, bid, properties, _ = agent.published[-1]
    assert properties["type"] == "task-bid"
    assert (bid["energyWh"], bid["carbonG"]) == (100 * 30 / 3600, (100 * 30 / 3600 / 1000) * 20)
    agent._bid(announcement, lambda _announcement, own: None)  # no bid
    agent._bid(announcement, lambda _announcement, own: TaskBid(own().finish_at_ms + 5, 1.0, 2.0))
    assert len(agent.published) == 2
    custom = agent.published[-1][1]
    assert custom["finishAtMs"] >= bid["finishAtMs"] + 5 and (custom["energyWh"], custom["carbonG"]) == (1.0, 2.0)
    agent._bid({**announcement, "requirements": {"capabilities": ["gpu-train"]}}, None)  # cannot run it: no bid
    assert len(agent.published) == 2


def test_a_result_that_is_not_json_is_answered_as_a_failure() -> None:
    agent = Recorder()
    agent._run_task(TASK, lambda task, context: {"when": object()})
    assert [o["outcome"] for o in outcomes(agent)] == ["failed"]
    assert "not JSON" in outcomes(agent)[0]["reason"]


class Outage(Recorder):
    """A recorder whose first `failures` publications fail as with the broker unreachable."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def publish_signed(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise BrokerUnavailableError("the broker is unreachable")
        return super().publish_signed(topic, payload, properties, key)


def test_an_answer_is_sent_again_through_a_broker_outage_and_stays_a_success() -> None:
    agent = Outage(failures=3)
    agent._run_task({**TASK, "deadlineMs": time.time() * 1000 + 60_000}, lambda task, context: {"n": 14})
    assert outcomes(agent) == [{"outcome": "succeeded", "result": {"n": 14}}]


def test_an_answer_still_unsent_at_the_deadline_is_not_reported_as_a_failure() -> None:
    agent = Outage(failures=1)
    agent._run_task(TASK, lambda task, context: {"n": 14})  # deadlineMs 1: long past
    assert outcomes(agent) == []


class Listening(Recorder):
    """A recorder whose inbox listeners are kept (by subscription) to be fed by hand, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict] = []
        self.on_event = self.events.append
        self.listeners: dict[str, dict] = {}

    def _listen(self, topic: str, subscription: str, initial_position: str, handlers: dict) -> None:
        self.listeners["withdrawals" if subscription.endswith("-task-withdrawals") else "tasks"] = handlers


def task(task_id: str, attempt: int = 1, **extra: object) -> dict:
    return {**TASK, "taskId": task_id, "attempt": attempt, "deadlineMs": time.time() * 1000 + 60_000, **extra}


def test_a_withdrawn_attempt_is_skipped_and_the_next_task_runs() -> None:
    agent = Listening()
    ran: list[str] = []
    agent.on_task(lambda t, context: ran.append(t["taskId"]) or "done")
    # The withdrawal is read on its own subscription, before the queued task it names is taken up.
    agent.listeners["withdrawals"]["task-withdrawn"]({"type": "task-withdrawn", "taskId": "queued", "attempt": 1, "reason": "moved"})
    agent.listeners["tasks"]["task"](task("queued", 1))
    agent.listeners["tasks"]["task"](task("queued", 2))  # the same task's next attempt is another matter
    agent.listeners["tasks"]["task"](task("later", 1))
    assert ran == ["queued", "later"]
    assert [(b["taskId"], b["attempt"], b["outcome"]) for _, b, _, _ in agent.published] == [("queued", 2, "succeeded"), ("later", 1, "succeeded")]
    assert {"type": "task-skipped", "taskId": "queued", "attempt": 1, "reason": "withdrawn"} in agent.events


def test_an_attempt_sent_again_is_answered_again_without_running_the_task_again() -> None:
    agent = Listening()
    runs: list[str] = []

    def handler(t: dict, context: TaskContext) -> object:
        runs.append(t["taskId"])
        context.progress(0.5)
        if t["kind"] == "fail":
            raise RuntimeError("no disk")
        return {"doubled": t["input"]["n"] * 2}

    agent.on_task(handler)
    for attempt in (task("again", input={"n": 21}), task("again", input={"n": 21}), task("broken", kind="fail"), task("broken", kind="fail")):
        agent.listeners["tasks"]["task"](attempt)
    assert runs == ["again", "broken"]
    answers = [(b["taskId"], b["outcome"], b.get("result"), b.get("reason")) for _, b, _, _ in agent.published]
    # Progress is reported by the run only; the final answer is sent once per delivery of the attempt.
    assert answers == [
        ("again", "progress", None, None),
        ("again", "succeeded", {"doubled": 42}, None),
        ("again", "succeeded", {"doubled": 42}, None),
        ("broken", "progress", None, None),
        ("broken", "failed", None, "no disk"),
        ("broken", "failed", None, "no disk"),
    ]
    assert sum(1 for e in agent.events if e["type"] == "task-answered-again") == 2


def test_an_attempt_sent_again_is_answered_through_a_broker_outage() -> None:
    agent = Listening()
    agent.on_task(lambda t, context: {"n": 1})
    agent.listeners["tasks"]["task"](task("t-out"))
    published = agent.publish_signed
    failures = [3]

    def flaky(topic: str, payload: bytes, properties: dict | None = None, key: str | None = None) -> str:
        if failures[0] > 0:
            failures[0] -= 1
            raise BrokerUnavailableError("the broker is unreachable")
        return published(topic, payload, properties, key)

    agent.publish_signed = flaky  # type: ignore[method-assign]
    agent.listeners["tasks"]["task"](task("t-out"))
    assert [b["outcome"] for _, b, _, _ in agent.published] == ["succeeded", "succeeded"]
    assert failures == [0]
