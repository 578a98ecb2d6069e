// Starts the stack once per test run: a real Temporal dev server (the binary
// installed by infra/local/stack.sh, never the SDK's download) with the
// namespace and search attributes from temporal-config/, and the workflow
// bundle built once. Suites reuse both and isolate themselves by task queue,
// swarm and agent ids.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { devServerArgs, namespace } from '../../temporal-config';
import { buildWorkflowBundle } from '../../workers/bundle';
import { setUpSharedPulsar } from './pulsar';
import { startTestMilvus } from './milvus';
import { startTestPrometheus } from './prometheus';
import { startTestFlink } from './flink';
import { startTestKubernetes } from './kubernetes';

const ROOT = join(__dirname, '..', '..');

export function stackBinary(name: 'temporal' | 'testserver'): string {
  return execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'path', name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export default async function globalSetup(globalConfig?: { testPathPattern?: string }): Promise<void> {
  const started = Date.now();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: stackBinary('temporal') },
      ip: '127.0.0.1',
      extraArgs: [...devServerArgs(), '--log-level', 'error'],
    },
  });
  const tmp = join(ROOT, '.tmp');
  mkdirSync(tmp, { recursive: true });
  const bundlePath = join(tmp, 'workflow-bundle.js');
  await buildWorkflowBundle(bundlePath, {
    trace() {},
    debug() {},
    info() {},
    warn: console.warn,
    error: console.error,
    log() {},
  } as never);

  process.env.QP_TEST_TEMPORAL_ADDRESS = env.address;
  process.env.QP_TEST_NAMESPACE = namespace;
  process.env.QP_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.QP_TEST_TESTSERVER = stackBinary('testserver');
  process.env.QP_TEST_CHAOS_LOCK = join(tmp, `chaos-suite-${process.pid}.lock`);
  (globalThis as { __qpTemporal?: TestWorkflowEnvironment }).__qpTemporal = env;
  console.log(`\ntest stack: Temporal dev server at ${env.address} (${Date.now() - started} ms)`);
  await setUpSharedPulsar(globalConfig?.testPathPattern);
  await startTestMilvus(globalConfig?.testPathPattern);
  await startTestPrometheus(globalConfig?.testPathPattern);
  await startTestFlink(globalConfig?.testPathPattern);
  await startTestKubernetes(globalConfig?.testPathPattern);
}
