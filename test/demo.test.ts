// The README's first command, `npm start`, end to end (short): registration,
// crashes marked LOST, a federated job, the summary, a clean exit.
import { Client, Connection } from '@temporalio/client';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { uniqueId } from './support/stack';

const ROOT = join(__dirname, '..');

describe('the demo (npm start)', () => {
  it('takes a small swarm through registration, liveness and a tuning job, then exits cleanly with --once', async () => {
    const output: string[] = [];
    const taskQueue = uniqueId('demo');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'workers/demo.ts'), '--agents', '6', '--crashes', '1', '--rounds', '2', '--once'],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: process.env.QP_TEST_TEMPORAL_ADDRESS,
            TEMPORAL_NAMESPACE: process.env.QP_TEST_NAMESPACE,
            QP_TASK_QUEUE: taskQueue,
            QP_API_PORT: '0',
            QP_METRICS_PORT: '0',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child.stdout.on('data', (chunk) => output.push(String(chunk)));
      child.stderr.on('data', (chunk) => output.push(String(chunk)));
      child.on('exit', resolve);
    });
    const text = output.join('');
    expect(code).toBe(0);
    expect(text).toMatch(/registered\s+6/);
    expect(text).toMatch(/lost\s+1/);
    expect(text).toMatch(/failed\s+0/);
    expect(text).toMatch(/COMPLETED, final test accuracy \d+\.\d%/);
    expect(text).toMatch(/decision \S+: SUCCEEDED, adopted (forage-near-base|explore-frontier|cluster-and-share|conserve-energy) \(closed early/);
    // The delegation phase: twelve tasks (two per agent), all run by the five ACTIVE agents, charged and compared.
    expect(text).toMatch(/Delegation: 12 tasks for swarm/);
    expect(text).toMatch(/12 succeeded, 0 failed/);
    expect(text).toMatch(/round-robin on the same 12 tasks and agents: \d+\.\d Wh, \d+\.\d g/);
    expect(text).toMatch(/Status page http:\/\/\S+:\d+\//);
    // The banner names the adapters really built: the embedded default.
    expect(text).toMatch(/messaging\s+in-process broker/);
    expect(text).toMatch(/cluster\s+local process pool/);
    // No phantom agents: every session of the stopped demo, crashed agents' included, was ended.
    const connection = await Connection.connect({ address: process.env.QP_TEST_TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection, namespace: process.env.QP_TEST_NAMESPACE });
      const { count } = await client.workflow.count(
        `WorkflowType = 'registerAgent' AND TaskQueue IN ('${taskQueue}', '${taskQueue}-registration') AND ExecutionStatus = 'Running'`,
      );
      expect(count).toBe(0);
    } finally {
      await connection.close();
    }
  }, 120_000);
});
