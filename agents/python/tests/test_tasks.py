"""Contract Net bids and task messages against the vectors the TypeScript functions produced."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from qp_agent import TaskBid, TaskContext, TaskDeclined, bid_message, own_bid, outcome_message, private_key_from_seed, sign_as_agent
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
