// Records test/histories/reputationLedger.json, which test/replay.test.ts replays: a swarm's
// ledger of accepted round updates after a three-round tuning job, and one round signalled twice.
//   npx tsx test/support/record-reputation-history.ts
// The same run once rounds carried their time and the ledger kept decaying scores:
//   npx tsx test/support/record-reputation-history.ts --name reputationLedgerScores
import { simulateSwarm } from '../../agents/simulate';
import { noopTrainer } from '../../agents/trainers';
import { TemporalContributionLedger } from '../../adapters/temporal/contribution-ledger';
import { reputationLedgerWorkflowId } from '../../workflows/definitions-reputation';
import { tuningWorkflowId } from '../../workflows/definitions';
import { ADMIN_TOKEN, waitFor } from './stack';
import { startRecordingStack, runRecorder } from './recording-stack';

const nameAt = process.argv.indexOf('--name');
const historyName = nameAt > 0 ? process.argv[nameAt + 1] : 'reputationLedger';

runRecorder(async () => {
  const recording = await startRecordingStack();
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  const swarm = await simulateSwarm({
    apiUrl: stack.api.url,
    messaging: stack.ports.messaging,
    count: 2,
    swarmId,
    idPrefix: swarmId,
    trainers: [noopTrainer, noopTrainer],
    heartbeatIntervalMs: 5_000,
  });
  await waitFor('visibility to list the agents ACTIVE', async () => {
    const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
    return page.agents.length === 2 ? true : undefined;
  });
  const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ swarmId, model: { kind: 'vector', dimension: 8 }, rounds: 3, fraction: 1, minParticipants: 2, roundTimeoutMs: 20_000 }),
  });
  const { jobId } = (await res.json()) as { jobId: string };
  await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
  // The last round again, as a retried activity would send it: it counts once.
  const ledger = new TemporalContributionLedger(stack.client, `record-${tag}`);
  await ledger.record({ swarmId, jobId, round: 3, agentIds: swarm.agents.map((a) => a.agentId) });
  const counts = await ledger.counts(swarmId);
  if (Object.values(counts).some((count) => count !== 3)) throw new Error(`unexpected counts: ${JSON.stringify(counts)}`);

  const scores = await ledger.scores(swarmId);
  if (Object.values(scores).some((entry) => entry.score !== 3)) throw new Error(`unexpected scores: ${JSON.stringify(scores)}`);

  recording.save(reputationLedgerWorkflowId(swarmId), historyName);
  await swarm.stop();
  await recording.stop();
});
