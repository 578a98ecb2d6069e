"""A federated LoRA agent: fine-tunes a frozen digits classifier through low-rank adapters (examples/lora.py).

Only the adapters travel: the job's model is a `vector` of LoraAdapter.dimension floats (296 at rank 4).
Agent `--index` of `--agents` trains on that shard of an IID split (`--seed`), scoring each incoming
global adapter on its held-out fifth first (the job's agentAccuracy). Start the job with
model {"kind": "vector", "dimension": 296} and training {"learningRate": 0.5, "epochs": 1, "batchSize": 32}.
Prints one JSON line per event; deregisters on SIGTERM or a line on stdin.

    python examples/lora_agent.py --api http://127.0.0.1:8080 --pulsar ws://127.0.0.1:8090 \\
        --swarm lora --agent-id py-lora-0 --index 0 --agents 2 --seed 11
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading

import numpy as np

from digits import DEFAULT_DATA, agent_data, load_digits
from lora import LoraAdapter, pretrained_base
from qp_agent import QpAgent, RoundTask, Update


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8080")
    parser.add_argument("--pulsar", default="ws://127.0.0.1:8090", help="the broker's web service")
    parser.add_argument("--tenant", default="qp-manager")
    parser.add_argument("--swarm", required=True)
    parser.add_argument("--agent-id", required=True)
    parser.add_argument("--index", type=int, required=True, help="this agent's shard")
    parser.add_argument("--agents", type=int, required=True, help="shards in the split")
    parser.add_argument("--seed", type=int, required=True, help="the split's seed")
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--data", default=DEFAULT_DATA)
    args = parser.parse_args()

    digits = load_digits(args.data)
    examples, held_out = agent_data(digits, args.agents, args.seed)[args.index]
    adapter = LoraAdapter(*pretrained_base(digits), rank=args.rank, alpha=float(args.rank))

    def train(global_adapters: np.ndarray, task: RoundTask) -> Update:
        before, before_loss = adapter.evaluate(global_adapters, digits, held_out) if task.evaluate and held_out else (None, None)
        batch_size = int(task.training["batchSize"])
        planned = task.steps_planned(math.ceil(len(examples) / batch_size))
        vector, loss, done = adapter.train(global_adapters, digits, examples, float(task.training["learningRate"]), batch_size, planned, task.should_stop)
        say("trained", round=task.round, floats=int(vector.size), loss=loss, heldOutAccuracy=before)
        return Update(
            params=vector,
            examples=len(examples),
            loss=loss,
            steps_completed=done,
            steps_planned=planned,
            eval_loss=before_loss,
            eval_accuracy=before,
            eval_examples=len(held_out) if before is not None else None,
        )

    agent = QpAgent(
        api_url=args.api,
        pulsar_url=args.pulsar,
        pulsar_tenant=args.tenant,
        agent_id=args.agent_id,
        swarm_id=args.swarm,
        capabilities=["train"],
        resources={"cpu": 1, "memoryMb": 512},
        on_event=lambda event: say("sdk", detail=event) if event["type"] == "round-failed" else None,
    )
    record = agent.register()
    agent.start_heartbeats(interval_s=1, via="messaging")
    agent.participate(train)
    say("participating", status=record["status"], dimension=adapter.dimension, examples=len(examples))

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
    done.wait()
    agent.deregister()
    say("deregistered")


if __name__ == "__main__":
    main()
