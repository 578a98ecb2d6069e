// The registration handshake and liveness, end to end with QP_MESSAGING=pulsar:
// the challenge reaches the agent's inbox and heartbeats reach the liveness
// monitor through the shared Pulsar broker of the test run (real Temporal, real
// worker, real HTTP API, the reference SDK with its own Pulsar connection).
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import type { AgentRecord } from '../core/agents';
import { QpAgent } from '../agents/sdk';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';
import { sharedPulsarOptions } from './support/pulsar';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function getAgent(stack: Embedded, agentId: string): Promise<AgentRecord> {
  const res = await fetch(`${stack.api.url}/api/v1/swarm/agents/${agentId}`, { headers: admin });
  if (!res.ok) throw new Error(`GET agent ${res.status}`);
  return (await res.json()) as AgentRecord;
}

describe('agent registration and heartbeats over a real Pulsar broker', () => {
  let stack: Embedded;
  // Agents live in other processes: the SDK gets a Pulsar connection of its own.
  let agentSide: PulsarMessaging;
  const swarmId = uniqueId('swarm');

  beforeAll(async () => {
    const pulsar = sharedPulsarOptions();
    stack = await startTestEmbedded({
      QP_MESSAGING: 'pulsar',
      PULSAR_SERVICE_URL: process.env.QP_TEST_PULSAR_URL as string,
      PULSAR_ADMIN_URL: pulsar.adminUrl,
      PULSAR_TENANT: pulsar.tenant as string,
      QP_HANDSHAKE_TIMEOUT_MS: '5000',
      QP_HEARTBEAT_GRACE_MS: '1500',
      QP_LIVENESS_WINDOW_MS: '250',
    });
    agentSide = new PulsarMessaging(pulsar);
  });
  afterAll(async () => {
    await agentSide?.close();
    await stack?.stop();
  });

  function newAgent(): QpAgent {
    return new QpAgent({
      apiUrl: stack.api.url,
      messaging: agentSide,
      agentId: uniqueId('agent'),
      swarmId,
      capabilities: ['train'],
      resources: { cpu: 2, memoryMb: 2048 },
      heartbeatIntervalMs: 200,
      handshakeTimeoutMs: 15_000,
    });
  }

  it('builds the Pulsar adapter from QP_MESSAGING=pulsar', () => {
    expect(stack.ports.messaging).toBeInstanceOf(PulsarMessaging);
    expect((stack.ports.messaging as PulsarMessaging).topicFor(`swarm/${swarmId}/heartbeats`).fullName).toBe(
      `persistent://qp-test/${swarmId}/heartbeats`,
    );
  });

  it('an agent answers the challenge from its Pulsar inbox and becomes ACTIVE, and its heartbeats are consumed', async () => {
    const agent = newAgent();
    const record = await agent.register();
    expect(record.status).toBe('ACTIVE');
    expect(agent.token).toMatch(/^qpc1\./);
    agent.startHeartbeats();
    await waitFor('heartbeats to be consumed from Pulsar', async () => {
      const text = await stack.workerRegistry.getSingleMetricAsString('qp_manager_heartbeats_consumed_total');
      return /heartbeats_consumed_total [1-9]/.test(text) ? true : undefined;
    });
    expect((await getAgent(stack, agent.agentId)).status).toBe('ACTIVE');
    await agent.close();
  });

  it('an agent that stops heartbeating is LOST after the grace period, and ACTIVE again when it returns', async () => {
    const agent = newAgent();
    await agent.register();
    agent.startHeartbeats();
    await waitFor('the agent to be seen alive', async () =>
      (await getAgent(stack, agent.agentId)).status === 'ACTIVE' ? true : undefined,
    );
    agent.stopHeartbeats();
    await waitFor('the agent to be LOST', async () =>
      (await getAgent(stack, agent.agentId)).status === 'LOST' ? true : undefined,
    );
    agent.startHeartbeats();
    await waitFor('the agent to be ACTIVE again', async () =>
      (await getAgent(stack, agent.agentId)).status === 'ACTIVE' ? true : undefined,
    );
    await agent.close();
  });
});
