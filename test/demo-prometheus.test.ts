// `npm start -- --prometheus`: the demo starts Prometheus through the project's own
// `stack.sh up prometheus` on the demo's ports, prints a link to a ready-made query,
// that query returns series from the real Prometheus scraping the demo, and Ctrl-C
// stops the Prometheus the demo started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './support/prometheus';
import { uniqueId, waitFor } from './support/stack';

const ROOT = join(__dirname, '..');
const STACK = join(ROOT, 'infra/local/stack.sh');

interface PromResult {
  status: string;
  data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe('the demo with --prometheus (npm start -- --prometheus)', () => {
  let demo: ChildProcess | undefined;
  let exited: Promise<number | null> | undefined;
  // The stack's run and data directories of this test only: its Prometheus is the demo's, not a shared one.
  const stackHome = mkdtempSync(join(tmpdir(), 'qp-demo-prometheus-'));
  let env: NodeJS.ProcessEnv = {};

  afterAll(async () => {
    if (demo && demo.exitCode === null) {
      demo.kill('SIGKILL');
      await exited;
    }
    // Whatever happened to the demo, the Prometheus this test's stack started does not outlive it.
    spawnSync('bash', [STACK, 'down', 'prometheus'], { env, stdio: 'ignore' });
    rmSync(stackHome, { recursive: true, force: true });
  });

  it('prints the Prometheus link with a query that returns series of this run, and stops the Prometheus it started', async () => {
    const [prometheusPort, sdkPort] = [await freePort(), await freePort()];
    const { PROMETHEUS_URL: _elsewhere, ...inherited } = process.env;
    env = {
      ...inherited,
      QP_CACHE_DIR: stackHome,
      PROMETHEUS_PORT: String(prometheusPort),
      PROMETHEUS_SCRAPE_INTERVAL: '1s',
      TEMPORAL_ADDRESS: process.env.QP_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: process.env.QP_TEST_NAMESPACE,
      QP_TASK_QUEUE: uniqueId('demo-prom'),
      QP_API_PORT: '0',
      QP_METRICS_PORT: '0',
      QP_SDK_METRICS_PORT: String(sdkPort),
    };
    let output = '';
    demo = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'workers/demo.ts'), '--agents', '3', '--crashes', '0', '--rounds', '1', '--tasks', '0', '--prometheus'],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    demo.stdout!.on('data', (chunk) => (output += String(chunk)));
    demo.stderr!.on('data', (chunk) => (output += String(chunk)));
    exited = new Promise((resolve) => demo!.on('exit', resolve));

    const link = await waitFor('the Prometheus line', async () => output.match(/^Prometheus {2}(\S+)$/m)?.[1], 90_000, 200).catch((error: Error) => {
      throw new Error(`${error.message}; demo output:\n${output}`);
    });
    const url = new URL(link);
    expect(url.origin).toBe(`http://127.0.0.1:${prometheusPort}`);
    expect(url.pathname).toBe('/graph');
    const query = url.searchParams.get('g0.expr');
    expect(query).toBe('sum by (status) (qp_manager_agents{swarm="_all"})');
    expect((await fetch(link)).status).toBe(200);

    const ask = async (expr: string): Promise<PromResult> =>
      (await fetch(`${url.origin}/api/v1/query?query=${encodeURIComponent(expr)}`).then((r) => r.json())) as PromResult;
    // It scrapes this demo's API, worker and SDK metrics (the ports the demo chose).
    await waitFor('the demo\'s three targets up', async () => {
      const up = await ask('up == 1');
      return ['qp-manager-api', 'qp-manager-worker', 'qp-manager-worker-sdk'].every((job) => up.data?.result.some((r) => r.metric.job === job)) ? true : undefined;
    }, 60_000, 250);
    // The ready-made query answers one series per agent status, the demo's agents among the ACTIVE ones.
    const answered = await waitFor('the query to show the demo\'s agents', async () => {
      const result = await ask(query!);
      const active = Number(result.data?.result.find((r) => r.metric.status === 'ACTIVE')?.value[1] ?? 0);
      return result.status === 'success' && active >= 3 ? result : undefined;
    }, 60_000, 500);
    expect(answered.data!.result.map((r) => r.metric.status).sort()).toEqual(['ACTIVE', 'DEREGISTERED', 'FAILED', 'LOST', 'PENDING']);

    demo.kill('SIGINT');
    expect(await exited).toBe(0);
    // The demo stopped the Prometheus it had started.
    expect(await fetch(`${url.origin}/-/ready`).then((r) => r.ok, () => false)).toBe(false);
  }, 180_000);
});
