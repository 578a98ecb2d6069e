// What the history recorders share: a dev server of their own (the stack's
// binary, in-memory), a worker and API on it, and saving a workflow's history
// as test/histories/<name>.json for test/replay.test.ts.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../core/config';
import { devServerArgs, namespace } from '../../temporal-config';
import { startEmbedded, type Embedded } from '../../workers/embedded';
import type { Ports } from '../../workers/ports';
import { ADMIN_TOKEN } from './stack';

export interface RecordingStack {
  stack: Embedded;
  /** Unique per run: task queue, swarm and workflow ids use it. */
  tag: string;
  /** Writes the workflow's history (running or closed) to test/histories/<name>.json. */
  save(workflowId: string, name: string): void;
  stop(): Promise<void>;
}

export async function startRecordingStack(overrides: Record<string, string> = {}, ports?: Ports): Promise<RecordingStack> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
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
    QP_BEHAVIOR_SWEEP_CRON: 'off',
    ...overrides,
  });
  const stack = await startEmbedded({ config, apiPort: 0, ports });
  return {
    stack,
    tag,
    save(workflowId, name) {
      const json = execFileSync(
        temporal,
        ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', env.address, '--namespace', namespace],
        { encoding: 'utf8' },
      );
      writeFileSync(join(__dirname, '..', 'histories', `${name}.json`), json);
      console.log(`recorded test/histories/${name}.json`);
    },
    async stop() {
      await stack.stop();
      await env.teardown();
    },
  };
}

/** Runs a recorder's main, setting the exit code when it fails. */
export function runRecorder(main: () => Promise<void>): void {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
