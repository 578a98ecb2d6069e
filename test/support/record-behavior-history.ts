// Records test/histories/behaviorSweep.json, which test/replay.test.ts replays.
// Run after a change of the sweep workflow that is meant to be incompatible:
//   npx tsx test/support/record-behavior-history.ts
// It starts its own dev server (the stack's binary, in-memory) and stops it.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QpAgent } from '../../agents/sdk';
import { parseConfig } from '../../core/config';
import { swarmTopics } from '../../core/topics';
import { devServerArgs, namespace } from '../../temporal-config';
import { startEmbedded } from '../../workers/embedded';
import { ADMIN_TOKEN } from './stack';

Runtime.install({ logger: new DefaultLogger('WARN') });

async function main(): Promise<void> {
  const temporal = execFileSync('bash', [join(__dirname, '../../infra/local/stack.sh'), 'path', 'temporal'], {
    encoding: 'utf8',
  }).trim();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporal }, ip: '127.0.0.1', extraArgs: devServerArgs() },
  });
  const tag = Date.now().toString(36);
  const config = parseConfig({
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: namespace,
    QP_TASK_QUEUE: `record-${tag}`,
    QP_ADMIN_TOKEN: ADMIN_TOKEN,
    QP_BEHAVIOR_DIMENSION: '4',
    QP_BEHAVIOR_DRAIN_IDLE_MS: '200',
    QP_BEHAVIOR_SWEEP_CRON: 'off',
  });
  const stack = await startEmbedded({ config, apiPort: 0 });
  const swarmId = `record-${tag}`;
  const agents = [0, 1, 2].map(
    (i) =>
      new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `recorded-${i}-${tag}`,
        swarmId,
        capabilities: ['explore'],
        resources: { cpu: 1, memoryMb: 512 },
      }),
  );
  await Promise.all(agents.map((a) => a.register()));
  // Two agents discover something (12 behaviors), the third does the usual (24); one garbage report.
  for (let e = 0; e < 6; e++) {
    await agents[0].reportBehavior({ episodeId: `e${e}`, descriptor: [5 + 0.01 * e, 5, 5, 5], fitness: 0.9 });
    await agents[1].reportBehavior({ episodeId: `e${e}`, descriptor: [5, 5 + 0.01 * e, 5, 5], fitness: 0.9 });
    for (let j = 0; j < 4; j++) {
      await agents[2].reportBehavior({ episodeId: `e${e}-${j}`, descriptor: [0.01 * j, 0.01 * e, 0, 0], fitness: 0.4 });
    }
  }
  await stack.ports.messaging.publish(swarmTopics(swarmId).behaviors, Buffer.from('not json'));
  const started = (await stack.api.behaviors.startSweep({ swarmId })).workflowId;
  const { report } = await stack.client.workflow.getHandle(started).result();
  if (report.strategies.length !== 1) throw new Error(`expected one strategy, got ${report.strategies.length}`);

  const json = execFileSync(
    temporal,
    ['workflow', 'show', '--workflow-id', started, '--output', 'json', '--address', env.address, '--namespace', namespace],
    { encoding: 'utf8' },
  );
  writeFileSync(join(__dirname, '..', 'histories', 'behaviorSweep.json'), json);
  await Promise.all(agents.map((a) => a.close()));
  await stack.stop();
  await env.teardown();
  console.log('recorded test/histories/behaviorSweep.json');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
