// Chaos for the behaviour sweep family's vector store: the worker stores and
// scores behaviours in a Milvus of this suite's own (the run's shared one never
// goes away), which crashes (SIGKILL of its process group) while a sweep drains
// and is started again on its data. Drain batches fail on the missing server
// and are retried by Temporal; a read of a collection the restarted server has
// not loaded again yet waits for the load. The sweep must end as an undisturbed
// sweep of the same reports ends: same counts, rejections and strategies, and
// every behaviour stored once (no vector lost, none twice).
import { MilvusVectors } from '../adapters/milvus/vectors';
import { behaviorCollection } from '../core/behaviors/collections';
import type { SweepReport } from '../core/behaviors/types';
import { seededRandom } from '../core/random';
import { SweepWorkload } from './support/chaos-families';
import { DedicatedMilvus } from './support/dedicated-milvus';
import { WorkerChaosStack } from './support/worker-chaos';

describe('a Milvus restarted while a behaviour sweep drains', () => {
  const milvus = new DedicatedMilvus('sweep-restart');
  let stack: WorkerChaosStack;
  let sweeps: SweepWorkload;

  beforeAll(async () => {
    await milvus.start();
    stack = new WorkerChaosStack('sweep-milvus-restart', SweepWorkload.workerEnv(milvus.address));
    sweeps = new SweepWorkload(stack);
    await stack.start();
  }, 600_000);
  afterAll(async () => {
    await stack?.close();
    await milvus.remove();
  }, 120_000);

  it('stores every behaviour once and finds what an undisturbed sweep finds', async () => {
    const total = sweeps.agents * sweeps.episodes;
    const calmId = await sweeps.start(await sweeps.reportedSwarm('calm'));
    const [calm] = await stack.resultsOf<{ report: SweepReport }>([calmId], 300_000);
    expect(calm.report.counts).toMatchObject({ received: total, accepted: total, archive: total });
    // The planted world's strategies are found: the comparison below is not between two empty lists.
    expect(calm.report.strategies.length).toBeGreaterThan(0);

    const stormySwarm = await sweeps.reportedSwarm('storm');
    const workflowId = await sweeps.start(stormySwarm);
    await sweeps.draining(workflowId);
    // Fault injection, not a wait for a condition: a seeded moment early in the drain.
    const pauseMs = Math.round(200 + seededRandom(20261201)() * 1000);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const stopMs = await milvus.stop('crash');
    const { status } = await stack.client.workflow.getHandle(workflowId).describe();
    // The crash landed in the sweep, not after it.
    expect(status.name).toBe('RUNNING');
    const startMs = await milvus.start();
    const [stormy] = await stack.resultsOf<{ report: SweepReport }>([workflowId], 420_000);
    const attempts = await sweeps.maxAttempt(workflowId);

    expect(SweepWorkload.settled(stormy.report)).toEqual(SweepWorkload.settled(calm.report));
    const vectors = new MilvusVectors({ address: milvus.address });
    try {
      expect(await vectors.count(behaviorCollection(stormySwarm))).toBe(total);
    } finally {
      await vectors.close();
    }
    console.log(
      `sweep milvus restart chaos: 1 Milvus crash ${pauseMs} ms into the drain (stop ${stopMs} ms, start ${startMs} ms, ` +
        `highest activity attempt ${attempts}), ${stormy.report.counts.received} reports and ${total} stored vectors checked, ` +
        `${stormy.report.strategies.length} strategies as in the undisturbed sweep`,
    );
  }, 1_500_000);
});
