// Records test/histories/collaborativeDecisionTasks.json, collaborativeDecisionRebalance.json and
// collaborativeDecisionCancelled.json, which test/replay.test.ts replays: decisions whose actions
// start a task batch and run the swarm's rebalancing, each with its last ballot batch settled, and
// one cancelled while ACTIVE after a ballot, whose cancel answers once it is CANCELLED.
//   npx tsx test/support/record-decision-action-history.ts
import { QpAgent } from '../../agents/sdk';
import type { DecisionStatus } from '../../core/decisions/status';
import { decisionWorkflowId } from '../../workflows/definitions';
import { startRecordingStack, runRecorder } from './recording-stack';
import { waitFor } from './stack';

runRecorder(async () => {
  const recording = await startRecordingStack({ QP_TASK_REBALANCE_INTERVAL_S: '0' });
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  const agents = [0, 1].map(
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
  await Promise.all(agents.map((a) => a.onTask(async (task) => ({ echoed: task.input }))));
  await waitFor('visibility to list the agents ACTIVE', async () => {
    const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
    return page.agents.length === agents.length ? true : undefined;
  });
  const decide = async (decisionId: string, action: { kind: 'tasks' | 'rebalance'; spec: Record<string, unknown>; timelockMs?: number }) => {
    await stack.api.decisions.create(
      { decisionId, swarmId, title: 'recorded', system: 'basic', power: 'equal', votingDelayMs: 0, votingPeriodMs: 30_000, quorum: { fraction: 1 }, allowVoteChange: false, action },
      'admin',
    );
    await waitFor('voting to open', async () => ((await stack.api.decisions.status(decisionId)).state === 'ACTIVE' ? true : undefined));
    await agents[0].vote(decisionId, 'for');
    await agents[1].vote(decisionId, 'for', { via: 'api' });
    const result: DecisionStatus = await stack.client.workflow.getHandle(decisionWorkflowId(decisionId)).result();
    if (result.state !== 'EXECUTED') throw new Error(`unexpected run: ${JSON.stringify(result)}`);
    return result;
  };

  const task = { swarmId, kind: 'echo', input: { n: 1 }, estimatedWork: 1, deadline: 60_000 };
  const tasks = `recorded-tasks-${tag}`;
  await decide(tasks, { kind: 'tasks', spec: { tasks: [task, task] }, timelockMs: 300 });
  recording.save(decisionWorkflowId(tasks), 'collaborativeDecisionTasks');
  const rebalance = `recorded-rebalance-${tag}`;
  await decide(rebalance, { kind: 'rebalance', spec: {} });
  recording.save(decisionWorkflowId(rebalance), 'collaborativeDecisionRebalance');

  const cancelled = `recorded-cancelled-${tag}`;
  await stack.api.decisions.create(
    { decisionId: cancelled, swarmId, title: 'recorded', system: 'basic', power: 'equal', votingDelayMs: 0, votingPeriodMs: 30_000, quorum: { fraction: 1 }, allowVoteChange: false },
    'admin',
  );
  await waitFor('voting to open', async () => ((await stack.api.decisions.status(cancelled)).state === 'ACTIVE' ? true : undefined));
  await agents[0].vote(cancelled, 'for');
  await waitFor('the ballot to be counted', async () => ((await stack.api.decisions.status(cancelled)).voters === 1 ? true : undefined));
  const answer = await stack.api.decisions.cancel(cancelled, 'superseded');
  if (answer.state !== 'CANCELLED') throw new Error(`the cancel answered ${answer.state}`);
  await stack.client.workflow.getHandle(decisionWorkflowId(cancelled)).result();
  recording.save(decisionWorkflowId(cancelled), 'collaborativeDecisionCancelled');

  await Promise.all(agents.map((a) => a.close()));
  await recording.stop();
});
