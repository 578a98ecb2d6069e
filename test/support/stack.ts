// Per-suite access to the shared test stack, isolated by task queue.
import { randomUUID } from 'node:crypto';
import { parseConfig, type Config } from '../../core/config';
import { startEmbedded, type Embedded } from '../../workers/embedded';
import type { Ports } from '../../workers/ports';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  const address = process.env.QP_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('the jest global set-up did not start Temporal');
  return parseConfig({
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: process.env.QP_TEST_NAMESPACE,
    QP_TASK_QUEUE: uniqueId('tq'),
    QP_ADMIN_TOKEN: ADMIN_TOKEN,
    QP_HANDSHAKE_TIMEOUT_MS: '10000',
    QP_HEARTBEAT_GRACE_MS: '30000',
    QP_LIVENESS_WINDOW_MS: '500',
    // A Schedule per swarm would outlive the test; the rebalancing suite turns it on.
    QP_TASK_REBALANCE_INTERVAL_S: '0',
    QP_WORKFLOW_BUNDLE: process.env.QP_TEST_WORKFLOW_BUNDLE ?? '',
    ...overrides,
  });
}

/** Worker + API on the shared Temporal server, on a task queue of their own. */
export function startTestEmbedded(overrides: Record<string, string> = {}, ports?: Ports): Promise<Embedded> {
  return startEmbedded({
    config: testConfig(overrides),
    apiPort: 0,
    ports,
  });
}

/** Polls check until it returns a value other than undefined, or fails after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
