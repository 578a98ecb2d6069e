// The shared Flink session cluster of test runs, like Milvus (test/support/milvus.ts): the global
// set-up starts it once with `stack.sh up flink` when nothing answers on its REST port and only
// for runs that select a *flink*.test.ts suite; the teardown of the last run holding a lease stops
// it, and only when a test run started it. Suites submit their own jobs (one per test swarm) and
// cancel them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const STACK = join(ROOT, 'infra/local/stack.sh');
const RUN_DIR = join(process.env.QP_CACHE_DIR ?? join(homedir(), '.cache', 'qp-manager'), 'run');
const LEASES = join(RUN_DIR, 'flink.test-leases');
const STARTED_BY_TESTS = join(RUN_DIR, 'flink.started-by-tests');

export function testFlinkUrl(): string {
  return process.env.FLINK_JOB_MANAGER_URL ?? `http://127.0.0.1:${process.env.FLINK_REST_PORT ?? '8081'}`;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/overview`, { signal: AbortSignal.timeout(3000) });
    return res.ok && Number(((await res.json()) as Record<string, unknown>)['slots-total'] ?? 0) > 0;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runNeedsFlink(testPathPattern: string | undefined): boolean {
  if (process.env.QP_TEST_FLINK === '0') return false;
  if (process.env.QP_TEST_FLINK === '1' || !testPathPattern) return true;
  const suites: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/flink.*\.test\.ts$/.test(entry.name)) suites.push(path);
    }
  };
  walk(join(ROOT, 'test'));
  try {
    const pattern = new RegExp(testPathPattern, 'i');
    return suites.some((path) => pattern.test(path));
  } catch {
    return true;
  }
}

function stackError(error: unknown): string {
  return String((error as { stderr?: string }).stderr ?? error).trim().split('\n').slice(-5).join('\n');
}

/**
 * Makes sure a Flink cluster answers and the analytics jar is built; exports QP_TEST_FLINK_URL and
 * QP_TEST_ANALYTICS_JAR, or QP_TEST_FLINK_ERROR saying why not (only the Flink suites then fail).
 */
export async function startTestFlink(testPathPattern?: string): Promise<void> {
  if (!runNeedsFlink(testPathPattern)) {
    process.env.QP_TEST_FLINK_ERROR = 'this jest run selected no *flink*.test.ts suite, so Flink was not started';
    return;
  }
  process.env.QP_TEST_FLINK_LEASED = '1';
  const url = testFlinkUrl();
  mkdirSync(LEASES, { recursive: true });
  writeFileSync(join(LEASES, String(process.pid)), url);
  const started = Date.now();
  try {
    process.env.QP_TEST_ANALYTICS_JAR = execFileSync('bash', [STACK, 'path', 'flink-job'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 600_000,
    }).trim();
  } catch (error) {
    process.env.QP_TEST_FLINK_ERROR = `could not build the analytics job (stack.sh path flink-job):\n${stackError(error)}`;
    console.warn(`\ntest stack: ${process.env.QP_TEST_FLINK_ERROR}`);
    return;
  }
  if (!(await answers(url))) {
    try {
      execFileSync('bash', [STACK, 'up', 'flink'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 300_000 });
      writeFileSync(STARTED_BY_TESTS, String(process.pid));
    } catch (error) {
      process.env.QP_TEST_FLINK_ERROR = `could not start Flink with infra/local/stack.sh up flink:\n${stackError(error)}`;
      console.warn(`\ntest stack: ${process.env.QP_TEST_FLINK_ERROR}`);
      return;
    }
    console.log(`test stack: Flink started at ${url} (${Date.now() - started} ms)`);
  } else {
    console.log(`test stack: Flink already answers at ${url}`);
  }
  process.env.QP_TEST_FLINK_URL = url;
}

export async function stopTestFlink(): Promise<void> {
  if (process.env.QP_TEST_FLINK_LEASED !== '1') return;
  delete process.env.QP_TEST_FLINK_LEASED;
  rmSync(join(LEASES, String(process.pid)), { force: true });
  let others = 0;
  for (const name of existsSync(LEASES) ? readdirSync(LEASES) : []) {
    const pid = Number(name);
    if (Number.isInteger(pid) && alive(pid)) others++;
    else rmSync(join(LEASES, name), { force: true });
  }
  if (others > 0 || !existsSync(STARTED_BY_TESTS)) return;
  rmSync(STARTED_BY_TESTS, { force: true });
  execFileSync('bash', [STACK, 'down', 'flink'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** For suites that need Flink: its REST URL and the analytics jar, or a failure that says why there are none. */
export function requireTestFlink(): { url: string; jarPath: string } {
  const url = process.env.QP_TEST_FLINK_URL;
  const jarPath = process.env.QP_TEST_ANALYTICS_JAR;
  if (!url || !jarPath) throw new Error(process.env.QP_TEST_FLINK_ERROR ?? 'the jest global set-up did not start Flink');
  return { url, jarPath };
}
