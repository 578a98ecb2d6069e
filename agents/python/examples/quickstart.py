"""The shortest complete Python agent: register, heartbeat for a minute, deregister.

    QP_API_URL=http://127.0.0.1:8080 QP_PULSAR_URL=ws://127.0.0.1:8090 python examples/quickstart.py
"""

import os
import time

from qp_agent import QpAgent

agent = QpAgent(
    api_url=os.environ.get("QP_API_URL", "http://127.0.0.1:8080"),
    pulsar_url=os.environ.get("QP_PULSAR_URL", "ws://127.0.0.1:8090"),
    agent_id=os.environ.get("QP_AGENT_ID", "py-agent-1"),
    swarm_id=os.environ.get("QP_SWARM_ID"),
    capabilities=["train"],
    resources={"cpu": 2, "memoryMb": 2048},
)
record = agent.register()  # the signed challenge handshake; raises ApiError with the API's code
print(f"{record['agentId']} is {record['status']} in swarm {record['swarmId']}")
agent.start_heartbeats(interval_s=5, via="messaging")  # signed onto swarm/<id>/heartbeats
time.sleep(60)
agent.deregister()
