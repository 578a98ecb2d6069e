// Chaos for the task delegation family: batches of tasks are delegated to SDK
// agents over Pulsar while the worker process is SIGKILLed at seeded moments
// and started again. Placement, dispatch and the results collector all run in
// that process; outcomes wait on the task-results topic until a collector hands
// them to their task. Every task must end exactly once, as in an undisturbed run
// of the same batches: SUCCEEDED with the same result, one attempt, the energy
// and carbon of that one attempt charged, and each agent's handler run once per task.
import type { QpAgent } from '../agents/sdk';
import { seededRandom } from '../core/random';
import type { TaskState } from '../core/tasks';
import { taskWorkflowId } from '../workflows/definitions-tasks';
import { uniqueId } from './support/stack';
import { WorkerChaosStack } from './support/worker-chaos';

const AGENTS = 6;
const FIRST_BATCH = 24;
const SECOND_BATCH = 12;
const KILLS = 3;
/** How long an agent works on one task, ms: a batch keeps the agents busy for a few seconds. */
const WORK_MS = 100;

interface Run {
  states: TaskState[];
  /** Handler runs per task index, over all agents. */
  runs: number[];
}

describe('task delegation while the worker is killed', () => {
  const stack = new WorkerChaosStack('tasks-chaos');

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  /** A swarm of alike agents whose handler doubles the input after WORK_MS, counting its runs. */
  async function swarm(swarmId: string, runs: number[]): Promise<QpAgent[]> {
    const members = await stack.registerSwarm(swarmId, AGENTS);
    await Promise.all(
      members.map((agent) =>
        agent.onTask(async (task) => {
          const { n } = task.input as { n: number };
          runs[n] = (runs[n] ?? 0) + 1;
          await new Promise((resolve) => setTimeout(resolve, WORK_MS));
          return { doubled: n * 2 };
        }),
      ),
    );
    return members;
  }

  async function submit(swarmId: string, from: number, count: number): Promise<string[]> {
    const tasks = Array.from({ length: count }, (_, k) => ({
      taskId: `${swarmId}-t${from + k}`,
      swarmId,
      kind: 'double',
      input: { n: from + k },
      estimatedWork: 2 + ((from + k) % 3),
      deadline: 600_000,
    }));
    const { status, body } = await stack.call('POST', '/api/v1/tasks/batch', { tasks });
    expect(status).toBe(202);
    return (body.tasks as { taskId: string }[]).map((accepted) => accepted.taskId);
  }

  const results = (taskIds: string[]): Promise<TaskState[]> => stack.resultsOf(taskIds.map(taskWorkflowId), 120_000);

  /** What must not depend on the kills, per task. */
  const settled = (state: TaskState) => ({
    status: state.status,
    result: state.result,
    attempts: state.attempts.map((attempt) => attempt.outcome),
    energyWh: state.energyWh,
    carbonG: state.carbonG,
    chargedOnce: state.energyWh === state.attempts.find((attempt) => attempt.outcome === 'succeeded')?.expected?.energyWh,
  });

  it('ends every task exactly once, as an undisturbed run does', async () => {
    const calm: Run = { states: [], runs: [] };
    const calmSwarm = uniqueId('calm');
    await swarm(calmSwarm, calm.runs);
    const calmIds = [...(await submit(calmSwarm, 0, FIRST_BATCH)), ...(await submit(calmSwarm, FIRST_BATCH, SECOND_BATCH))];
    calm.states = await results(calmIds);
    expect(calm.states.map((state) => state.status)).toEqual(calmIds.map(() => 'SUCCEEDED'));

    const stormy: Run = { states: [], runs: [] };
    const stormySwarm = uniqueId('storm');
    await swarm(stormySwarm, stormy.runs);
    const random = seededRandom(20261131);
    const killer = stack.killAtSeededMoments(random, KILLS, 200, 1200);
    const first = await submit(stormySwarm, 0, FIRST_BATCH);
    // The second batch goes in while the kills go on.
    await new Promise((resolve) => setTimeout(resolve, Math.round(300 + random() * 700)));
    const second = await submit(stormySwarm, FIRST_BATCH, SECOND_BATCH);
    const pauses = await killer;
    stormy.states = await results([...first, ...second]);

    expect(stormy.states.map(settled)).toEqual(calm.states.map(settled));
    expect(stormy.states.every((state) => settled(state).chargedOnce)).toBe(true);
    const totalWh = (run: Run) => run.states.reduce((sum, state) => sum + (state.energyWh ?? 0), 0);
    expect(totalWh(stormy)).toBeCloseTo(totalWh(calm), 9);
    // Each task ran once on an agent: a redelivered dispatch was not worked twice.
    expect(stormy.runs).toEqual(calm.runs);
    expect(stormy.runs).toEqual(Array.from({ length: FIRST_BATCH + SECOND_BATCH }, () => 1));
    const discarded = stormy.states.reduce((sum, state) => sum + state.duplicatesDiscarded, 0);
    console.log(
      `task chaos: ${KILLS} worker kills (after ${pauses.join(', ')} ms), ${stormy.states.length} tasks checked, ` +
        `${discarded} duplicate outcomes discarded, ${totalWh(stormy).toFixed(4)} Wh charged as in the undisturbed run`,
    );
  }, 180_000);
});
