// Chaos for the task delegation family: batches of tasks are delegated to SDK
// agents over Pulsar while the worker process is SIGKILLed at seeded moments
// and started again. Placement, dispatch and the results collector all run in
// that process; outcomes wait on the task-results topic until a collector hands
// them to their task. Every task must end exactly once, as in an undisturbed run
// of the same batches: SUCCEEDED with the same result, one attempt, the energy
// and carbon of that one attempt charged, and each agent's handler run once per task.
import { seededRandom } from '../core/random';
import { TaskWorkload } from './support/chaos-families';
import { WorkerChaosStack } from './support/worker-chaos';

const FIRST_BATCH = 24;
const SECOND_BATCH = 12;
const KILLS = 3;

describe('task delegation while the worker is killed', () => {
  const stack = new WorkerChaosStack('tasks-chaos');
  const tasks = new TaskWorkload(stack);

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  it('ends every task exactly once, as an undisturbed run does', async () => {
    const calm = await tasks.swarm('calm');
    const calmIds = [...(await tasks.submit(calm.swarmId, 0, FIRST_BATCH)), ...(await tasks.submit(calm.swarmId, FIRST_BATCH, SECOND_BATCH))];
    const calmStates = await tasks.results(calmIds);
    expect(calmStates.map((state) => state.status)).toEqual(calmIds.map(() => 'SUCCEEDED'));

    const stormy = await tasks.swarm('storm');
    const random = seededRandom(20261131);
    const killer = stack.killAtSeededMoments(random, KILLS, 200, 1200);
    const first = await tasks.submit(stormy.swarmId, 0, FIRST_BATCH);
    // The second batch goes in while the kills go on.
    await new Promise((resolve) => setTimeout(resolve, Math.round(300 + random() * 700)));
    const second = await tasks.submit(stormy.swarmId, FIRST_BATCH, SECOND_BATCH);
    const pauses = await killer;
    const stormyStates = await tasks.results([...first, ...second]);

    expect(stormyStates.map(TaskWorkload.settled)).toEqual(calmStates.map(TaskWorkload.settled));
    expect(stormyStates.every((state) => TaskWorkload.settled(state).chargedOnce)).toBe(true);
    expect(TaskWorkload.totalWh(stormyStates)).toBeCloseTo(TaskWorkload.totalWh(calmStates), 9);
    // Each task ran once on an agent: a redelivered dispatch was not worked twice.
    expect(stormy.runs).toEqual(calm.runs);
    expect(stormy.runs).toEqual(Array.from({ length: FIRST_BATCH + SECOND_BATCH }, () => 1));
    const discarded = stormyStates.reduce((sum, state) => sum + state.duplicatesDiscarded, 0);
    console.log(
      `task chaos: ${KILLS} worker kills (after ${pauses.join(', ')} ms), ${stormyStates.length} tasks checked, ` +
        `${discarded} duplicate outcomes discarded, ${TaskWorkload.totalWh(stormyStates).toFixed(4)} Wh charged as in the undisturbed run`,
    );
  }, 180_000);
});
