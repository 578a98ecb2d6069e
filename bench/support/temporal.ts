// The Temporal dev server a benchmark runs on: the binary infra/local/stack.sh
// caches, in-memory, with the namespace and search attributes of temporal-config/.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { devServerArgs, namespace } from '../../temporal-config';
import { parseConfig } from '../../core/config';
import { startEmbedded, type Embedded } from '../../workers/embedded';

export async function startDevServer(): Promise<TestWorkflowEnvironment> {
  const temporal = execFileSync('bash', [join(__dirname, '../../infra/local/stack.sh'), 'path', 'temporal'], {
    encoding: 'utf8',
  }).trim();
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporal }, extraArgs: [...devServerArgs(), '--log-level', 'error'] },
  });
}

/**
 * Runs body against the product as a user starts it: a dev server, then the worker and the API
 * embedded on it (task queue `<name>-<ms>`, `adminToken` as the admin token). What body hands to
 * onStop (its swarm) stops first, then the stack, then the server, also when body throws.
 */
export async function runOnEmbeddedStack<T>(
  name: string,
  adminToken: string,
  body: (stack: Embedded, onStop: (stop: () => Promise<void>) => void) => Promise<T>,
  /** More configuration (e.g. QP_MESSAGING=pulsar and its broker). */
  extraConfig: Record<string, string> = {},
): Promise<T> {
  const env = await startDevServer();
  let stack: Embedded | undefined;
  const stops: (() => Promise<void>)[] = [];
  try {
    const config = parseConfig({
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: namespace,
      QP_TASK_QUEUE: `${name}-${Date.now()}`,
      QP_ADMIN_TOKEN: adminToken,
      ...extraConfig,
    });
    stack = await startEmbedded({ config, apiPort: 0 });
    return await body(stack, (stop) => stops.push(stop));
  } finally {
    for (const stop of stops.reverse()) await stop();
    await stack?.stop();
    await env.teardown();
  }
}
