// Python agents (agents/python, qp_agent) in behavior discovery on the real stack with QP_MESSAGING=pulsar:
// they report behaviors signed over messaging and over the API, a sweep finds the strategy two of them
// discovered, and its skill reaches a Python agent's on_skill. Real Temporal, worker and HTTP API, the shared
// test broker; the agents are separate Python processes.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { SweepReport } from '../core/behaviors/types';
import type { Embedded } from '../workers/embedded';
import { sharedPulsarOptions } from './support/pulsar';
import { PythonTaskAgent } from './support/python-task-agent';
import { pythonEnv, pythonSdkBin, ROOT } from './support/python-sdk';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const DIMENSION = 4;

const { python, reason } = pythonSdkBin();
if (!python) console.log(`python SDK behaviors test skipped: the python-sdk venv could not be created (${reason})`);
const maybe = python ? describe : describe.skip;

maybe('Python agents in behavior discovery on the real stack (Pulsar over its WebSocket API)', () => {
  let stack: Embedded;
  let pulsar: ReturnType<typeof sharedPulsarOptions>;
  const running: PythonTaskAgent[] = [];

  beforeAll(async () => {
    pulsar = sharedPulsarOptions();
    stack = await startTestEmbedded({
      QP_MESSAGING: 'pulsar',
      PULSAR_SERVICE_URL: process.env.QP_TEST_PULSAR_URL as string,
      PULSAR_ADMIN_URL: pulsar.adminUrl,
      PULSAR_TENANT: pulsar.tenant as string,
      QP_HANDSHAKE_TIMEOUT_MS: '30000',
      QP_BEHAVIOR_DIMENSION: String(DIMENSION),
      QP_BEHAVIOR_DRAIN_IDLE_MS: '3000', // the sweep stops draining after this long without a report: generous under load,
      QP_BEHAVIOR_SWEEP_CRON: 'off',
    });
  });
  afterAll(async () => {
    for (const agent of running) agent.child.kill();
    await stack?.stop();
  });

  function startAgent(swarmId: string): { agentId: string; process: PythonTaskAgent } {
    const agentId = uniqueId('pybehave');
    const child = spawn(python as string, [join(ROOT, 'test/support/python_behavior_agent.py')], {
      env: pythonEnv({
        QP_API_URL: stack.api.url,
        QP_PULSAR_URL: pulsar.webSocketUrl,
        QP_PULSAR_TENANT: pulsar.tenant as string,
        QP_AGENT_ID: agentId,
        QP_SWARM_ID: swarmId,
      }),
    });
    const process = new PythonTaskAgent(agentId, child);
    running.push(process);
    return { agentId, process };
  }

  it('their reports (signed over messaging, or over the API) are swept, the strategy two of them found is disseminated, and its skill reaches them', async () => {
    const swarmId = uniqueId('pybehave');
    const agents = [startAgent(swarmId), startAgent(swarmId), startAgent(swarmId)];
    for (const agent of agents) await agent.process.next('ready', 120_000);

    // Two agents discover the same thing (far from the rest), the third does the usual; one of the two reports over the API.
    const reports = (agent: number) =>
      Array.from({ length: 6 }, (_, e) =>
        agent === 2
          ? Array.from({ length: 4 }, (_, j) => [`e${e}-${j}`, [0.01 * j, 0.01 * e, 0, 0], 0.4])
          : [[`e${e}`, agent === 0 ? [5 + 0.01 * e, 5, 5, 5] : [5, 5 + 0.01 * e, 5, 5], 0.9]],
      ).flat();
    agents.forEach((agent, i) => agent.process.send(`report ${i === 1 ? 'api' : 'messaging'} ${JSON.stringify(reports(i))}`));
    const reported = await Promise.all(agents.map((agent) => agent.process.next('reported', 120_000)));
    expect(reported.map((r) => (r.behaviorIds as string[]).length)).toEqual([6, 6, 24]);
    expect(reported[0].behaviorIds).toContain(`${agents[0].agentId}:e0`);

    const started = await fetch(`${stack.api.url}/api/v1/behaviors/sweep`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ swarmId, parameters: { k: 15, minPts: 3 } }),
    });
    expect(started.status).toBe(202);
    const { reportId } = (await started.json()) as { reportId: string };
    const report = await waitFor(
      `sweep report ${reportId}`,
      async () => {
        const res = await fetch(`${stack.api.url}/api/v1/behaviors/reports/${reportId}`, { headers: admin });
        return res.status === 200 ? ((await res.json()) as SweepReport) : undefined;
      },
      180_000,
    );
    // Every report counted, none refused: the messaging ones carried valid proofs.
    expect(report.counts).toMatchObject({ received: 36, accepted: 36, rejected: 0, archive: 36 });
    expect(report.strategies).toHaveLength(1);
    expect(report.strategies[0]).toMatchObject({
      size: 12,
      agentCount: 2,
      agents: [agents[0].agentId, agents[1].agentId].sort(),
      disseminated: true,
    });

    // Each agent's on_skill gets the disseminated strategy as a skill.
    for (const agent of agents) {
      const { skill } = (await agent.process.next('skill', 120_000)) as unknown as { skill: { skillId: string; descriptor: number[]; agentCount: number } };
      expect(skill).toMatchObject({ skillId: report.strategies[0].strategyId, agentCount: 2 });
      expect(skill.descriptor).toHaveLength(DIMENSION);
    }

    // The API refuses a report of the wrong dimension at once.
    agents[2].process.send(`report api ${JSON.stringify([['bad', [1, 2], 0.5]])}`);
    expect(await agents[2].process.next('refused', 120_000)).toMatchObject({ status: 400 });

    for (const agent of agents) agent.process.send('deregister');
    for (const agent of agents) expect(await agent.process.exited).toBe(0);
  }, 600_000);
});
