// Chaos for Temporal under a behaviour sweep: a dev server of this suite's own,
// persisted in a SQLite file, is stopped and started again on the same file
// while the sweep drains its reports into Milvus batch by batch: once as a
// crash (SIGKILL), once with a clean stop (SIGTERM) if the drain is still
// running. The worker, the API and the agents keep running and reconnect. The
// sweep must end as an undisturbed sweep of the same reports ends: each report
// counted once, each behaviour stored once, the same strategies.
import { MilvusVectors } from '../adapters/milvus/vectors';
import { behaviorCollection, skillCollection } from '../core/behaviors/collections';
import type { SweepReport } from '../core/behaviors/types';
import { seededRandom } from '../core/random';
import { SweepWorkload } from './support/chaos-families';
import { DedicatedTemporal } from './support/dedicated-temporal';
import { requireTestMilvus } from './support/milvus';
import { WorkerChaosStack } from './support/worker-chaos';

describe('a Temporal dev server restarted while a behaviour sweep drains', () => {
  const milvusAddress = requireTestMilvus();
  const temporal = new DedicatedTemporal();
  const stack = new WorkerChaosStack('sweep-temporal-restart', SweepWorkload.workerEnv(milvusAddress));
  const sweeps = new SweepWorkload(stack);
  const vectors = new MilvusVectors({ address: milvusAddress });

  beforeAll(async () => {
    await temporal.start();
    await stack.start(temporal.address);
  }, 300_000);
  afterAll(async () => {
    await stack.close();
    await temporal.remove();
    for (const swarmId of sweeps.swarms) {
      await vectors.dropCollection(behaviorCollection(swarmId)).catch(() => undefined);
      await vectors.dropCollection(skillCollection(swarmId)).catch(() => undefined);
    }
    await vectors.close();
  }, 120_000);

  it('counts every report once and finds what an undisturbed sweep finds', async () => {
    const total = sweeps.agents * sweeps.episodes;
    const calmId = await sweeps.start(await sweeps.reportedSwarm('calm'));
    const [calm] = await stack.resultsOf<{ report: SweepReport }>([calmId], 300_000);
    expect(calm.report.counts).toMatchObject({ received: total, accepted: total, archive: total });
    // The planted world's strategies are found: the comparison below is not between two empty lists.
    expect(calm.report.strategies.length).toBeGreaterThan(0);

    const stormySwarm = await sweeps.reportedSwarm('storm');
    const workflowId = await sweeps.start(stormySwarm);
    const random = seededRandom(20261202);
    const faults: string[] = [];
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      const { status } = await stack.client.workflow.getHandle(workflowId).describe();
      if (status.name !== 'RUNNING') break;
      await sweeps.draining(workflowId);
      // Fault injection, not a wait for a condition: a seeded moment of the drain.
      const pauseMs = Math.round(200 + random() * 1000);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await temporal.restart(signal);
      faults.push(`${signal} ${pauseMs} ms into the drain`);
    }
    const [stormy] = await stack.resultsOf<{ report: SweepReport }>([workflowId], 420_000);

    expect(faults.length).toBeGreaterThanOrEqual(1);
    expect(SweepWorkload.settled(stormy.report)).toEqual(SweepWorkload.settled(calm.report));
    expect(await vectors.count(behaviorCollection(stormySwarm))).toBe(total);
    console.log(
      `sweep temporal restart chaos: ${temporal.restarts} restarts on the same SQLite file (${faults.join(', ')}), ` +
        `highest activity attempt ${await sweeps.maxAttempt(workflowId)}, ${stormy.report.counts.received} reports and ${total} stored vectors checked, ` +
        `${stormy.report.strategies.length} strategies as in the undisturbed sweep`,
    );
  }, 1_500_000);
});
