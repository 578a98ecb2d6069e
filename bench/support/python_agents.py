"""Many Python agents (qp_agent) in one process, for bench/python-agents.ts.

argv: api_url pulsar_ws_url tenant swarm_id count id_prefix concurrency heartbeat_s
Each agent registers (challenge from its Pulsar inbox), heartbeats over HTTP, and takes part in
rounds with a no-op trainer (the global model back, one example). Prints one JSON line when all
are registered and another when they have deregistered, after a line arrives on stdin.
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from qp_agent import QpAgent, RoundTask, Update

api_url, pulsar_url, tenant, swarm_id, count, prefix, concurrency, heartbeat_s = sys.argv[1:9]


def noop(global_params: np.ndarray, task: RoundTask) -> Update:
    return Update(params=global_params, examples=1)


agents = [
    QpAgent(
        api_url,
        f"{prefix}-{i:04d}",
        pulsar_url=pulsar_url,
        pulsar_tenant=tenant,
        swarm_id=swarm_id,
        capabilities=["train"],
        resources={"cpu": 2, "memoryMb": 2048},
        handshake_timeout_s=60,
    )
    for i in range(int(count))
]


def join(agent: QpAgent) -> str | None:
    try:
        agent.register()
        agent.start_heartbeats(interval_s=float(heartbeat_s))
        agent.participate(noop)
        return None
    except Exception as error:  # noqa: BLE001 - reported to the bench
        return f"{agent.agent_id}: {error}"


started = time.perf_counter()
with ThreadPoolExecutor(int(concurrency)) as pool:
    failed = [f for f in pool.map(join, agents) if f]
print(json.dumps({"event": "ready", "seconds": time.perf_counter() - started, "failed": failed}), flush=True)
sys.stdin.readline()


def leave(agent: QpAgent) -> None:
    try:
        agent.deregister()
    except Exception:  # noqa: BLE001 - the bench is over; the session ends with the stack
        agent.close()


with ThreadPoolExecutor(int(concurrency)) as pool:
    list(pool.map(leave, agents))
print(json.dumps({"event": "stopped"}), flush=True)
