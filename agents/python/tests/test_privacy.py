"""Clipping and local-DP noise against the vectors the TypeScript side computed from keyed uniforms (the "privacy" part
of test/fixtures/agent-proof-vectors.json), and what a round under local DP sends."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qp_agent import QpAgent, RoundTask, Update, bytes_to_params, params_to_bytes
from qp_agent.privacy import clip_l2, gaussian_noise, keyed_uniform, l2_norm, with_local_privacy

VECTORS_FILE = Path(
    os.environ.get("QP_PROOF_VECTORS", Path(__file__).resolve().parents[3] / "test" / "fixtures" / "agent-proof-vectors.json")
)
V = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["privacy"]


def f32(values: list[float]) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_keyed_uniforms_are_the_typescript_ones() -> None:
    uniform = keyed_uniform(bytes.fromhex(V["uniform"]["keyHex"]))
    assert [uniform() for _ in V["uniform"]["values"]] == V["uniform"]["values"]


@pytest.mark.parametrize("case", V["clip"], ids=lambda c: f"clip-{c['clipNorm']}")
def test_clipping_matches_element_for_element(case: dict[str, Any]) -> None:
    clipped, norm, was_clipped = clip_l2(f32(case["vector"]), case["clipNorm"])
    assert clipped.tolist() == f32(case["clipped"]).tolist()
    assert norm == case["norm"] and was_clipped == case["wasClipped"]
    assert l2_norm(clipped) <= case["clipNorm"] or not was_clipped


def test_gaussian_noise_matches_element_for_element() -> None:
    case = V["noise"]
    noised = gaussian_noise(f32(case["vector"]), case["std"], keyed_uniform(bytes.fromhex(case["keyHex"])))
    assert noised.tolist() == f32(case["noised"]).tolist()


@pytest.mark.parametrize("case", V["localDp"], ids=lambda c: f"clip-{c['privacy']['clipNorm']}")
def test_the_local_dp_release_is_the_typescript_sdks(case: dict[str, Any]) -> None:
    released = with_local_privacy(f32(case["global"]), f32(case["params"]), case["privacy"], keyed_uniform(bytes.fromhex(case["keyHex"])))
    assert released.dtype == np.float32
    assert released.tolist() == f32(case["released"]).tolist()


class Recorder(QpAgent):
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        super().__init__("http://127.0.0.1:1", "py-1", on_event=self.events.append)
        self.credential, self.record = "qpc1.x.y", {"agentId": "py-1", "swarmId": "s1"}
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    def publish_signed(self, topic: str, payload: bytes, properties: dict[str, str] | None = None, key: str | None = None) -> str:
        self.published.append((topic, payload, dict(properties or {})))
        return "1:0:-1:0"


def test_under_local_dp_the_change_leaves_the_agent_clipped_and_noised() -> None:
    global_params = np.zeros(400, dtype=np.float32)
    start = {
        "type": "round-start", "agentId": "py-1", "jobId": "j1", "round": 1, "attempt": 0, "globalDigest": "d",
        "globalParams": base64.b64encode(params_to_bytes(global_params)).decode(), "training": {"learningRate": 0.1},
        "deadlineAt": 0, "updatesTopic": "swarm/s1/updates-j1",
        "localPrivacy": {"clipNorm": 2.0, "noiseMultiplier": 0.5, "delta": 1e-5},
    }
    agent = Recorder()
    agent._train_round(start, lambda g, t: Update(params=g + 10, examples=3))
    [(_, payload, properties)] = agent.published
    sent = bytes_to_params(payload)
    # The change had norm 200: clipped to 2, then noise of std 0.5 x 2 = 1 per element.
    noise = sent - (np.full(400, 2 / 20, dtype=np.float32))
    assert 0.8 < float(np.std(noise)) < 1.2  # about 6 standard errors either side
    assert abs(float(np.mean(noise))) < 0.25
    assert properties["examples"] == "3"
