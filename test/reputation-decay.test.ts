// Reputation decays with QP_REPUTATION_HALF_LIFE_MS, on the real Temporal dev server: an accepted
// round update recorded two half-lives ago is worth a quarter, so an agent whose merit is old falls
// below the proposal threshold while one with a recent round stays above it.
import { generateKeyPairSync } from 'node:crypto';
import { QpAgent } from '../agents/sdk';
import { TemporalContributionLedger } from '../adapters/temporal/contribution-ledger';
import { TemporalTaskReputation } from '../adapters/temporal/reputation';
import { decayed } from '../core/decisions/reputation';
import { namespace } from '../temporal-config';
import type { Embedded } from '../workers/embedded';
import { startTestEmbedded, uniqueId, waitFor } from './support/stack';

const HOUR = 3_600_000;
const taskQueue = uniqueId('tq-decay');

describe('reputation decay', () => {
  let stack: Embedded;
  const agents: QpAgent[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_TASK_QUEUE: taskQueue, QP_REPUTATION_HALF_LIFE_MS: String(HOUR), QP_DECISION_PROPOSAL_THRESHOLD: '1' });
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await stack?.stop();
  });

  it('an update accepted two half-lives ago counts a quarter: below the threshold of 1, while a recent one keeps its agent above', async () => {
    const swarmId = uniqueId('decay');
    for (const name of ['old', 'recent']) {
      const agent = new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `${swarmId}-${name}`,
        swarmId,
        capabilities: ['vote'],
        keys: generateKeyPairSync('ed25519'),
        resources: { cpu: 1, memoryMb: 512 },
      });
      agents.push(agent);
      await agent.register();
    }
    const [old, recent] = agents;
    const ledger = new TemporalContributionLedger(stack.client, taskQueue, HOUR);
    const start = Date.now();
    // Round 1 two hours ago with both agents, round 2 now with the recent one only.
    await ledger.record({ swarmId, jobId: 'j1', round: 1, agentIds: [old.agentId, recent.agentId], at: start - 2 * HOUR });
    await ledger.record({ swarmId, jobId: 'j1', round: 2, agentIds: [recent.agentId], at: start });
    await waitFor('the ledger to record both rounds', async () => {
      const counts = await ledger.counts(swarmId);
      return counts[recent.agentId] === 2 ? counts : undefined;
    }, 120_000);

    const source = new TemporalTaskReputation(stack.client, namespace, ledger, HOUR);
    const scores = await source.scores(swarmId);
    const elapsed = Date.now() - start;
    // Whenever the read happened (at most `elapsed` after round 2), the scores are these, decayed that little more.
    expect(scores[old.agentId]).toBeLessThanOrEqual(0.25);
    expect(scores[old.agentId]).toBeGreaterThanOrEqual(decayed(0.25, elapsed, HOUR));
    expect(scores[recent.agentId]).toBeLessThanOrEqual(1.25);
    expect(scores[recent.agentId]).toBeGreaterThanOrEqual(decayed(1.25, elapsed, HOUR));
    // Without decay the same ledger counts 1 and 2.
    expect(await new TemporalTaskReputation(stack.client, namespace, ledger).scores(swarmId)).toEqual({ [old.agentId]: 1, [recent.agentId]: 2 });

    // The API's proposal threshold reads the same decayed reputation.
    const proposal = { swarmId, title: 'decayed merit', system: 'basic', power: 'equal', votingDelayMs: 60_000, votingPeriodMs: 60_000, quorum: { fraction: 1 } };
    const propose = async (agent: QpAgent) => {
      const res = await fetch(`${stack.api.url}/api/v1/decisions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(proposal),
      });
      return { status: res.status, body: (await res.json()) as { decisionId?: string; error?: { reason?: string } } };
    };
    const refused = await propose(old);
    expect({ status: refused.status, reason: refused.body.error?.reason }).toEqual({ status: 403, reason: 'below-proposal-threshold' });
    const opened = await propose(recent);
    expect(opened.status).toBe(201);
    await stack.api.decisions.cancel(opened.body.decisionId!, 'test over');
  }, 240_000);
});
