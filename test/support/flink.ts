// The shared Flink session cluster of test runs, like Milvus (test/support/shared-service.ts): the global
// set-up starts it once with `stack.sh up flink` when nothing answers on its REST port and only
// for runs that select a *flink*.test.ts suite; the teardown of the last run holding a lease stops
// it, and only when a test run started it. Suites submit their own jobs (one per test swarm) and
// cancel them.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { MessagingBacklog } from '../../adapters/ports';
import { join } from 'node:path';
import { SharedTestService, STACK, stackError } from './shared-service';

const ROOT = join(__dirname, '..', '..');
const flink = new SharedTestService('flink');

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

/**
 * Makes sure a Flink cluster answers and the analytics jar is built; exports QP_TEST_FLINK_URL and
 * QP_TEST_ANALYTICS_JAR, or QP_TEST_FLINK_ERROR saying why not (only the Flink suites then fail).
 */
export async function startTestFlink(testPathPattern?: string): Promise<void> {
  if (!flink.neededBy(testPathPattern)) {
    process.env.QP_TEST_FLINK_ERROR = 'this jest run selected no *flink*.test.ts suite, so Flink was not started';
    return;
  }
  const url = testFlinkUrl();
  flink.lease(url);
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
  let startedHere: boolean;
  try {
    startedHere = await flink.startUnlessRunning(() => answers(url), 300_000);
  } catch (error) {
    process.env.QP_TEST_FLINK_ERROR = `could not start Flink with infra/local/stack.sh up flink:\n${stackError(error)}`;
    console.warn(`\ntest stack: ${process.env.QP_TEST_FLINK_ERROR}`);
    return;
  }
  if (startedHere) console.log(`test stack: Flink started at ${url} (${Date.now() - started} ms)`);
  else console.log(`test stack: Flink already answers at ${url}`);
  process.env.QP_TEST_FLINK_URL = url;
}

export async function stopTestFlink(): Promise<void> {
  flink.release();
}

/** For suites that need Flink: its REST URL and the analytics jar, or a failure that says why there are none. */
export function requireTestFlink(): { url: string; jarPath: string } {
  const url = process.env.QP_TEST_FLINK_URL;
  const jarPath = process.env.QP_TEST_ANALYTICS_JAR;
  if (!url || !jarPath) throw new Error(process.env.QP_TEST_FLINK_ERROR ?? 'the jest global set-up did not start Flink');
  return { url, jarPath };
}

export interface SplitFlinkCluster {
  url: string;
  /** SIGKILLs the TaskManager process (the JobManager stays). */
  killTaskManager(): void;
  /** Starts a TaskManager process (again). */
  startTaskManager(): void;
  stop(): Promise<void>;
}

/**
 * A cluster of its own for a failover test: a JobManager process and a TaskManager process on
 * free ports, from the cached cluster classpath (`stack.sh path flink`), so a suite can kill the
 * TaskManager without touching the shared cluster.
 */
export async function startSplitFlinkCluster(freePort: () => Promise<number>): Promise<SplitFlinkCluster> {
  const home = execFileSync('bash', [STACK, 'path', 'flink'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const conf = mkdtempSync(join(tmpdir(), 'qp-flink-'));
  const [restPort, rpcPort] = [await freePort(), await freePort()];
  const base = readFileSync(join(ROOT, 'infra/local/flink/conf/flink-conf.yaml'), 'utf8').replace(/^metrics\.reporter\..*$/gm, '');
  writeFileSync(
    join(conf, 'flink-conf.yaml'),
    `${base}\nrest.port: ${restPort}\njobmanager.rpc.port: ${rpcPort}\nstate.checkpoints.dir: file://${conf}/checkpoints\n` +
      `state.savepoints.dir: file://${conf}/savepoints\nweb.upload.dir: ${conf}/uploads\nio.tmp.dirs: ${conf}\n`,
  );
  copyFileSync(join(ROOT, 'infra/local/flink/conf/log4j.properties'), join(conf, 'log4j.properties'));
  const classpath = `${home}/classes:${readFileSync(join(home, 'classpath.txt'), 'utf8').trim()}`;
  const jvm = readFileSync(join(home, 'jvm-opts'), 'utf8').trim().split(/\s+/);
  const start = (mode: 'jobmanager' | 'taskmanager') =>
    spawn(
      'java',
      ['-Xmx512m', '-XX:MaxDirectMemorySize=256m', '-XX:+UseSerialGC', ...jvm, `-Dlog4j.configurationFile=${conf}/log4j.properties`, '-cp', classpath, 'qp.flink.LocalFlinkCluster', conf, mode],
      { stdio: ['ignore', process.env.QP_TEST_FLINK_LOG ? 'inherit' : 'ignore', process.env.QP_TEST_FLINK_LOG ? 'inherit' : 'ignore'] },
    );
  const jobManager = start('jobmanager');
  let taskManager = start('taskmanager');
  const url = `http://127.0.0.1:${restPort}`;
  const deadline = Date.now() + 180_000;
  while (!(await answers(url))) {
    if (Date.now() > deadline) throw new Error(`split Flink cluster at ${url} not ready after 180 s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const stopProcess = (p: ReturnType<typeof spawn>) =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  return {
    url,
    killTaskManager: () => void taskManager.kill('SIGKILL'),
    startTaskManager: () => {
      taskManager = start('taskmanager');
    },
    stop: async () => {
      await Promise.all([stopProcess(taskManager), stopProcess(jobManager)]);
      rmSync(conf, { recursive: true, force: true });
    },
  };
}

/** True once the swarm's analytics job has acknowledged everything on the named input topics (a ballot topic once it found it). */
export async function consumed(messaging: MessagingBacklog, swarmId: string, names: readonly string[]): Promise<true | undefined> {
  for (const name of names) {
    const stats = await messaging.backlog(`swarm/${swarmId}/${name}`);
    const job = stats.find((s) => s.subscription === `qp-analytics-${swarmId}`);
    if (!job || job.backlog > 0) return undefined;
  }
  return true;
}
