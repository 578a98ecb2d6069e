// Chaos for Temporal under a tuning job: a dev server of this suite's own,
// persisted in a SQLite file, is stopped and started again on the same file
// while a round's updates are being collected; once as a crash (SIGKILL) in
// round 2, once with a clean stop (SIGTERM) in round 3. The worker, the API and
// the agents keep running and reconnect. The job must end as an undisturbed run
// of the same job ends: every update counted once, the same bits and accuracy.
import type { TuningProgress } from '../core/tuning';
import { TuningWorkload } from './support/chaos-families';
import { DedicatedTemporal } from './support/dedicated-temporal';
import { WorkerChaosStack } from './support/worker-chaos';

describe('a Temporal dev server restarted while a tuning round is collected', () => {
  const temporal = new DedicatedTemporal();
  const stack = new WorkerChaosStack('tuning-restart');
  const tuning = new TuningWorkload(stack);

  beforeAll(async () => {
    await temporal.start();
    await stack.start(temporal.address);
  }, 180_000);
  afterAll(async () => {
    await stack.close(tuning.swarms);
    await temporal.remove();
  }, 60_000);

  it('loses no update, counts none twice, and ends on the same bits as an undisturbed run', async () => {
    const calm = await tuning.swarm('calm-tune');
    const reference: TuningProgress = await tuning.handle(await tuning.start(calm)).result();
    expect(reference.status).toBe('COMPLETED');

    const stormy = await tuning.swarm('storm-tune');
    const jobId = await tuning.start(stormy);
    const delays: number[] = [];
    for (const [round, signal] of [[2, 'SIGKILL'], [3, 'SIGTERM']] as const) {
      await tuning.collecting(jobId, round);
      // Fault injection, not a wait for a condition: while the round's updates trickle in (agent i answers i x 250 ms late).
      const delayMs = 300 * round;
      delays.push(delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await temporal.restart(signal);
    }
    const result: TuningProgress = await tuning.handle(jobId).result();

    expect(TuningWorkload.settled(result)).toEqual(TuningWorkload.settled(reference));
    expect(result.recentRounds.map((r) => r.accepted)).toEqual([6, 6, 6]);
    console.log(
      `tuning temporal restart chaos: ${temporal.restarts} restarts on the same SQLite file (SIGKILL in round 2, SIGTERM in round 3, ` +
        `${delays.join(', ')} ms into the collection), 3 rounds with ${result.recentRounds.reduce((n, r) => n + r.accepted, 0)} updates checked, ` +
        `final digest ${result.globalDigest.slice(0, 12)} as undisturbed`,
    );
  }, 240_000);
});
