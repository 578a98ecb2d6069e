"""A Python agent driven by the test/python-sdk-tasks*-pulsar.test.ts suites: one JSON line per step on stdout.

Registers (challenge from its Pulsar inbox) with QP_CAPABILITIES and QP_RESOURCES (JSON), heartbeats
signed over messaging, runs delegated tasks (kind "fail" raises, kind "decline" declines, any other
kind answers {ranOn, input, lang}) and bids on Contract Net announcements from its profile; with
QP_VOTE (JSON: voting system -> choice) it votes on every proposal of those systems, via QP_VOTE_VIA.
With QP_HOLD_FIRST=1 the first task it runs waits for a "release" line on stdin; with QP_BALLOT_OUTAGE=N
its first N publications on ballot topics fail as with the broker unreachable. Deregisters on a
"deregister" line (or when stdin closes).
"""

import json
import os
import sys
import threading

from qp_agent import BrokerUnavailableError, PulsarWebSocket, QpAgent, TaskContext


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


agent = QpAgent(
    api_url=os.environ["QP_API_URL"],
    pulsar_url=os.environ["QP_PULSAR_URL"],
    pulsar_tenant=os.environ["QP_PULSAR_TENANT"],
    agent_id=os.environ["QP_AGENT_ID"],
    swarm_id=os.environ["QP_SWARM_ID"],
    capabilities=json.loads(os.environ.get("QP_CAPABILITIES", '["echo"]')),
    resources=json.loads(os.environ.get("QP_RESOURCES", '{"cpu": 1, "memoryMb": 512}')),
    handshake_timeout_s=30,
    on_event=lambda event: say("sdk", detail=event) if event["type"] != "registered" else None,
)


ballot_outage = int(os.environ.get("QP_BALLOT_OUTAGE", "0"))
if ballot_outage > 0:
    publish = PulsarWebSocket.publish
    refused: list[str] = []

    def publish_through_outage(self: PulsarWebSocket, topic: str, payload: bytes, properties: dict | None = None, key: str | None = None) -> str:
        if "/decision-" in topic and len(refused) < ballot_outage:
            refused.append(topic)
            say("outage", topic=topic, refused=len(refused))
            raise BrokerUnavailableError(f"the broker is unreachable (simulated, {len(refused)} of {ballot_outage})")
        return publish(self, topic, payload, properties, key)

    PulsarWebSocket.publish = publish_through_outage  # type: ignore[method-assign]

released = threading.Event()
held: list[str] = []


def run(task: dict, context: TaskContext) -> object:
    say("task", taskId=task["taskId"], attempt=task["attempt"], kind=task["kind"])
    if os.environ.get("QP_HOLD_FIRST") == "1" and not held:
        held.append(task["taskId"])
        released.wait()
    if task["kind"] == "fail":
        raise RuntimeError(f"cannot run {task['taskId']}")
    if task["kind"] == "decline":
        context.decline("not my kind of task")
    context.progress(0.5)
    return {"ranOn": agent.agent_id, "input": task["input"], "lang": "python"}


record = agent.register()
say("registered", status=record["status"], swarmId=record["swarmId"])
agent.start_heartbeats(interval_s=1.0, via="messaging")
agent.on_task(run)
if "QP_VOTE" in os.environ:
    choices = json.loads(os.environ["QP_VOTE"])

    def on_proposal(proposal: dict) -> None:
        if proposal["system"] not in choices:
            return
        ballot = agent.vote(proposal["decisionId"], choices[proposal["system"]], via=os.environ.get("QP_VOTE_VIA", "messaging"))
        say("voted", decisionId=proposal["decisionId"], castAt=ballot["castAt"])

    agent.on_proposal(on_proposal)
say("listening")
for line in sys.stdin:
    if line.strip() == "release":
        released.set()
    elif line.strip() == "deregister":
        break
released.set()
agent.deregister()
say("deregistered")
