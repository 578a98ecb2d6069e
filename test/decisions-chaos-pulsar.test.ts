// Chaos for the decisions family: proposals go out and SDK agents vote with
// signed ballots over Pulsar while the worker process is SIGKILLed at seeded
// moments and started again. The electorate snapshot, the announcement, the
// counting batches (ballots acknowledged only once their chunk is stored) and
// the outcome all run in that process. Every decision must close as an
// undisturbed run of the same proposals and ballots closes it: same state,
// winner and tally, each ballot kept once (a changed vote replacing the
// earlier one, never added to it).
import { seededRandom } from '../core/random';
import { DecisionWorkload, PROPOSALS } from './support/chaos-families';
import { WorkerChaosStack } from './support/worker-chaos';

const KILLS = 3;

describe('collaborative decisions while the worker is killed', () => {
  const stack = new WorkerChaosStack('decisions-chaos');
  const decisions = new DecisionWorkload(stack);

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  it('counts every ballot once and closes every decision as an undisturbed run does', async () => {
    const calmSwarm = await decisions.swarm('calm');
    const calm = await decisions.closed(await decisions.propose(calmSwarm.swarmId));
    expect(calm.map((status) => status.voters)).toEqual(PROPOSALS.map(() => decisions.agents));

    const stormySwarm = await decisions.swarm('storm');
    const killer = stack.killAtSeededMoments(seededRandom(20261132), KILLS, 300, 1500);
    const ids = await decisions.propose(stormySwarm.swarmId);
    const pauses = await killer;
    const stormy = await decisions.closed(ids);

    expect(stormy.map(DecisionWorkload.settled)).toEqual(calm.map(DecisionWorkload.settled));
    // Every ballot cast was accepted once: none lost, none kept twice.
    let ballots = 0;
    for (const [k, id] of ids.entries()) {
      const cast = decisions.cast(stormySwarm.members, k);
      expect(await decisions.keptBallots(id)).toEqual(cast);
      ballots += cast.length;
    }
    console.log(
      `decision chaos: ${KILLS} worker kills (after ${pauses.join(', ')} ms), ${ids.length} decisions and ${ballots} ballots checked, ` +
        `tallies equal to the undisturbed run's`,
    );
  }, 180_000);
});
