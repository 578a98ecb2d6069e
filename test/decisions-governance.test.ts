// A swarm's own proposal threshold (PUT /api/v1/governance/{swarmId}) on the real
// dev server: it replaces the manager's default for that swarm only, null returns
// the swarm to the default, and the route is validated (400 naming the field) and
// authorised (admin writes; an agent reads its own swarm's only).
import { generateKeyPairSync } from 'node:crypto';
import { QpAgent } from '../agents/sdk';
import { swarmGovernanceWorkflowId } from '../workflows/definitions-reputation';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe("a swarm's own proposal threshold", () => {
  let stack: Embedded;
  const agents: QpAgent[] = [];
  const swarms: string[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_DECISION_PROPOSAL_THRESHOLD: '1' });
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    for (const swarmId of swarms) {
      await stack?.client.workflow.getHandle(swarmGovernanceWorkflowId(swarmId)).terminate('test finished').catch(() => undefined);
    }
    await stack?.stop();
  });

  async function agentOf(swarmId: string): Promise<QpAgent> {
    const agent = new QpAgent({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      agentId: uniqueId(`${swarmId}-a`),
      swarmId,
      capabilities: ['vote'],
      keys: generateKeyPairSync('ed25519'),
      handshakeTimeoutMs: 120_000,
      resources: { cpu: 1, memoryMb: 512 },
    });
    agents.push(agent);
    await agent.register();
    return agent;
  }
  const asAgent = (agent: QpAgent) => ({ authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' });

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = admin) {
    const res = await fetch(`${stack.api.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }
  const proposal = (swarmId: string) => ({
    swarmId,
    title: 'later',
    system: 'basic',
    power: 'equal',
    votingDelayMs: 600_000,
    votingPeriodMs: 60_000,
    quorum: { fraction: 0.5 },
  });

  it('replaces the default for its swarm only, and null returns the swarm to the default', async () => {
    const swarmId = uniqueId('gov');
    const otherSwarm = uniqueId('gov-other');
    swarms.push(swarmId, otherSwarm);
    const [agent, other] = await Promise.all([agentOf(swarmId), agentOf(otherSwarm)]);

    expect(await call('GET', `/api/v1/governance/${swarmId}`, undefined, asAgent(agent))).toEqual({
      status: 200,
      body: { swarmId, proposalThreshold: 1, source: 'default', defaultProposalThreshold: 1 },
    });
    // Reputation 0 against the default of 1.
    expect((await call('POST', '/api/v1/decisions', proposal(swarmId), asAgent(agent))).body.error).toMatchObject({ reason: 'below-proposal-threshold' });

    const lowered = await call('PUT', `/api/v1/governance/${swarmId}`, { proposalThreshold: 0 });
    expect(lowered).toMatchObject({ status: 200, body: { swarmId, proposalThreshold: 0, source: 'swarm', defaultProposalThreshold: 1 } });
    expect(typeof lowered.body.updatedAt).toBe('number');
    // The same change again is the same settings (idempotent), and the agent now proposes.
    expect(await call('PUT', `/api/v1/governance/${swarmId}`, { proposalThreshold: 0 })).toMatchObject({ status: 200, body: { proposalThreshold: 0, source: 'swarm' } });
    const opened = await call('POST', '/api/v1/decisions', proposal(swarmId), asAgent(agent));
    expect(opened.status).toBe(201);
    await call('POST', `/api/v1/decisions/${opened.body.decisionId}/cancel`, {});
    // Another swarm still holds its agents to the default.
    expect((await call('POST', '/api/v1/decisions', proposal(otherSwarm), asAgent(other))).body.error).toMatchObject({ reason: 'below-proposal-threshold' });

    // A threshold above the default holds too; null returns the swarm to the default.
    expect(await call('PUT', `/api/v1/governance/${otherSwarm}`, { proposalThreshold: 5 })).toMatchObject({ status: 200, body: { proposalThreshold: 5 } });
    const refused = await call('POST', '/api/v1/decisions', proposal(otherSwarm), asAgent(other));
    expect(refused).toMatchObject({ status: 403, body: { error: { reason: 'below-proposal-threshold' } } });
    expect(refused.body.error.message).toContain('at least 5');
    const reset = await call('PUT', `/api/v1/governance/${swarmId}`, { proposalThreshold: null });
    expect(reset).toMatchObject({ status: 200, body: { proposalThreshold: 1, source: 'default' } });
    expect((await call('POST', '/api/v1/decisions', proposal(swarmId), asAgent(agent))).body.error).toMatchObject({ reason: 'below-proposal-threshold' });
  }, 300_000);

  it('names the bad field, and only the admin changes a swarm’s settings', async () => {
    const swarmId = uniqueId('gov-auth');
    swarms.push(swarmId);
    const agent = await agentOf(swarmId);
    const stranger = await agentOf(uniqueId('gov-stranger'));
    const bad: Array<[unknown, string]> = [
      [{ proposalThreshold: -1 }, 'proposalThreshold'],
      [{ proposalThreshold: 'high' }, 'proposalThreshold'],
      [{}, 'proposalThreshold'],
      [{ proposalThreshold: 1, quorum: 2 }, 'body'],
    ];
    for (const [body, field] of bad) {
      const answer = await call('PUT', `/api/v1/governance/${swarmId}`, body);
      expect({ status: answer.status, field: String(answer.body.error?.field ?? '') }).toEqual({ status: 400, field: expect.stringContaining(field) });
    }
    expect((await call('PUT', '/api/v1/governance/not%20an%20id', { proposalThreshold: 1 })).body.error).toMatchObject({ field: expect.stringContaining('swarmId') });
    expect((await call('PUT', `/api/v1/governance/${swarmId}`, { proposalThreshold: 0 }, asAgent(agent))).status).toBe(403);
    expect((await call('PUT', `/api/v1/governance/${swarmId}`, { proposalThreshold: 0 }, { 'content-type': 'application/json' })).status).toBe(401);
    expect(await call('GET', `/api/v1/governance/${swarmId}`, undefined, asAgent(stranger))).toMatchObject({ status: 403, body: { error: { field: 'swarmId' } } });
    // Nothing was changed by the refused calls.
    expect((await call('GET', `/api/v1/governance/${swarmId}`)).body).toMatchObject({ source: 'default' });
  }, 300_000);
});
