// Chaos for the registration family: agents register and deregister while the
// worker process is SIGKILLed at seeded random moments and started again. The
// handshake's steps run as local activities in that process; a step cut short
// runs again on the new worker. In the end every session must be exactly what an
// undisturbed run leaves: each registered agent ACTIVE with one credential that
// works, each deregistered one gone, no session twice.
import { QpAgent } from '../agents/sdk';
import { seededRandom } from '../core/random';
import { registrationWorkflowId } from '../workflows/definitions';
import { ADMIN_TOKEN, uniqueId, waitFor } from './support/stack';
import { WorkerChaosStack } from './support/worker-chaos';

const AGENTS = 16;
const KILLS = 3;

describe('registrations while the worker is killed', () => {
  const stack = new WorkerChaosStack('reg-chaos');
  const agents: QpAgent[] = [];

  beforeAll(() => stack.start());
  afterAll(async () => {
    await Promise.allSettled(agents.map((agent) => agent.close()));
    await stack.close();
  });

  it('ends with every session as an undisturbed run leaves it', async () => {
    const random = seededRandom(20261130);
    const swarmId = uniqueId('swarm');
    for (let i = 0; i < AGENTS; i++) {
      agents.push(
        new QpAgent({
          apiUrl: stack.api.url,
          messaging: stack.agentMessaging,
          agentId: `${swarmId}-${i}`,
          swarmId,
          capabilities: ['train'],
          resources: { cpu: 1, memoryMb: 512 },
          handshakeTimeoutMs: 90_000,
          retries: 10,
        }),
      );
    }
    const kills: number[] = [];
    const killer = (async () => {
      for (let k = 0; k < KILLS; k++) {
        const delayMs = Math.round(200 + random() * 1500);
        kills.push(delayMs);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        await stack.restartWorker();
      }
    })();
    // Registrations go out in waves while the kills happen.
    const registered = Promise.all(
      agents.map(async (agent, i) => {
        await new Promise((resolve) => setTimeout(resolve, Math.floor(i / 4) * 400));
        return agent.register();
      }),
    );
    await killer;
    const records = await registered;
    expect(records.map((record) => record.status)).toEqual(agents.map(() => 'ACTIVE'));

    // Each credential works on the API, so each session accepts the one its agent holds.
    expect(await stack.statusesAfterHeartbeat(agents)).toEqual(agents.map(() => 'ACTIVE'));

    // Half deregister while the worker is killed once more.
    const leaving = agents.slice(0, AGENTS / 2);
    const staying = agents.slice(AGENTS / 2);
    const lastKill = new Promise((resolve) => setTimeout(resolve, Math.round(100 + random() * 500))).then(() => stack.restartWorker());
    await Promise.all(leaving.map((agent) => agent.deregister()));
    await lastKill;
    for (const agent of leaving) {
      await waitFor(
        `${agent.agentId}'s session to end`,
        async () => ((await stack.client.workflow.getHandle(registrationWorkflowId(agent.agentId)).describe()).status.name === 'COMPLETED' ? true : undefined),
        60_000,
        250,
      );
    }
    // One running session per agent that stayed, none for those that left (visibility may lag a little).
    const expected = staying.map((agent) => registrationWorkflowId(agent.agentId)).sort();
    await waitFor(
      'the running sessions to be exactly the staying agents',
      async () => {
        const running: string[] = [];
        for await (const execution of stack.client.workflow.list({ query: `SwarmId = "${swarmId}" AND ExecutionStatus = "Running"` })) {
          running.push(execution.workflowId);
        }
        return JSON.stringify(running.sort()) === JSON.stringify(expected) ? true : undefined;
      },
      30_000,
      500,
    );
    for (const agent of staying) await agent.heartbeat();
    const res = await fetch(`${stack.api.url}/api/v1/swarm/agents?swarmId=${swarmId}&status=ACTIVE`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    console.log(`registration chaos: ${KILLS + 1} worker kills (after ${kills.join(', ')} ms and during deregistration), ${AGENTS} agents, ${staying.length} ACTIVE at the end`);
  }, 300_000);
});
