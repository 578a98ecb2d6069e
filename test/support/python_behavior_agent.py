"""A Python agent driven by test/python-sdk-behaviors-pulsar.test.ts: one JSON line per step on stdout.

Registers, listens for skills (on_skill), then reports the behaviors each stdin line
`report <via> <json list of [episodeId, descriptor, fitness]>` names; `deregister` ends it.
"""

import json
import os
import sys

from qp_agent import ApiError, QpAgent


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


agent = QpAgent(
    api_url=os.environ["QP_API_URL"],
    pulsar_url=os.environ["QP_PULSAR_URL"],
    pulsar_tenant=os.environ["QP_PULSAR_TENANT"],
    agent_id=os.environ["QP_AGENT_ID"],
    swarm_id=os.environ["QP_SWARM_ID"],
    capabilities=["explore"],
    resources={"cpu": 1, "memoryMb": 512},
    handshake_timeout_s=60,
)
agent.register()
agent.on_skill(lambda skill: say("skill", skill=skill))
say("ready")
for line in sys.stdin:
    command, _, rest = line.strip().partition(" ")
    if command == "deregister":
        break
    if command == "report":
        via, _, reports = rest.partition(" ")
        try:
            ids = [agent.report_behavior(episode, descriptor, fitness, via=via)["behaviorId"] for episode, descriptor, fitness in json.loads(reports)]
            say("reported", behaviorIds=ids)
        except ApiError as error:
            say("refused", status=error.status, code=error.code, message=error.message)
agent.deregister()
say("deregistered")
