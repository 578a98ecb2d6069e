// Records the histories that test/replay.test.ts replays. Run after a change
// of workflow code that is meant to be incompatible (and say why in the commit):
//   npx tsx test/support/record-histories.ts   (needs a dev server: npm run stack -- up)
//   npx tsx test/support/record-histories.ts --tuning-as federatedTuningDeferredAcks   (only the tuning job)
import { execFileSync } from 'node:child_process';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QpAgent } from '../../agents/sdk';
import { parseConfig } from '../../core/config';
import { registrationWorkflowId, livenessWorkflowId, tuningWorkflowId } from '../../workflows/definitions';
import { noopTrainer } from '../../agents/trainers';
import type { Embedded } from '../../workers/embedded';
import { startEmbedded } from '../../workers/embedded';

Runtime.install({ logger: new DefaultLogger('WARN') });

async function main(): Promise<void> {
  const tag = Date.now().toString(36);
  const config = parseConfig({
    ...process.env,
    QP_TASK_QUEUE: `record-${tag}`,
    QP_HEARTBEAT_GRACE_MS: '1000',
    QP_LIVENESS_WINDOW_MS: '200',
  });
  const stack = await startEmbedded({ config, apiPort: 0 });
  const swarmId = `record-${tag}`;
  const agent = new QpAgent({
    apiUrl: stack.api.url,
    messaging: stack.ports.messaging,
    agentId: `recorded-${tag}`,
    swarmId,
    capabilities: ['train'],
    resources: { cpu: 2, memoryMb: 2048 },
    heartbeatIntervalMs: 100,
  });
  await agent.register();
  agent.startHeartbeats();
  await new Promise((resolve) => setTimeout(resolve, 800));
  agent.stopHeartbeats();
  // Let the monitor mark it LOST, then come back, then re-register and leave.
  const handle = stack.client.workflow.getHandle(registrationWorkflowId(agent.agentId));
  const waitStatus = async (status: string) => {
    for (let i = 0; i < 100; i++) {
      const record = await handle.query<{ status: string }>('getAgent');
      if (record.status === status) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`agent never became ${status}`);
  };
  await waitStatus('LOST');
  agent.startHeartbeats();
  await waitStatus('ACTIVE');
  await agent.register();

  // A short tuning job with a second agent: three rounds, one evaluated.
  const peer = new QpAgent({
    apiUrl: stack.api.url,
    messaging: stack.ports.messaging,
    agentId: `recorded-peer-${tag}`,
    swarmId,
    capabilities: ['train'],
    resources: { cpu: 2, memoryMb: 2048 },
    heartbeatIntervalMs: 100,
  });
  await peer.register();
  peer.startHeartbeats();
  agent.startHeartbeats();
  await agent.participate(noopTrainer);
  await peer.participate(noopTrainer);
  await waitActive(stack, swarmId, 2);
  const { jobId } = await stack.api.tuning.start({
    jobId: `recorded-${tag}`,
    swarmId,
    model: { kind: 'vector', dimension: 16 },
    rounds: 3,
    fraction: 1,
    minParticipants: 2,
    roundTimeoutMs: 10_000,
    maxRoundAttempts: 2,
    strategy: 'fedavgm',
    strategyOptions: {},
    training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
    privacy: { clipNorm: 1, noiseMultiplier: 0.5, delta: 1e-5 },
    evaluateEvery: 3,
    seed: 3,
  });
  const tuning = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
  await tuning.result();
  await peer.deregister();

  await agent.deregister();
  await handle.result();
  const monitor = stack.client.workflow.getHandle(livenessWorkflowId(swarmId));
  await monitor.terminate('recorded');

  const dir = join(__dirname, '..', 'histories');
  const temporal = execFileSync('bash', [join(__dirname, '../../infra/local/stack.sh'), 'path', 'temporal'], {
    encoding: 'utf8',
  }).trim();
  const show = (workflowId: string) =>
    execFileSync(temporal, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json',
      '--address', config.TEMPORAL_ADDRESS, '--namespace', config.TEMPORAL_NAMESPACE], { encoding: 'utf8' });
  // --tuning-as <name>: only the tuning job, into <name>.json (a later patched path beside the first recording).
  const tuningAs = process.argv.includes('--tuning-as') ? process.argv[process.argv.indexOf('--tuning-as') + 1] : undefined;
  if (tuningAs) writeFileSync(join(dir, `${tuningAs}.json`), show(tuning.workflowId));
  else {
    writeFileSync(join(dir, 'registerAgent.json'), show(handle.workflowId));
    writeFileSync(join(dir, 'livenessMonitor.json'), show(monitor.workflowId));
    writeFileSync(join(dir, 'federatedTuning.json'), show(tuning.workflowId));
  }
  await stack.stop();
  console.log(`recorded into ${dir}`);
}

async function waitActive(stack: Embedded, swarmId: string, count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
    if (page.agents.length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('agents never listed ACTIVE');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
