// Records test/histories/asyncTuning.json, which test/replay.test.ts replays.
// Run after a change of the asynchronous tuning workflow that is meant to be incompatible:
//   npx tsx test/support/record-async-history.ts
// The same run as another history (asyncTuningReputation: since each version's accepted updates count toward reputation):
//   npx tsx test/support/record-async-history.ts --name asyncTuningReputation
// --after-finish adds an agent that sends its update only once the last version is made (refused as
// after-finish by the drain before the topic goes); --as <name> is --name, e.g.
//   npx tsx test/support/record-async-history.ts --after-finish --as asyncTuningAfterFinish
// --cancel records instead a job cancelled while paused with an update left on its topic (refused
// after-finish by the drain a cancelled job runs):
//   npx tsx test/support/record-async-history.ts --cancel --as asyncTuningCancelled
import { QpAgent, type Trainer } from '../../agents/sdk';
import { noopTrainer } from '../../agents/trainers';
import type { TuningProgress } from '../../core/tuning';
import { tuningWorkflowId } from '../../workflows/definitions';
import { contributionCountsQuery, reputationLedgerWorkflowId } from '../../workflows/definitions-reputation';
import { runRecorder, startRecordingStack } from './recording-stack';
import { waitFor } from './stack';

const afterFinish = process.argv.includes('--after-finish');
const cancel = process.argv.includes('--cancel');
const nameAt = Math.max(process.argv.indexOf('--name'), process.argv.indexOf('--as'));
const historyName = nameAt > 0 ? process.argv[nameAt + 1] : 'asyncTuning';
const ROUNDS = 4;

runRecorder(async () => {
  if (cancel) return recordCancelled();
  const recording = await startRecordingStack();
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  let jobId = '';
  // Two quick agents and one that holds its update until the job is two versions further (refused: maxStaleness 1).
  const slow: Trainer = async (task) => {
    await waitFor('two more versions', async () => {
      const progress = await stack.api.tuning.progress(jobId);
      return progress.round >= task.round + 2 || progress.status !== 'RUNNING' ? true : undefined;
    }, 60_000);
    return noopTrainer(task);
  };
  const afterLast: Trainer = async (task) => {
    await waitFor('the last version', async () => ((await stack.api.tuning.progress(jobId)).round >= ROUNDS ? true : undefined), 60_000);
    return noopTrainer(task);
  };
  const trainers: Trainer[] = [noopTrainer, noopTrainer, slow, ...(afterFinish ? [afterLast] : [])];
  const agents = trainers.map(
    (_, i) =>
      new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `recorded-${i}-${tag}`,
        swarmId,
        capabilities: ['train'],
        resources: { cpu: 1, memoryMb: 512 },
      }),
  );
  for (const [i, agent] of agents.entries()) {
    await agent.register();
    await agent.participate(trainers[i]);
  }
  await waitFor('visibility to list the agents ACTIVE', async () => {
    const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
    return page.agents.length === agents.length ? true : undefined;
  });
  ({ jobId } = await stack.api.tuning.start({
    swarmId, mode: 'async', bufferSize: 2, maxStaleness: 1, rounds: ROUNDS, fraction: 1, minParticipants: 1,
    model: { kind: 'vector', dimension: 16 }, roundTimeoutMs: 10_000, maxRoundAttempts: 1, strategy: 'fedavg',
    strategyOptions: {}, training: { learningRate: 0.1, epochs: 1, batchSize: 32 }, evaluateEvery: 2, seed: 1,
  }));
  await stack.api.tuning.pause(jobId, true);
  await stack.api.tuning.pause(jobId, false);
  const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
  const refused = result.recentVersions!.reduce((n, v) => n + v.refusedStale, 0);
  if (result.status !== 'COMPLETED' || refused < 1) throw new Error(`unexpected run: ${JSON.stringify(result)}`);
  if (afterFinish && !result.refusedAfterFinish?.[agents[3].agentId]) throw new Error(`no update refused after finish: ${JSON.stringify(result)}`);

  const counts = await stack.client.workflow.getHandle(reputationLedgerWorkflowId(swarmId)).query(contributionCountsQuery);
  if (Object.keys(counts).length === 0) throw new Error('no accepted update was counted toward reputation');

  recording.save(tuningWorkflowId(jobId), historyName);
  await Promise.all(agents.map((a) => a.close()));
  await recording.stop();
});

/** One agent holds its update on version 0 until the paused job stops collecting; then the job is cancelled. */
async function recordCancelled(): Promise<void> {
  const recording = await startRecordingStack();
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let training = false;
  let trained = false;
  const agent = new QpAgent({
    apiUrl: stack.api.url,
    messaging: stack.ports.messaging,
    agentId: `recorded-0-${tag}`,
    swarmId,
    capabilities: ['train'],
    resources: { cpu: 1, memoryMb: 512 },
    onEvent: (event) => {
      if (event.type === 'round-trained') trained = true;
    },
  });
  await agent.register();
  await agent.participate(async (task) => {
    training = true;
    await released;
    return noopTrainer(task);
  });
  await waitFor('visibility to list the agent ACTIVE', async () => {
    const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
    return page.agents.length === 1 ? true : undefined;
  });
  const { jobId } = await stack.api.tuning.start({
    swarmId, mode: 'async', bufferSize: 1, maxStaleness: 0, rounds: 3, fraction: 1, minParticipants: 1,
    model: { kind: 'vector', dimension: 16 }, roundTimeoutMs: 10_000, maxRoundAttempts: 1, strategy: 'fedavg',
    strategyOptions: {}, training: { learningRate: 0.1, epochs: 1, batchSize: 32 }, evaluateEvery: 2, seed: 1,
  });
  const handle = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
  await waitFor('the agent training version 0', () => (training ? true : undefined), 60_000);
  // Paused during a collection, the job waits once that returns: no read of the topic after that.
  await waitFor(
    'a collection running',
    async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'collectBufferedUpdates') || undefined,
    180_000,
  );
  await stack.api.tuning.pause(jobId, true);
  await waitFor('the paused job to stop collecting', async () => ((await handle.describe()).raw.pendingActivities?.length ?? 0) === 0 ? true : undefined, 120_000, 200);
  release();
  await waitFor('the update published', () => (trained ? true : undefined), 60_000);
  await handle.cancel();
  const result: TuningProgress = await handle.result();
  if (result.status !== 'CANCELLED' || result.refusedAfterFinish?.[agent.agentId] !== 1) throw new Error(`unexpected run: ${JSON.stringify(result)}`);
  recording.save(tuningWorkflowId(jobId), historyName);
  await agent.close();
  await recording.stop();
}
