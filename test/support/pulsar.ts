// The Pulsar broker(s) of a test run. The jest global set-up starts the shared
// broker once (infra/local/stack.sh up pulsar, fresh data) unless one already
// answers, and exports its URLs; suites that stop or reconfigure a broker start
// their own instance on free ports (startExtraBroker) so the shared one never
// goes away under another suite.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PulsarMessagingOptions } from '../../adapters/pulsar/messaging';
import { runSelectsSuite, SharedTestService, STACK } from './shared-service';

const run = promisify(execFile);

export const SHARED_WEB_PORT = Number(process.env.PULSAR_WEB_PORT ?? 8090);
export const SHARED_BROKER_PORT = Number(process.env.PULSAR_BROKER_PORT ?? 6650);
const sharedBroker = new SharedTestService('pulsar');

async function healthy(adminUrl: string, token?: string): Promise<boolean> {
  try {
    const res = await fetch(`${adminUrl}/admin/v2/brokers/health`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
    return res.ok && (await res.text()) === 'ok';
  } catch {
    return false;
  }
}

/** Global set-up: the shared broker, started (fresh) only if nothing answers yet. */
export async function setUpSharedPulsar(testPathPattern?: string): Promise<void> {
  if (!runSelectsSuite(/pulsar.*\.test\.ts$/, testPathPattern, process.env.QP_TEST_PULSAR)) return;
  const adminUrl = `http://127.0.0.1:${SHARED_WEB_PORT}`;
  const started = Date.now();
  let startedHere = false;
  // This run's lease, taken before looking: a run that started the broker stops it at its end only
  // when no other run still holds one.
  sharedBroker.lease(adminUrl);
  // A broker that runs but is slow to answer (busy machine) is someone else's: wait for it, never
  // restart or wipe it.
  const running = spawnSync('bash', [STACK, 'status', 'pulsar'], { stdio: 'ignore' }).status === 0;
  if (!running) {
    execFileSync('bash', [STACK, 'up', 'pulsar'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, QP_STACK_FRESH: '1' },
    });
    sharedBroker.markStartedByTests();
    startedHere = true;
  } else {
    const deadline = Date.now() + 120_000;
    while (!(await healthy(adminUrl))) {
      if (Date.now() > deadline) throw new Error(`a Pulsar broker runs on ${adminUrl} but is not healthy after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  process.env.QP_TEST_PULSAR_URL = `pulsar://127.0.0.1:${SHARED_BROKER_PORT}`;
  process.env.QP_TEST_PULSAR_ADMIN_URL = adminUrl;
  process.env.QP_TEST_PULSAR_WS_URL = `ws://127.0.0.1:${SHARED_WEB_PORT}`;
  console.log(
    `test stack: Pulsar at ${adminUrl} (${startedHere ? `started in ${Date.now() - started} ms` : 'already running'})`,
  );
}

/** Global teardown: the last run holding a lease on a broker a test run started stops it. */
export function tearDownSharedPulsar(): void {
  sharedBroker.release();
}

/** Adapter options for the shared broker; each suite still uses topics and subscriptions of its own. */
export function sharedPulsarOptions(overrides: Partial<PulsarMessagingOptions> = {}): PulsarMessagingOptions {
  const webSocketUrl = process.env.QP_TEST_PULSAR_WS_URL;
  const adminUrl = process.env.QP_TEST_PULSAR_ADMIN_URL;
  if (!webSocketUrl || !adminUrl) {
    throw new Error('the jest global set-up did not start Pulsar (QP_TEST_PULSAR=0, or no Pulsar suite matched the run)');
  }
  return { webSocketUrl, adminUrl, tenant: 'qp-test', ...overrides };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export function pulsarHome(): string {
  return execFileSync('bash', [STACK, 'path', 'pulsar'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export interface ExtraBroker {
  name: string;
  webPort: number;
  brokerPort: number;
  adminUrl: string;
  webSocketUrl: string;
  /** Start (again, keeping its data). */
  start(): Promise<number>;
  stop(): Promise<number>;
  /** Stop and delete its data and logs. */
  remove(): Promise<void>;
}

/**
 * A broker of its own (`stack.sh up pulsar-<name>`) on free ports with fresh
 * data, for tests that stop it or change its configuration.
 */
export async function startExtraBroker(
  name: string,
  options: { extraConf?: string; healthToken?: string } = {},
): Promise<ExtraBroker> {
  // The pid keeps two test runs on one machine (and one cache) from sharing an instance.
  const instance = `pulsar-${name}-${process.pid}`;
  const webPort = await freePort();
  const brokerPort = await freePort();
  const env = {
    ...process.env,
    PULSAR_INSTANCE: instance,
    PULSAR_WEB_PORT: String(webPort),
    PULSAR_BROKER_PORT: String(brokerPort),
    // A broker started again on its data while other suites load the machine took over 2 min to be healthy.
    PULSAR_HEALTH_TIMEOUT: process.env.PULSAR_HEALTH_TIMEOUT ?? '300',
    ...(options.extraConf ? { PULSAR_EXTRA_CONF: options.extraConf } : {}),
    ...(options.healthToken ? { PULSAR_AUTH_TOKEN: options.healthToken } : {}),
  };
  let fresh = true;
  // An `up` still under way when the broker is removed (its hook timed out) is stopped first, so
  // that it cannot start the broker after the removal.
  const inFlight = new Set<AbortController>();
  const stack = async (command: 'up' | 'down'): Promise<number> => {
    const started = Date.now();
    const abort = new AbortController();
    if (command === 'up') inFlight.add(abort);
    await run('bash', [STACK, command, instance], {
      env: { ...env, QP_STACK_FRESH: command === 'up' && fresh ? '1' : '' },
      maxBuffer: 16 * 1024 * 1024,
      signal: abort.signal,
    })
      .catch((error: { stderr?: string }) => {
        throw new Error(`stack.sh ${command} ${instance} failed:\n${error.stderr ?? error}`);
      })
      .finally(() => inFlight.delete(abort));
    if (command === 'up') fresh = false;
    return Date.now() - started;
  };
  const broker: ExtraBroker = {
    name: instance,
    webPort,
    brokerPort,
    adminUrl: `http://127.0.0.1:${webPort}`,
    webSocketUrl: `ws://127.0.0.1:${webPort}`,
    start: () => stack('up'),
    stop: () => stack('down'),
    async remove() {
      for (const abort of inFlight) abort.abort();
      await stack('down');
      const cache = process.env.QP_CACHE_DIR ?? join(homedir(), '.cache', 'qp-manager');
      for (const path of [join(cache, 'data', instance), join(cache, 'run', `${instance}-logs`)]) {
        rmSync(path, { recursive: true, force: true });
      }
      for (const suffix of ['conf', 'log', 'cmd']) rmSync(join(cache, 'run', `${instance}.${suffix}`), { force: true });
    },
  };
  startedBrokers.add(broker);
  try {
    await broker.start();
  } catch (error) {
    await broker.remove().catch(() => undefined);
    startedBrokers.delete(broker);
    throw error;
  }
  return broker;
}

/** A broker of its own with token authentication and authorisation on, and the tokens made for it. */
export interface AuthorisingBroker {
  broker: ExtraBroker;
  /** The file of the broker's token secret key. */
  secretKeyFile: string;
  /** Superuser `admin`: the broker's own client (WebSocket service, health check). */
  adminToken: string;
  /** Superuser `qp-manager`: the manager's role. */
  managerToken: string;
}

/**
 * An extra broker (startExtraBroker) with token authentication and topic and namespace
 * authorisation on; the secret key and the superusers' tokens are made by Pulsar's own CLI, as an
 * operator would make them.
 */
export async function startAuthorisingBroker(name: string): Promise<AuthorisingBroker> {
  const dir = mkdtempSync(join(tmpdir(), `qp-${name}-`));
  const secretKeyFile = join(dir, 'secret.key');
  const cli = (...args: string[]) =>
    execFileSync(join(pulsarHome(), 'bin', 'pulsar'), ['tokens', ...args], {
      encoding: 'utf8',
      env: { ...process.env, PULSAR_LOG_LEVEL: 'warn' },
    }).trim();
  cli('create-secret-key', '--output', secretKeyFile);
  const adminToken = cli('create', '--secret-key', `file://${secretKeyFile}`, '--subject', 'admin');
  const managerToken = cli('create', '--secret-key', `file://${secretKeyFile}`, '--subject', 'qp-manager');
  const conf = join(dir, 'auth.conf');
  writeFileSync(
    conf,
    [
      'authenticationEnabled=true',
      'authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken',
      `tokenSecretKey=file://${secretKeyFile}`,
      'authorizationEnabled=true',
      'superUserRoles=admin,qp-manager',
      // The broker's own client (WebSocket service, health check) authenticates too.
      'brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken',
      `brokerClientAuthenticationParameters=token:${adminToken}`,
      '',
    ].join('\n'),
  );
  const broker = await startExtraBroker(name, { extraConf: conf, healthToken: adminToken });
  return { broker, secretKeyFile, adminToken, managerToken };
}

/** Every extra broker this process started or is starting; removeExtraBrokers takes them all down. */
const startedBrokers = new Set<ExtraBroker>();

/**
 * Stops and removes every extra broker of this process, including one whose
 * start is still under way (a hook that timed out never got its broker back).
 */
export async function removeExtraBrokers(): Promise<void> {
  const brokers = [...startedBrokers];
  startedBrokers.clear();
  await Promise.all(brokers.map((broker) => broker.remove()));
}
