// Records test/histories/collaborativeDecision.json, which test/replay.test.ts replays.
// Run after a change of the decision workflow that is meant to be incompatible:
//   npx tsx test/support/record-decision-history.ts
// or, to keep the older history and add one for a new patched path:
//   npx tsx test/support/record-decision-history.ts --as collaborativeDecisionAnnounced
import { QpAgent } from '../../agents/sdk';
import { decisionTopic } from '../../core/decisions/topics';
import type { DecisionStatus } from '../../core/decisions/status';
import { decisionWorkflowId } from '../../workflows/definitions';
import { startRecordingStack, runRecorder } from './recording-stack';
import { waitFor } from './stack';

runRecorder(async () => {
  const recording = await startRecordingStack();
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  const agents = [0, 1, 2].map(
    (i) =>
      new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `recorded-${i}-${tag}`,
        swarmId,
        capabilities: ['vote'],
        resources: { cpu: 1, memoryMb: 512 },
      }),
  );
  await Promise.all(agents.map((a) => a.register()));
  await waitFor('visibility to list the agents ACTIVE', async () => {
    const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
    return page.agents.length === agents.length ? true : undefined;
  });
  // A vote change, a ballot over the API, a forged one on the topic, a quorum reached late, the deadline, a timelocked tuning action.
  const decisionId = `recorded-${tag}`;
  const { decisionId: opened } = await stack.api.decisions.create(
    {
      decisionId, swarmId, title: 'recorded', system: 'basic', power: 'equal', votingDelayMs: 500, votingPeriodMs: 4_000,
      quorum: { absolute: 2 }, lateQuorumExtensionMs: 1_000, allowVoteChange: true,
      action: { kind: 'tuning', spec: { rounds: 1, roundTimeoutMs: 1_000, maxRoundAttempts: 1 }, timelockMs: 300 },
    },
    'admin',
  );
  await waitFor('voting to open', async () => ((await stack.api.decisions.status(opened)).state === 'ACTIVE' ? true : undefined));
  await agents[0].vote(decisionId, 'against');
  await agents[0].vote(decisionId, 'for');
  await stack.ports.messaging.publish(decisionTopic(swarmId, decisionId), Buffer.from(JSON.stringify({ decisionId, agentId: agents[2].agentId, choice: 'against', castAt: 1, signature: 'AAAA' })));
  await waitFor('3.5 s into the vote', async () => {
    const status = await stack.api.decisions.status(opened);
    return Date.now() >= status.opensAt + 3_500 ? true : undefined;
  });
  await agents[1].vote(decisionId, 'for', { via: 'api' });
  const result: DecisionStatus = await stack.client.workflow.getHandle(decisionWorkflowId(decisionId)).result();
  if (result.state !== 'EXECUTED' || result.quorumReachedAt === undefined) throw new Error(`unexpected run: ${JSON.stringify(result)}`);
  await stack.client.workflow.getHandle(result.action!.workflowId!).cancel();

  const as = process.argv.indexOf('--as');
  recording.save(decisionWorkflowId(decisionId), as > 0 ? process.argv[as + 1] : 'collaborativeDecision');
  await Promise.all(agents.map((a) => a.close()));
  await recording.stop();
});
