// Chaos for the messaging layer: the manager's worker, its API and the agents
// use a Pulsar broker of this suite's own (the shared one never goes away),
// which is stopped and started again, keeping its data, while agents register,
// tasks are worked on, ballots counted and a tuning job's rounds collected.
// Every client reconnects; what was not acknowledged is redelivered. Everything
// must end as an undisturbed run on the same broker ends: each task once with
// one attempt charged, each ballot kept once and the same tallies, every
// session ACTIVE with its one credential, every update counted once in its
// round and the same final model bits.
import { seededRandom } from '../core/random';
import type { TuningProgress } from '../core/tuning';
import { DecisionWorkload, PROPOSALS, TaskWorkload, TuningWorkload } from './support/chaos-families';
import { removeExtraBrokers, startExtraBroker, type ExtraBroker } from './support/pulsar';
import { uniqueId } from './support/stack';
import { WorkerChaosStack } from './support/worker-chaos';

const TASKS = 24;
/** Agents that register while the broker goes away. */
const LATE_AGENTS = 4;
const proposals = PROPOSALS.slice(0, 3);
/** Longer than the broker is away: updates wait out the outage and still count in their round. */
const ROUND_TIMEOUT_MS = 150_000;

describe('a Pulsar broker restarted under the swarm', () => {
  let broker: ExtraBroker;
  const stack = new WorkerChaosStack('broker-restart');
  const tasks = new TaskWorkload(stack);
  const decisions = new DecisionWorkload(stack, 8, proposals);
  const tuning = new TuningWorkload(stack);

  beforeAll(async () => {
    broker = await startExtraBroker('chaos-restart');
    await stack.start(undefined, { serviceUrl: `pulsar://127.0.0.1:${broker.brokerPort}`, adminUrl: broker.adminUrl, webSocketUrl: broker.webSocketUrl });
  }, 360_000);
  afterAll(async () => {
    await stack.close(tuning.swarms);
    await removeExtraBrokers();
  }, 90_000);

  it('loses no registration, task, ballot or update and counts none twice', async () => {
    const [calmTasks, calmVoters, calmTuning] = await Promise.all([tasks.swarm('calm-tasks'), decisions.swarm('calm-votes'), tuning.swarm('calm-tune')]);
    const [calmStates, calmDecisions, calmJob] = await Promise.all([
      tasks.submit(calmTasks.swarmId, 0, TASKS).then((ids) => tasks.results(ids)),
      decisions.propose(calmVoters.swarmId).then((ids) => decisions.closed(ids)),
      tuning.start(calmTuning, ROUND_TIMEOUT_MS).then((jobId) => tuning.handle(jobId).result() as Promise<TuningProgress>),
    ]);
    expect(calmJob.status).toBe('COMPLETED');
    expect(calmStates.map((state) => state.status)).toEqual(calmStates.map(() => 'SUCCEEDED'));
    expect(calmDecisions.map((status) => status.voters)).toEqual(proposals.map(() => decisions.agents));

    const [stormyTasks, stormyVoters, stormyTuning] = await Promise.all([tasks.swarm('storm-tasks'), decisions.swarm('storm-votes'), tuning.swarm('storm-tune')]);
    const jobId = await tuning.start(stormyTuning, ROUND_TIMEOUT_MS);
    const taskIds = await tasks.submit(stormyTasks.swarmId, 0, TASKS);
    const decisionIds = await decisions.propose(stormyVoters.swarmId);
    // Agents that begin their handshake just before the broker goes away.
    const lateSwarm = uniqueId('storm-register');
    // Their challenge waits in the inbox while the broker is down: they wait out a restart, not the default 90 s.
    const registering = stack.registerSwarm(lateSwarm, LATE_AGENTS, () => ({ handshakeTimeoutMs: 240_000 }));
    const pauseMs = Math.round(200 + seededRandom(20261135)() * 800);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const stopMs = await broker.stop();
    const startMs = await broker.start();
    const [stormyStates, stormyDecisions, lateMembers, stormyJob] = await Promise.all([
      tasks.results(taskIds, 180_000),
      decisions.closed(decisionIds, 180_000),
      registering,
      stack.resultsOf<TuningProgress>([tuning.handle(jobId).workflowId], 240_000).then(([progress]) => progress),
    ]);

    expect(stormyStates.map(TaskWorkload.settled)).toEqual(calmStates.map(TaskWorkload.settled));
    expect(stormyTasks.runs).toEqual(Array.from({ length: TASKS }, () => 1));
    expect(stormyDecisions.map(DecisionWorkload.settled)).toEqual(calmDecisions.map(DecisionWorkload.settled));
    // A publish the broker stored but could not confirm before it went is sent again (by the client
    // on reconnect): the copy must be refused as a duplicate, and nothing else may differ.
    const duplicates = stormyJob.recentRounds.map((r) => r.rejected.duplicate ?? 0);
    const withoutDuplicates = (progress: TuningProgress) => {
      const settled = TuningWorkload.settled(progress);
      return { ...settled, rejected: settled.rejected.map(({ duplicate: _copies, ...rest }) => rest) };
    };
    expect(withoutDuplicates(stormyJob)).toEqual(withoutDuplicates(calmJob));
    expect(calmJob.recentRounds.map((r) => r.rejected.duplicate ?? 0)).toEqual([0, 0, 0]);
    for (const [k, copies] of duplicates.entries()) expect(copies).toBeLessThanOrEqual(stormyJob.recentRounds[k].accepted);
    let ballots = 0;
    for (const [k, id] of decisionIds.entries()) {
      const cast = decisions.cast(stormyVoters.members, k);
      expect(await decisions.keptBallots(id)).toEqual(cast);
      ballots += cast.length;
    }
    // Registration: every session, old and new, is ACTIVE, and each agent's one credential works.
    const members = [...stormyTasks.members, ...stormyVoters.members, ...lateMembers];
    expect(await stack.statusesAfterHeartbeat(members)).toEqual(members.map(() => 'ACTIVE'));
    console.log(
      `broker restart chaos: 1 restart ${pauseMs} ms after the work went out (stop ${stopMs} ms, start ${startMs} ms), ` +
        `${stormyStates.length} tasks, ${decisionIds.length} decisions with ${ballots} ballots, ${members.length} sessions ` +
        `(${LATE_AGENTS} registered across the restart) and a 3-round tuning job (${stormyJob.recentRounds.map((r) => r.accepted).join('+')} updates, same bits, ` +
        `${duplicates.reduce((n, d) => n + d, 0)} resent copies refused as duplicates) checked`,
    );
  }, 540_000);
});
