"""A Python agent driven by test/python-sdk-pulsar.test.ts: one JSON line per step on stdout.

Registers (challenge from its Pulsar inbox), heartbeats signed over messaging only, takes part
in federated rounds (plain, secure aggregation, local DP, as the job asks) with a numpy training
step when QP_PARTICIPATE=1, and deregisters when a line arrives on stdin (a "signed-heartbeat" line
publishes one heartbeat over messaging first). With QP_SESSION_FILE it
saves its session there and, restarted, resumes it instead of registering anew. QP_PULSAR_TRANSPORT=native
reads and publishes through the official client (QP_PULSAR_URL then is the broker's pulsar:// URL). With
QP_DROP_AFTER_SHARES=1 it exits right after sending its secure-aggregation shares.
"""

import base64
import hashlib
import json
import os
import sys
import time

import numpy as np

from qp_agent import QpAgent, RoundTask, Update, params_to_bytes


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def train(global_params: np.ndarray, task: RoundTask) -> Update:
    """One gradient step on 0.5 * ||w - target||^2: w + learningRate * (target - w), in float32.

    The target is QP_TARGET_SCALE (default 1) times the evenly spaced points of [-1, 1].
    """
    target = np.float32(os.environ.get("QP_TARGET_SCALE", "1")) * np.linspace(-1.0, 1.0, global_params.size, dtype=np.float32)
    rate = np.float32(task.training["learningRate"])
    params = (global_params + rate * (target - global_params)).astype(np.float32)
    say(
        "trained",
        round=task.round,
        attempt=task.attempt,
        global_params=base64.b64encode(params_to_bytes(global_params)).decode(),
        params=base64.b64encode(params_to_bytes(params)).decode(),
    )
    loss = float(0.5 * np.sum((global_params - target) ** 2))
    return Update(params=params, examples=int(os.environ.get("QP_EXAMPLES", "25")), loss=loss, steps_completed=1, steps_planned=1)


def stepping(global_params: np.ndarray, task: RoundTask) -> Update:
    """The budget's steps of 20 ms each until task.should_stop(); moves every parameter by +1 a step."""
    planned, done = task.steps_planned(), 0
    while done < planned and not task.should_stop():
        time.sleep(0.02)
        done += 1
    say("trained", round=task.round, attempt=task.attempt, budget=task.budget, steps=done)
    return Update(params=global_params + done, examples=10, steps_completed=done, steps_planned=planned)


TRAINERS = {"step": train, "stepping": stepping}

agent = QpAgent(
    api_url=os.environ["QP_API_URL"],
    pulsar_url=os.environ["QP_PULSAR_URL"],
    pulsar_tenant=os.environ["QP_PULSAR_TENANT"],
    pulsar_transport=os.environ.get("QP_PULSAR_TRANSPORT", "websocket"),
    agent_id=os.environ["QP_AGENT_ID"],
    swarm_id=os.environ["QP_SWARM_ID"],
    capabilities=["train"],
    resources={"cpu": float(os.environ.get("QP_CPU", "1")), "memoryMb": 512},
    handshake_timeout_s=30,
    on_event=lambda event: say("sdk", detail=event) if event["type"] != "registered" else None,
    session_file=os.environ.get("QP_SESSION_FILE"),
)
if os.environ.get("QP_DROP_AFTER_SHARES") == "1":
    # A crash in the middle of secure aggregation: the process dies right after its encrypted shares went out.
    publish_signed = agent.publish_signed

    def publish_then_drop(topic, payload, properties=None, key=None):
        sent = publish_signed(topic, payload, properties, key)
        if properties and properties.get("type") == "secagg" and json.loads(payload).get("type") == "encryptedShares":
            say("dropped")
            os._exit(3)
        return sent

    agent.publish_signed = publish_then_drop

record = None
if agent.session_file:
    try:
        # A restarted process resumes the session its predecessor saved.
        record = agent.resume()
        say("resumed", status=record["status"], swarmId=record["swarmId"], credential=bool(agent.credential))
    except FileNotFoundError:
        pass
if record is None:
    record = agent.register()
    say("registered", status=record["status"], swarmId=record["swarmId"], credential=bool(agent.credential))
agent.start_heartbeats(interval_s=0.2, via=os.environ.get("QP_HEARTBEAT_VIA", "messaging"), status=lambda: {"load": 0.25})
if os.environ.get("QP_PARTICIPATE") == "1":
    agent.participate(TRAINERS[os.environ.get("QP_TRAINER", "step")])
    say("participating")
for line in sys.stdin:
    if line.strip() != "signed-heartbeat":
        break
    # One heartbeat signed onto the heartbeat topic now, through the broker transport the session opened:
    # which token it carries is reported by digest.
    try:
        agent.heartbeat({"load": 0.5}, via="messaging")
        token = agent._broker().auth_token or ""
        say("signed-heartbeat", ok=True, transportToken=hashlib.sha256(token.encode()).hexdigest()[:16])
    except Exception as error:  # noqa: BLE001 - reported to the test
        say("signed-heartbeat", ok=False, error=str(error))
agent.deregister()
say("deregistered")
