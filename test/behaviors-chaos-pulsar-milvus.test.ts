// Chaos for the behaviour sweep family: a sweep drains the swarm's behaviour
// reports from Pulsar into a real Milvus in small batches while the worker
// process is SIGKILLed at a seeded moment of the drain and started again. The
// retried drain resumes from its last recorded progress and the broker gives
// back what was not acknowledged. The report must count every behaviour once,
// as an undisturbed sweep of the same reports does: same received, accepted
// and archived counts, the same behaviours scored, the same strategies found.
import { plantStrategies, BehaviorSimulation } from '../agents/simulate-behaviors';
import { MilvusVectors } from '../adapters/milvus/vectors';
import { behaviorCollection, skillCollection } from '../core/behaviors/collections';
import type { SweepReport } from '../core/behaviors/types';
import { seededRandom } from '../core/random';
import { behaviorSweepWorkflowId } from '../workflows/definitions';
import { requireTestMilvus } from './support/milvus';
import { uniqueId, waitFor } from './support/stack';
import { WorkerChaosStack } from './support/worker-chaos';

const AGENTS = 24;
const EPISODES = 6;
const SEED = 11;

describe('a behaviour sweep while the worker is killed', () => {
  const milvusAddress = requireTestMilvus();
  const stack = new WorkerChaosStack('sweep-chaos', {
    QP_VECTORS: 'milvus',
    MILVUS_ADDRESS: milvusAddress,
    QP_BEHAVIOR_DIMENSION: '16',
    QP_BEHAVIOR_SWEEP_CRON: 'off',
    // Small batches: the drain stores, scores and acknowledges many times, so a kill lands between two of them.
    QP_BEHAVIOR_BATCH_SIZE: '8',
    QP_BEHAVIOR_DRAIN_IDLE_MS: '500',
  });
  const vectors = new MilvusVectors({ address: milvusAddress });
  const swarms: string[] = [];

  beforeAll(() => stack.start());
  afterAll(async () => {
    await stack.close();
    for (const swarmId of swarms) {
      await vectors.dropCollection(behaviorCollection(swarmId)).catch(() => undefined);
      await vectors.dropCollection(skillCollection(swarmId)).catch(() => undefined);
    }
    await vectors.close();
  });

  /** A swarm whose agents report EPISODES behaviours each over Pulsar, the same planted world every time. */
  async function reportedSwarm(name: string): Promise<string> {
    const swarmId = uniqueId(name);
    swarms.push(swarmId);
    const agents = await stack.registerSwarm(swarmId, AGENTS);
    const world = plantStrategies({ seed: SEED, agentIds: agents.map((agent) => agent.agentId) });
    const simulation = new BehaviorSimulation({ agents, world, seed: SEED });
    for (let e = 0; e < EPISODES; e++) await simulation.episode(e);
    return swarmId;
  }

  async function startSweep(swarmId: string): Promise<string> {
    const { status, body } = await stack.call('POST', '/api/v1/behaviors/sweep', { swarmId });
    expect(status).toBe(202);
    return body.workflowId;
  }

  /** What must not depend on the kill. */
  const settled = (report: SweepReport) => ({
    counts: report.counts,
    rejections: report.rejections,
    strategies: report.strategies.map((s) => ({ rank: s.rank, size: s.size, agentCount: s.agentCount, meanFitness: s.meanFitness })),
  });

  it('counts every report once and finds what an undisturbed sweep finds', async () => {
    const calmId = await startSweep(await reportedSwarm('calm'));
    const [calm] = await stack.resultsOf<{ report: SweepReport }>([calmId], 60_000);
    expect(calm.report.counts).toMatchObject({ received: AGENTS * EPISODES, accepted: AGENTS * EPISODES, archive: AGENTS * EPISODES });

    const stormySwarm = await reportedSwarm('storm');
    const workflowId = await startSweep(stormySwarm);
    expect(workflowId).toBe(behaviorSweepWorkflowId(stormySwarm));
    await waitFor(
      'the drain to run',
      async () => {
        const described = await stack.client.workflow.getHandle(workflowId).describe();
        return described.raw.pendingActivities?.some((a) => a.activityType?.name === 'ingestBehaviorBatch') ? true : undefined;
      },
      30_000,
      50,
    );
    const [pause] = await stack.killAtSeededMoments(seededRandom(20261133), 1, 2000, 4000);
    const [stormy] = await stack.resultsOf<{ report: SweepReport }>([workflowId], 150_000);
    const events = (await stack.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const drainAttempts = Math.max(...events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0));

    expect(settled(stormy.report)).toEqual(settled(calm.report));
    console.log(
      `sweep chaos: 1 worker kill ${pause} ms into the drain (drain attempts ${drainAttempts}), ` +
        `${stormy.report.counts.received} reports checked, ${stormy.report.strategies.length} strategies as in the undisturbed sweep`,
    );
  }, 240_000);
});
