// The processes as deployed: `npm run api` and `npm run worker` started as
// their own processes against the test Temporal server, the worker from the
// bundle `npm run build:bundle` writes. Each answers its probes, serves its
// part (a registration sent to the API is run by the worker), and exits 0
// soon after SIGTERM. A busy port stops start-up naming the variable.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN, uniqueId, waitFor } from './support/stack';

const ROOT = join(__dirname, '..');

interface Entry {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(script: string, env: Record<string, string>, args: string[] = []): Entry {
  const chunks: string[] = [];
  // node itself with tsx as a loader, so the signal reaches the process under test.
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => chunks.push(String(chunk)));
  child.stderr!.on('data', (chunk) => chunks.push(String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => chunks.join(''), exited };
}

/** The first capture of pattern in the process's output, once it appears. */
function printed(entry: Entry, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  return waitFor(
    `output matching ${pattern}`,
    () => {
      if (entry.child.exitCode !== null) throw new Error(`exited ${entry.child.exitCode}:\n${entry.output()}`);
      return pattern.exec(entry.output())?.[1];
    },
    timeoutMs,
    50,
  );
}

/** Sends SIGTERM; resolves with the exit code and how long the process took to exit. */
async function terminate(entry: Entry): Promise<{ code: number | null; ms: number }> {
  const sent = Date.now();
  entry.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([entry.exited, new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 15_000)))]);
  clearTimeout(timer);
  if (code === 'hung') {
    entry.child.kill('SIGKILL');
    throw new Error(`still running 15 s after SIGTERM:\n${entry.output()}`);
  }
  return { code, ms: Date.now() - sent };
}

const json = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('the API and the worker as separate processes', () => {
  const secret = randomBytes(32).toString('hex');
  const taskQueue = uniqueId('processes');
  const env = {
    TEMPORAL_ADDRESS: process.env.QP_TEST_TEMPORAL_ADDRESS!,
    TEMPORAL_NAMESPACE: process.env.QP_TEST_NAMESPACE!,
    QP_TASK_QUEUE: taskQueue,
    QP_CREDENTIAL_SECRET: secret,
    QP_ADMIN_TOKEN: ADMIN_TOKEN,
    QP_BEHAVIOR_SWEEP_CRON: 'off',
    QP_SHUTDOWN_GRACE_MS: '2000',
  };
  const bundle = join(mkdtempSync(join(tmpdir(), 'qp-bundle-')), 'workflow-bundle.js');
  const running: Entry[] = [];

  afterAll(() => {
    for (const entry of running) if (entry.child.exitCode === null) entry.child.kill('SIGKILL');
  });

  it('npm run build:bundle writes the workflow bundle', async () => {
    const build = start('workers/build-bundle.ts', {}, [bundle]);
    expect(await build.exited).toBe(0);
    expect(build.output()).toContain(`QP_WORKFLOW_BUNDLE=${bundle}`);
    expect(statSync(bundle).size).toBeGreaterThan(100_000);
  }, 120_000);

  it('a worker started from that bundle and an API run a registration between them, and both stop on SIGTERM', async () => {
    const worker = start('workers/main.ts', {
      ...env,
      QP_WORKFLOW_BUNDLE: bundle,
      QP_METRICS_PORT: '0',
      QP_SDK_METRICS_PORT: '0',
    });
    const api = start('workers/api.ts', { ...env, QP_API_PORT: '0' });
    running.push(worker, api);
    const workerUrl = `http://${await printed(worker, /probes and metrics on (\S+:\d+)/)}`;
    const apiUrl = await printed(api, /API on (http:\/\/\S+:\d+)/);

    expect(await json(`${workerUrl}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    const workerReady = await json(`${workerUrl}/readyz`);
    expect(workerReady).toEqual({
      status: 200,
      body: { status: 'ready', checks: { temporal: 'up', worker: 'up' }, down: [] },
    });
    expect((await fetch(`${workerUrl}/metrics`)).status).toBe(200);
    expect(await json(`${apiUrl}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await json(`${apiUrl}/readyz`)).toEqual({
      status: 200,
      body: { status: 'ready', checks: { temporal: 'up' }, down: [] },
    });

    // The API starts the session; only the worker, running the bundle, can answer the query.
    const agentId = uniqueId('proc-agent');
    const publicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const registered = await fetch(`${apiUrl}/api/v1/swarm/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agentId, capabilities: ['train'], resources: { cpu: 1, memoryMb: 512 }, publicKey }),
    });
    expect(registered.status).toBe(202);
    const agent = await json(`${apiUrl}/api/v1/swarm/agents/${agentId}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(agent).toMatchObject({ status: 200, body: { agentId } });

    const [apiStop, workerStop] = await Promise.all([terminate(api), terminate(worker)]);
    expect(apiStop.code).toBe(0);
    expect(workerStop.code).toBe(0);
    expect(apiStop.ms).toBeLessThan(5_000);
    expect(workerStop.ms).toBeLessThan(5_000);
  }, 120_000);

  describe('a busy port stops start-up naming the variable to change', () => {
    let blocker: Server;
    let busy: number;
    beforeAll(async () => {
      blocker = createServer();
      busy = await new Promise<number>((resolve) =>
        blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
      );
    });
    afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

    it('the API on QP_API_PORT', async () => {
      const api = start('workers/api.ts', { ...env, QP_API_PORT: String(busy) });
      running.push(api);
      expect(await api.exited).toBe(1);
      expect(api.output()).toContain(`QP_API_PORT: port ${busy} on 127.0.0.1 is in use; set QP_API_PORT to a free port`);
      expect(api.output()).not.toMatch(/TypeError/);
    }, 60_000);

    it("the worker's probes on QP_METRICS_PORT", async () => {
      const worker = start('workers/main.ts', { ...env, QP_METRICS_PORT: String(busy), QP_SDK_METRICS_PORT: '0' });
      running.push(worker);
      expect(await worker.exited).toBe(1);
      expect(worker.output()).toContain(`QP_METRICS_PORT: port ${busy} on 127.0.0.1 is in use; set QP_METRICS_PORT to a free port`);
    }, 60_000);
  });
});
