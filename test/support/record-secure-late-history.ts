// Records test/histories/federatedTuningSecureLate.json, which test/replay.test.ts replays: a secure-aggregation
// job whose last round closes without one participant, whose key advertisement then comes late and is counted
// late in that round by the drain before the job's topic goes.
//   npx tsx test/support/record-secure-late-history.ts
import { QpAgent, type Trainer } from '../../agents/sdk';
import { noopTrainer } from '../../agents/trainers';
import { swarmTopics } from '../../core/topics';
import { encodeSecAggHeader, type TuningProgress } from '../../core/tuning';
import { tuningProgressQuery, tuningWorkflowId } from '../../workflows/definitions';
import { runRecorder, startRecordingStack } from './recording-stack';
import { waitFor } from './stack';

runRecorder(async () => {
  const recording = await startRecordingStack();
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  const silent: Trainer = async () => undefined;
  const trainers: Trainer[] = [noopTrainer, noopTrainer, silent];
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
  const { jobId } = await stack.api.tuning.start({
    swarmId, rounds: 1, fraction: 1, minParticipants: 2, model: { kind: 'vector', dimension: 16 }, roundTimeoutMs: 5_000,
    maxRoundAttempts: 1, strategy: 'fedavg', strategyOptions: {}, training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
    secureAggregation: { stageTimeoutMs: 5_000, clipRange: 4 }, evaluateEvery: 1, seed: 1,
  });
  const handle = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
  await waitFor('the round to close', async () => ((await handle.query(tuningProgressQuery)).round >= 1 ? true : undefined), 120_000);
  const lateAgent = agents[2].agentId;
  await stack.ports.messaging.publish(swarmTopics(swarmId).updates(jobId), Buffer.from('{}'), {
    key: lateAgent,
    properties: encodeSecAggHeader({ jobId, round: 1, attempt: 1, agentId: lateAgent }),
  });
  const result: TuningProgress = await handle.result();
  if (result.status !== 'COMPLETED' || result.recentRounds[0]?.rejected.late !== 1) throw new Error(`unexpected run: ${JSON.stringify(result)}`);
  recording.save(tuningWorkflowId(jobId), 'federatedTuningSecureLate');
  await Promise.all(agents.map((a) => a.close()));
  await recording.stop();
});
