// Records test/histories/agentPool.json and autoscalePool.json, which
// test/replay.test.ts replays: a pool's record taking a policy, a carbon input
// and the decisions of its Schedule's runs, and one of those runs (observe,
// decide, scale, record). Run after a change of workflows/autoscaling.ts that
// is meant to be incompatible:
//   npx tsx test/support/record-pool-history.ts
// or, to keep the older histories and add the current code's beside them:
//   npx tsx test/support/record-pool-history.ts --names agentPoolSummary,autoscalePoolSummary
// With --deadline, the policy has a deadline (the runs read the oldest message's age and plan on the forecast):
//   npx tsx test/support/record-pool-history.ts --deadline --names agentPoolDeadline,autoscalePoolDeadline
// With --retried, the last decision is recorded again (a recordScaling retried after its completion was lost) and kept once:
//   npx tsx test/support/record-pool-history.ts --retried --names agentPoolRetried,autoscalePoolRetried
import { MemoryBlobStore } from '../../adapters/memory/blobs';
import { MemoryCluster } from '../../adapters/memory/cluster';
import { MemoryMessaging } from '../../adapters/memory/messaging';
import { MemoryVectors } from '../../adapters/memory/vectors';
import type { PoolView } from '../../api/pool-service';
import { AUTOSCALE_POOL_WORKFLOW, agentPoolWorkflowId, autoscaleScheduleId, poolRecordQuery, recordScalingUpdate } from '../../workflows/definitions';
import { startRecordingStack, runRecorder } from './recording-stack';
import { ADMIN_TOKEN, waitFor } from './stack';

const policy = {
  minReplicas: 0,
  maxReplicas: 6,
  fallbackReplicas: 3,
  backlog: { targetPerReplica: 10, activationThreshold: 0 },
  carbon: { bands: [{ maxIntensity: 300, maxReplicas: 6 }, { maxIntensity: 10_000, maxReplicas: 1 }] },
  behavior: {
    scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  },
};

const deadline = process.argv.includes('--deadline');
const retried = process.argv.includes('--retried');
const namesAt = process.argv.indexOf('--names');
const [poolHistory, runHistory] = namesAt > 0 ? process.argv[namesAt + 1].split(',') : ['agentPool', 'autoscalePool'];

runRecorder(async () => {
  const recording = await startRecordingStack(
    { QP_AUTOSCALE_INTERVAL_S: '1' },
    { messaging: new MemoryMessaging(), vectors: new MemoryVectors(), cluster: new MemoryCluster(), blobs: new MemoryBlobStore() },
  );
  const { stack, tag } = recording;
  const pool = `recorded-${tag}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${stack.api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as PoolView;
  };
  const decisions = async () => (await call('GET', `/api/v1/pools/${pool}`)).autoscaling?.decisions ?? [];
  // 30 tasks waiting, 10 per replica: the Schedule's first run asks for 3.
  const backlogTopic = `swarm/${pool}/tasks`;
  const work = await stack.ports.messaging.subscribe(backlogTopic, 'workers', { type: 'shared' });
  for (let i = 0; i < 30; i++) await stack.ports.messaging.publish(backlogTopic, Buffer.from(`task ${i}`));
  if (deadline) {
    // 3000 replica-seconds before the oldest is 2 h old; a forecast 100 g/kWh from 20 minutes on holds them: 0 now.
    await call('PUT', `/api/v1/pools/${pool}`, { policy: { ...policy, deadline: { sloSeconds: 7200, messagesPerReplicaSecond: 0.01 } }, backlogTopic });
    await call('POST', `/api/v1/pools/${pool}/carbon`, { intensity: 450, forecast: [{ at: Date.now() + 1_200_000, intensity: 100 }] });
    await waitFor(
      'a decision waiting for the clean hour',
      async () => ((await decisions()).at(-1)?.inputs.plannedCleanestIntensity === 100 ? true : undefined),
      120_000,
      250,
    );
  } else {
    await call('PUT', `/api/v1/pools/${pool}`, { policy, backlogTopic });
    await waitFor('a decision for 3', async () => ((await decisions()).at(-1)?.desiredReplicas === 3 ? true : undefined), 60_000, 250);
    await call('POST', `/api/v1/pools/${pool}/carbon`, { intensity: 450 });
    await waitFor('a carbon-capped decision', async () => ((await decisions()).at(-1)?.desiredReplicas === 1 ? true : undefined), 60_000, 250);
  }
  await stack.client.schedule.getHandle(autoscaleScheduleId(pool)).delete();
  await work.close();
  if (retried) {
    const poolHandle = stack.client.workflow.getHandle(agentPoolWorkflowId(pool));
    const record = await poolHandle.query(poolRecordQuery);
    const decision = record.decisions.at(-1)!;
    const kept = await poolHandle.executeUpdate(recordScalingUpdate, { args: [{ decision, scaling: record.scaling, energy: record.energy }] });
    if (kept.decisions.filter((d) => d.id === decision.id).length !== 1) throw new Error(`decision ${decision.id} recorded twice`);
  }

  let runId: string | undefined;
  for await (const run of stack.client.workflow.list({ query: `WorkflowType = '${AUTOSCALE_POOL_WORKFLOW}' AND ExecutionStatus = 'Completed'` })) {
    runId = run.workflowId;
    break;
  }
  if (!runId) throw new Error('no completed autoscalePool run');
  recording.save(runId, runHistory);
  recording.save(agentPoolWorkflowId(pool), poolHistory);
  await stack.client.workflow.getHandle(agentPoolWorkflowId(pool)).terminate('recorded');
  await recording.stop();
});
