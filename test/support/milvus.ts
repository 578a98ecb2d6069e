// The shared Milvus of test runs: started once per jest run by the global
// set-up when nothing answers on its port (`stack.sh up milvus`), stopped by
// the teardown of the last run using it, and only when a test run started it.
//
// Runs of several engineers overlap on one machine, so "the set-up started
// it" is tracked with lease files: each run holds $QP_CACHE_DIR/run/
// milvus.test-leases/<pid> from before it looks for Milvus until its
// teardown; a marker file says a test run (not a person) started the server.
// The teardown that finds no other live lease stops a test-started Milvus.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const RUN_DIR = join(process.env.QP_CACHE_DIR ?? join(homedir(), '.cache', 'qp-manager'), 'run');
const LEASES = join(RUN_DIR, 'milvus.test-leases');
const STARTED_BY_TESTS = join(RUN_DIR, 'milvus.started-by-tests');

export function testMilvusAddress(): string {
  return process.env.MILVUS_ADDRESS ?? `127.0.0.1:${process.env.MILVUS_PORT ?? '19530'}`;
}

function answers(address: string, timeoutMs = 1000): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Does this jest run select a suite that needs Milvus (a *milvus*.test.ts file)? */
function runNeedsMilvus(testPathPattern: string | undefined): boolean {
  if (process.env.QP_TEST_MILVUS === '0') return false;
  if (process.env.QP_TEST_MILVUS === '1' || !testPathPattern) return true;
  const suites: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/milvus.*\.test\.ts$/.test(entry.name)) suites.push(path);
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

/**
 * Makes sure a Milvus answers and exports its address as QP_TEST_MILVUS_ADDRESS.
 * On failure it exports QP_TEST_MILVUS_ERROR instead, so only the suites that
 * need Milvus fail (with the reason), not the whole run. Runs that select no
 * *milvus*.test.ts suite skip it; QP_TEST_MILVUS=0 / 1 forces the choice.
 */
export async function startTestMilvus(testPathPattern?: string): Promise<void> {
  if (!runNeedsMilvus(testPathPattern)) {
    process.env.QP_TEST_MILVUS_ERROR = 'this jest run selected no *milvus*.test.ts suite, so Milvus was not started';
    return;
  }
  // The teardown reads this (same jest parent process).
  process.env.QP_TEST_MILVUS_LEASED = '1';
  const address = testMilvusAddress();
  mkdirSync(LEASES, { recursive: true });
  writeFileSync(join(LEASES, String(process.pid)), address);
  const started = Date.now();
  if (!(await answers(address))) {
    try {
      execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'up', 'milvus'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
        timeout: 300_000,
      });
      writeFileSync(STARTED_BY_TESTS, String(process.pid));
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? error).trim().split('\n').slice(-5).join('\n');
      process.env.QP_TEST_MILVUS_ERROR = `could not start Milvus with infra/local/stack.sh up milvus:\n${stderr}`;
      console.warn(`\ntest stack: ${process.env.QP_TEST_MILVUS_ERROR}`);
      return;
    }
    console.log(`test stack: Milvus started at ${address} (${Date.now() - started} ms)`);
  } else {
    console.log(`test stack: Milvus already answers at ${address}`);
  }
  process.env.QP_TEST_MILVUS_ADDRESS = address;
}

export async function stopTestMilvus(): Promise<void> {
  if (process.env.QP_TEST_MILVUS_LEASED !== '1') return;
  delete process.env.QP_TEST_MILVUS_LEASED;
  rmSync(join(LEASES, String(process.pid)), { force: true });
  let others = 0;
  for (const name of existsSync(LEASES) ? readdirSync(LEASES) : []) {
    const pid = Number(name);
    if (Number.isInteger(pid) && alive(pid)) others++;
    else rmSync(join(LEASES, name), { force: true });
  }
  if (others > 0 || !existsSync(STARTED_BY_TESTS)) return;
  rmSync(STARTED_BY_TESTS, { force: true });
  execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'down', 'milvus'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, QP_STACK_STOP_TIMEOUT: process.env.QP_STACK_STOP_TIMEOUT ?? '10' },
  });
}

/** For suites that need Milvus: its address, or a failure that says why there is none. */
export function requireTestMilvus(): string {
  const address = process.env.QP_TEST_MILVUS_ADDRESS;
  if (!address) throw new Error(process.env.QP_TEST_MILVUS_ERROR ?? 'the jest global set-up did not start Milvus');
  return address;
}
