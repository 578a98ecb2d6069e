"""A numpy softmax agent on the digits data: the TypeScript reference agents' training, in Python.

Agent `--index` of `--agents` holds the same shard of an IID split (`--seed`), or of a Dirichlet split
with `--alpha`, as agents/trainers.ts digitsTrainers gives its agent of that index; it scores each incoming global model on its held-out
fifth and trains the round's budget of mini-batch steps on the rest. A swarm of these reaches the
same accuracy per round as the TypeScript agents with the same seeds (see examples/digits.py for
what may differ). Prints one JSON line per event; deregisters on SIGTERM or a line on stdin.

    python examples/digits_agent.py --api http://127.0.0.1:8080 --pulsar ws://127.0.0.1:8090 \\
        --swarm digits --agent-id py-digits-0 --index 0 --agents 3 --seed 11
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading

import numpy as np

from digits import DEFAULT_DATA, SoftmaxTraining, agent_data, evaluate, load_digits
from qp_agent import QpAgent, RoundTask, Update


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8080")
    parser.add_argument("--pulsar", default="ws://127.0.0.1:8090", help="the broker's web service (ws://), or pulsar:// with --transport native")
    parser.add_argument("--tenant", default="qp-manager")
    parser.add_argument("--swarm", required=True)
    parser.add_argument("--agent-id", required=True)
    parser.add_argument("--index", type=int, required=True, help="this agent's shard")
    parser.add_argument("--agents", type=int, required=True, help="shards in the split")
    parser.add_argument("--seed", type=int, required=True, help="the split's seed")
    parser.add_argument("--alpha", type=float, default=None, help="a Dirichlet(alpha) split over the classes (default IID)")
    parser.add_argument("--transport", choices=["websocket", "native"], default="websocket", help="native: --pulsar is pulsar://host:6650")
    parser.add_argument("--data", default=DEFAULT_DATA)
    args = parser.parse_args()

    digits = load_digits(args.data)
    examples, held_out = agent_data(digits, args.agents, args.seed, args.alpha)[args.index]

    def train(global_params: np.ndarray, task: RoundTask) -> Update:
        accuracy_before = loss_before = None
        if task.evaluate and held_out:
            accuracy_before, loss_before = evaluate(global_params, digits, held_out)
        batch_size = int(task.training["batchSize"])
        steps = task.steps_planned(math.ceil(len(examples) / batch_size))
        training = SoftmaxTraining(global_params, digits, examples, task.training["learningRate"], batch_size, steps, task.training.get("proximalMu") or 0.0)
        while not task.should_stop() and training.step():
            pass
        params, loss, loss_squared, accuracy = training.result()
        say("trained", round=task.round, steps=training.steps_completed, loss=loss, accuracy=accuracy, heldOutAccuracy=accuracy_before)
        return Update(
            params=params,
            examples=len(examples),
            loss=loss,
            loss_squared=loss_squared,
            accuracy=accuracy,
            steps_completed=training.steps_completed,
            steps_planned=training.steps_planned,
            eval_loss=loss_before,
            eval_accuracy=accuracy_before,
            eval_examples=len(held_out) if accuracy_before is not None else None,
        )

    agent = QpAgent(
        api_url=args.api,
        pulsar_url=args.pulsar,
        pulsar_tenant=args.tenant,
        pulsar_transport=args.transport,
        agent_id=args.agent_id,
        swarm_id=args.swarm,
        capabilities=["train"],
        resources={"cpu": 1, "memoryMb": 512},
        on_event=lambda event: say("sdk", detail=event) if event["type"] == "round-failed" else None,
    )
    record = agent.register()
    agent.start_heartbeats(interval_s=1, via="messaging")
    agent.participate(train)
    say("participating", status=record["status"], examples=len(examples), heldOut=len(held_out))

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
    done.wait()
    agent.deregister()
    say("deregistered")


if __name__ == "__main__":
    main()
