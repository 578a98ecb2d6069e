// A real Prometheus per jest run (Debian's package, `stack.sh path prometheus`),
// started by the global set-up when a selected suite needs it (*prometheus*.test.ts,
// the rule unit tests aside) on a free port with its own TSDB in a temporary
// directory. It loads the alert rules of infra/prometheus/rules/ and scrapes the
// targets suites write as file_sd files, so each suite adds its own API, worker
// and SDK ports at run time. Cheap (under a second, about 50 MB), so never shared.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const SCRAPE_JOBS = ['qp-manager-api', 'qp-manager-worker', 'qp-manager-worker-sdk'] as const;
export type ScrapeJob = (typeof SCRAPE_JOBS)[number];

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function runNeedsPrometheus(testPathPattern: string | undefined): boolean {
  if (process.env.QP_TEST_PROMETHEUS === '0') return false;
  if (process.env.QP_TEST_PROMETHEUS === '1' || !testPathPattern) return true;
  const suites = readdirSync(join(ROOT, 'test')).filter((f) => /prometheus.*\.test\.ts$/.test(f) && !/rules/.test(f));
  try {
    const pattern = new RegExp(testPathPattern, 'i');
    return suites.some((file) => pattern.test(join(ROOT, 'test', file)));
  } catch {
    return true;
  }
}

/** The Prometheus config of a test run: 2 s scrapes of the file_sd targets, the project's rules. */
export function testPrometheusConfig(targetsDir: string): string {
  const jobs = SCRAPE_JOBS.map(
    (job) => `  - job_name: ${job}
    file_sd_configs: [{ files: ['${targetsDir}/${job}.*.json'], refresh_interval: 1s }]`,
  );
  return `global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files:
  - ${ROOT}/infra/prometheus/rules/*.yml
scrape_configs:
${jobs.join('\n')}
`;
}

export async function startTestPrometheus(testPathPattern?: string): Promise<void> {
  if (!runNeedsPrometheus(testPathPattern)) {
    process.env.QP_TEST_PROMETHEUS_ERROR = 'this jest run selected no *prometheus*.test.ts suite, so Prometheus was not started';
    return;
  }
  const started = Date.now();
  let bin: string;
  try {
    bin = execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'path', 'prometheus'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (error) {
    process.env.QP_TEST_PROMETHEUS_ERROR = `infra/local/stack.sh install prometheus failed: ${String((error as { stderr?: string }).stderr ?? error)}`;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'qp-prometheus-'));
  const targets = join(dir, 'targets');
  mkdirSync(targets);
  writeFileSync(join(dir, 'prometheus.yml'), testPrometheusConfig(targets));
  const port = await freePort();
  const child = spawn(
    bin,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ; ) {
    if (child.exitCode !== null) {
      process.env.QP_TEST_PROMETHEUS_ERROR = `prometheus exited ${child.exitCode}: ${stderr}`;
      return;
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      process.env.QP_TEST_PROMETHEUS_ERROR = `prometheus not ready within 30 s: ${stderr}`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  (globalThis as { __qpPrometheus?: { child: ChildProcess; dir: string } }).__qpPrometheus = { child, dir };
  process.env.QP_TEST_PROMETHEUS_URL = url;
  process.env.QP_TEST_PROMETHEUS_TARGETS = targets;
  console.log(`test stack: Prometheus at ${url} (${Date.now() - started} ms)`);
}

export async function stopTestPrometheus(): Promise<void> {
  const running = (globalThis as { __qpPrometheus?: { child: ChildProcess; dir: string } }).__qpPrometheus;
  if (!running) return;
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  if (running.child.exitCode === null) running.child.kill('SIGKILL');
  rmSync(running.dir, { recursive: true, force: true });
}

/** For suites that need Prometheus: its URL, or a failure that says why there is none. */
export function requireTestPrometheus(): { url: string; targets: string } {
  const url = process.env.QP_TEST_PROMETHEUS_URL;
  const targets = process.env.QP_TEST_PROMETHEUS_TARGETS;
  if (!url || !targets) throw new Error(process.env.QP_TEST_PROMETHEUS_ERROR ?? 'the jest global set-up did not start Prometheus');
  return { url, targets };
}

/** Makes the test Prometheus scrape these host:port targets (labelled suite=<name>); returns their removal. */
export function scrapeTargets(suite: string, targets: Partial<Record<ScrapeJob, string>>): () => void {
  const { targets: dir } = requireTestPrometheus();
  const files: string[] = [];
  for (const [job, target] of Object.entries(targets)) {
    // job.suite.json: a glob of one job (job.*.json) never matches another job whose name extends it.
    const file = join(dir, `${job}.${suite}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify([{ targets: [target], labels: { suite } }]));
    // Renamed into place: Prometheus never reads a half-written file.
    renameSync(`${file}.tmp`, file);
    files.push(file);
  }
  return () => files.forEach((file) => rmSync(file, { force: true }));
}

export interface PromResult {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** An instant query through Prometheus's HTTP API. */
export async function promQuery(expr: string): Promise<PromResult> {
  const { url } = requireTestPrometheus();
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as PromResult;
}
