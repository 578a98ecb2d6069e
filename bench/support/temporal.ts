// The Temporal dev server a benchmark runs on: the binary infra/local/stack.sh
// caches, in-memory, with the namespace and search attributes of temporal-config/.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { devServerArgs } from '../../temporal-config';

export async function startDevServer(): Promise<TestWorkflowEnvironment> {
  const temporal = execFileSync('bash', [join(__dirname, '../../infra/local/stack.sh'), 'path', 'temporal'], {
    encoding: 'utf8',
  }).trim();
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporal }, extraArgs: [...devServerArgs(), '--log-level', 'error'] },
  });
}
