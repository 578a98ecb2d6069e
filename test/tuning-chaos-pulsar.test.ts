// Chaos: the worker process is killed (SIGKILL) in the middle of a round's
// aggregation and started again. Updates travel over a real Pulsar broker and
// models live in a filesystem blob store, so nothing of the round lives only
// in the dead process. The job must finish with a final model bit-identical
// to an undisturbed run of the same job.
import type { TuningProgress } from '../core/tuning';
import { TuningWorkload } from './support/chaos-families';
import { WorkerChaosStack } from './support/worker-chaos';

describe('a worker killed mid-aggregation', () => {
  const stack = new WorkerChaosStack('chaos');
  const tuning = new TuningWorkload(stack);

  beforeAll(() => stack.start());
  afterAll(() => stack.close(tuning.swarms));

  it('loses no update, counts none twice, and ends on the same bits as an undisturbed run', async () => {
    const calm = await tuning.swarm('calm');
    const reference: TuningProgress = await tuning.handle(await tuning.start(calm)).result();
    expect(reference.status).toBe('COMPLETED');

    const stormy = await tuning.swarm('storm');
    const jobId = await tuning.start(stormy);
    const handle = tuning.handle(jobId);
    // Kill the worker while round 2's aggregation has taken in some updates but not all.
    await tuning.collecting(jobId, 2);
    // Fault injection, not a wait for a condition: soon enough that the aggregation is still
    // collecting (on a quiet machine 600 ms was enough for it to finish, and the kill missed it).
    await new Promise((resolve) => setTimeout(resolve, 150));
    await stack.restartWorker();

    const result: TuningProgress = await handle.result();
    // The aggregation really was cut short and run again by the new worker.
    const events = (await handle.fetchHistory()).events ?? [];
    const attempts = events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds.map((r) => r.accepted)).toEqual([6, 6, 6]);
    expect(result.globalDigest).toBe(reference.globalDigest);
    expect(result.recentRounds.at(-1)!.accuracy).toBe(reference.recentRounds.at(-1)!.accuracy);
  }, 240_000);
});
