// `npm start -- --scaling`: the autoscaling Schedule scales a pool of real
// simulator agent processes up, then a carbon band caps it, and the terminal says why.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { uniqueId } from './support/stack';

const ROOT = join(__dirname, '..');

describe('the demo scaling phase (npm start -- --scaling)', () => {
  it('scales the local process pool up on the fallback and down under the carbon cap, with reasons', async () => {
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'workers/demo.ts'), '--agents', '2', '--crashes', '1', '--rounds', '0', '--scaling', '--once'],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: process.env.QP_TEST_TEMPORAL_ADDRESS,
            TEMPORAL_NAMESPACE: process.env.QP_TEST_NAMESPACE,
            QP_TASK_QUEUE: uniqueId('demo-scaling'),
            QP_API_PORT: '0',
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
    expect(text).toMatch(/↑\s+2 -> 4/);
    expect(text).toMatch(/↓\s+4 -> 1 .*carbon 480 g\/kWh caps the pool at 1/);
    expect(text).toContain('scaled up on the fallback, capped by the carbon band');
  }, 180_000);
});
