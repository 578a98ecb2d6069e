// Chaos for Temporal itself: a dev server of this suite's own, persisted in a
// SQLite file, is stopped and started again on the same file while tasks are
// delegated, decisions are voted on and agents hold registration sessions; once
// with a clean stop (SIGTERM), once as a crash (SIGKILL). The worker process and
// the API keep running and reconnect. Every family must end as an undisturbed
// run on the same server ends: each task once with one attempt charged, each
// ballot kept once and the same tallies, every session still ACTIVE.
import { seededRandom } from '../core/random';
import { DecisionWorkload, PROPOSALS, TaskWorkload } from './support/chaos-families';
import { DedicatedTemporal } from './support/dedicated-temporal';
import { WorkerChaosStack } from './support/worker-chaos';

const TASKS = 24;

describe('a Temporal dev server restarted on its SQLite file', () => {
  const temporal = new DedicatedTemporal();
  const stack = new WorkerChaosStack('temporal-restart');
  const tasks = new TaskWorkload(stack);
  const decisions = new DecisionWorkload(stack);

  beforeAll(async () => {
    await temporal.start();
    await stack.start(temporal.address);
  });
  afterAll(async () => {
    await stack.close();
    await temporal.remove();
  });

  it('loses no task, ballot or session and counts none twice', async () => {
    const [calmTasks, calmVoters] = await Promise.all([tasks.swarm('calm-tasks'), decisions.swarm('calm-votes')]);
    const [calmStates, calmDecisions] = await Promise.all([
      tasks.submit(calmTasks.swarmId, 0, TASKS).then((ids) => tasks.results(ids)),
      decisions.propose(calmVoters.swarmId).then((ids) => decisions.closed(ids)),
    ]);
    expect(calmStates.map((state) => state.status)).toEqual(calmStates.map(() => 'SUCCEEDED'));
    expect(calmDecisions.map((status) => status.voters)).toEqual(PROPOSALS.map(() => decisions.agents));

    const [stormyTasks, stormyVoters] = await Promise.all([tasks.swarm('storm-tasks'), decisions.swarm('storm-votes')]);
    const taskIds = await tasks.submit(stormyTasks.swarmId, 0, TASKS);
    const decisionIds = await decisions.propose(stormyVoters.swarmId);
    // The server goes away while the tasks are worked on and the ballots counted.
    const random = seededRandom(20261134);
    const pauses: number[] = [];
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const pauseMs = Math.round(300 + random() * 1200);
      pauses.push(pauseMs);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await temporal.restart(signal);
    }
    const [stormyStates, stormyDecisions] = await Promise.all([tasks.results(taskIds), decisions.closed(decisionIds)]);

    expect(stormyStates.map(TaskWorkload.settled)).toEqual(calmStates.map(TaskWorkload.settled));
    expect(stormyTasks.runs).toEqual(Array.from({ length: TASKS }, () => 1));
    for (const [k, status] of stormyDecisions.entries()) {
      if (status.voters !== calmDecisions[k].voters) console.log(`decision ${PROPOSALS[k].name} lost ballots: ${decisions.story(status)}`);
    }
    expect(stormyDecisions.map(DecisionWorkload.settled)).toEqual(calmDecisions.map(DecisionWorkload.settled));
    let ballots = 0;
    for (const [k, id] of decisionIds.entries()) {
      const cast = decisions.cast(stormyVoters.members, k);
      expect(await decisions.keptBallots(id)).toEqual(cast);
      ballots += cast.length;
    }
    // Registration: every session survived, and each agent's one credential still works.
    const members = [...stormyTasks.members, ...stormyVoters.members];
    expect(await stack.statusesAfterHeartbeat(members)).toEqual(members.map(() => 'ACTIVE'));
    console.log(
      `temporal restart chaos: ${temporal.restarts} restarts on the same SQLite file (SIGTERM, SIGKILL, after ${pauses.join(', ')} ms), ` +
        `${stormyStates.length} tasks, ${decisionIds.length} decisions with ${ballots} ballots and ${members.length} sessions checked`,
    );
  }, 360_000);
});
