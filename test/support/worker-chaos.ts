// The set-up of the worker-kill chaos suites: the real worker as a child process (workers/main.ts)
// on a task queue of its own, with Pulsar messaging on the shared broker and a filesystem blob store
// in a temporary directory, and the API in-process beside it. A suite SIGKILLs the worker and
// starts it again (restartWorker): nothing of a job lives only in the dead process.
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QpAgent, type QpAgentOptions } from '../../agents/sdk';
import { FilesystemBlobStore } from '../../adapters/blobs/filesystem';
import { MemoryVectors } from '../../adapters/memory/vectors';
import { PulsarMessaging } from '../../adapters/pulsar/messaging';
import type { ClusterPort } from '../../adapters/ports';
import { startApiServer, type ApiServer } from '../../api/server';
import { parseConfig } from '../../core/config';
import { sharedPulsarOptions } from './pulsar';
import { ADMIN_TOKEN, uniqueId, waitFor } from './stack';

const ROOT = join(__dirname, '..', '..');

export class WorkerChaosStack {
  private readonly secret = randomBytes(32).toString('hex');
  private readonly blobDir: string;
  private pulsar = sharedPulsarOptions();
  private readonly env: NodeJS.ProcessEnv & { TEMPORAL_ADDRESS: string; TEMPORAL_NAMESPACE: string };
  private worker: ChildProcess | undefined;
  /** The last few KB the current worker printed, for failures to show. */
  private output = '';
  private connection: Connection | undefined;
  private apiMessaging: PulsarMessaging | undefined;
  api!: ApiServer;
  client!: Client;
  /** The agents' own messaging client (not the API's). */
  agentMessaging!: PulsarMessaging;
  /** SIGKILLs so far, for the suite's closing line. */
  kills = 0;
  private readonly agents: QpAgent[] = [];

  /**
   * `name` prefixes the task queue and the blob directory; `env` adds to or overrides the worker's and the API's configuration;
   * `apiCluster` is the cluster the in-process API reads pools from (the worker builds its own from `env`, e.g. QP_CLUSTER=kubernetes).
   */
  constructor(
    name: string,
    env: Record<string, string> = {},
    private readonly apiCluster?: ClusterPort,
  ) {
    this.blobDir = mkdtempSync(join(tmpdir(), `qp-${name}-blobs-`));
    this.env = {
      ...process.env,
      TEMPORAL_ADDRESS: process.env.QP_TEST_TEMPORAL_ADDRESS!,
      TEMPORAL_NAMESPACE: process.env.QP_TEST_NAMESPACE!,
      QP_TASK_QUEUE: uniqueId(name),
      QP_MESSAGING: 'pulsar',
      PULSAR_SERVICE_URL: process.env.QP_TEST_PULSAR_URL!,
      PULSAR_ADMIN_URL: this.pulsar.adminUrl,
      PULSAR_TENANT: this.pulsar.tenant as string,
      QP_CREDENTIAL_SECRET: this.secret,
      QP_BLOB_DIR: this.blobDir,
      QP_ADMIN_TOKEN: ADMIN_TOKEN,
      QP_METRICS_PORT: '0',
      QP_SDK_METRICS_PORT: '0',
      QP_WORKFLOW_BUNDLE: process.env.QP_TEST_WORKFLOW_BUNDLE!,
      QP_HEARTBEAT_GRACE_MS: '60000',
      // A rebalancing Schedule per swarm would outlive the suite.
      QP_TASK_REBALANCE_INTERVAL_S: '0',
      // These suites check what faults leave behind, not how fast the API gives up on a slow Temporal.
      QP_API_TEMPORAL_DEADLINE_MS: '30000',
      ...env,
    };
  }

  private startWorker(): ChildProcess {
    // node itself, with tsx as a loader: the tsx CLI would be a parent process,
    // and killing it would leave the real worker running.
    const worker = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'workers/main.ts')], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A worker that dies on its own would leave the suite waiting on nothing: say why, at once.
    this.output = '';
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-4000);
    };
    worker.stdout!.on('data', keep);
    worker.stderr!.on('data', keep);
    // QP_TEST_WORKER_LOG_DIR keeps each chaos worker's whole output, for a failure to be read afterwards.
    const logDir = process.env.QP_TEST_WORKER_LOG_DIR;
    if (logDir) {
      const file = createWriteStream(join(logDir, `${this.env.QP_TASK_QUEUE}-worker.log`), { flags: 'a' });
      worker.stdout!.pipe(file, { end: false });
      worker.stderr!.pipe(file, { end: false });
    }
    worker.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL') console.error(`the chaos worker exited by itself (code ${code}, signal ${signal}), its output ended:\n${this.output}`);
    });
    return worker;
  }

  /**
   * Starts the worker, connects to Temporal (the run's shared dev server, or `temporalAddress`)
   * and Pulsar (the shared broker, or `broker`), and starts the API on a free port.
   */
  async start(temporalAddress?: string, broker?: { serviceUrl: string; adminUrl: string; webSocketUrl: string }): Promise<void> {
    if (temporalAddress) this.env.TEMPORAL_ADDRESS = temporalAddress;
    if (broker) {
      this.env.PULSAR_SERVICE_URL = broker.serviceUrl;
      this.env.PULSAR_ADMIN_URL = broker.adminUrl;
      this.pulsar = { ...this.pulsar, adminUrl: broker.adminUrl, webSocketUrl: broker.webSocketUrl };
    }
    this.worker = this.startWorker();
    this.connection = await Connection.connect({ address: this.env.TEMPORAL_ADDRESS });
    this.client = new Client({ connection: this.connection, namespace: this.env.TEMPORAL_NAMESPACE });
    this.apiMessaging = new PulsarMessaging(this.pulsar);
    this.agentMessaging = new PulsarMessaging(this.pulsar);
    this.api = await startApiServer({
      config: parseConfig(this.env),
      client: this.client,
      messaging: this.apiMessaging,
      blobs: new FilesystemBlobStore(this.blobDir),
      vectors: new MemoryVectors(),
      ...(this.apiCluster ? { cluster: this.apiCluster } : {}),
      credentialSecret: this.secret,
      port: 0,
    });
  }

  /** SIGKILLs the worker process, waits until it has exited, and starts a new one. */
  async restartWorker(): Promise<void> {
    const worker = this.worker!;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGKILL');
    await exited;
    this.kills++;
    this.worker = this.startWorker();
  }

  /**
   * Kills and restarts the worker `count` times, each after a pause drawn from
   * `random` in [minMs, minMs + spreadMs): seeded moments, not conditions.
   * Resolves with the pauses, ms.
   */
  async killAtSeededMoments(random: () => number, count: number, minMs: number, spreadMs: number): Promise<number[]> {
    const pauses: number[] = [];
    for (let k = 0; k < count; k++) {
      const pauseMs = Math.round(minMs + random() * spreadMs);
      pauses.push(pauseMs);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await this.restartWorker();
    }
    return pauses;
  }

  /**
   * Registers `count` SDK agents of `swarmId` (ids `<swarmId>-<i>`, all alike unless
   * `options` says otherwise) and waits until visibility lists them ACTIVE.
   * The stack closes them.
   */
  async registerSwarm(swarmId: string, count: number, options: (i: number) => Partial<QpAgentOptions> = () => ({})): Promise<QpAgent[]> {
    const members = Array.from(
      { length: count },
      (_, i) =>
        new QpAgent({
          apiUrl: this.api.url,
          messaging: this.agentMessaging,
          agentId: `${swarmId}-${i}`,
          swarmId,
          capabilities: ['work', 'vote'],
          resources: { cpu: 1, memoryMb: 512 },
          heartbeatIntervalMs: 60_000,
          handshakeTimeoutMs: 90_000,
          retries: 10,
          ...options(i),
        }),
    );
    this.agents.push(...members);
    await Promise.all(members.map((agent) => agent.register())).catch((error: Error) => {
      throw new Error(`${error.message}; the worker's output ended:\n${this.output}`);
    });
    await waitFor(
      `${count} agents of ${swarmId} listed ACTIVE`,
      async () => ((await this.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 100 })).agents.length === count ? true : undefined),
      60_000,
      250,
    );
    return members;
  }

  /**
   * The results of the workflows `workflowIds`, in order. Fails after `timeoutMs`
   * naming the ones still running and what they wait on, not with a bare test timeout.
   */
  async resultsOf<T>(workflowIds: string[], timeoutMs: number): Promise<T[]> {
    const done = new Set<string>();
    const results = Promise.all(
      workflowIds.map(async (workflowId) => {
        const result = (await this.client.workflow.getHandle(workflowId).result()) as T;
        done.add(workflowId);
        return result;
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(async () => {
        const waiting = await Promise.all(
          workflowIds
            .filter((workflowId) => !done.has(workflowId))
            .map(async (workflowId) => {
              const described = await this.client.workflow.getHandle(workflowId).describe().catch(() => undefined);
              const pending = described?.raw.pendingActivities?.map((a) => `${a.activityType?.name} attempt ${a.attempt}`) ?? [];
              return `${workflowId} (${described?.status.name ?? '?'}${pending.length ? `, running ${pending.join(', ')}` : ''})`;
            }),
        );
        reject(new Error(`${waiting.length} of ${workflowIds.length} workflows did not end within ${timeoutMs} ms: ${waiting.join('; ')}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([results, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Each member's session status after one heartbeat from each. A session the liveness sweep marked
   * LOST while its agent was quiet (these agents heartbeat once a minute) comes back with the
   * heartbeat, at the sweep that reads it: the statuses are read until all are ACTIVE or timeoutMs passes.
   */
  async statusesAfterHeartbeat(members: QpAgent[], timeoutMs = 90_000): Promise<string[]> {
    for (const agent of members) await agent.heartbeat();
    const statuses = async () => (await Promise.all(members.map((agent) => this.api.swarm.getAgent(agent.agentId)))).map((session) => session.status);
    await waitFor('every session ACTIVE after its heartbeat', async () => ((await statuses()).every((status) => status === 'ACTIVE') ? true : undefined), timeoutMs, 1_000).catch(
      () => undefined,
    );
    return statuses();
  }

  /** An admin call to the API; resolves with the status and the JSON body. */
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  /** Kills the worker, stops `swarms`, then closes the API and the connections. */
  async close(swarms: { stop(): Promise<void> }[] = []): Promise<void> {
    this.worker?.kill('SIGKILL');
    await Promise.all(swarms.map((s) => s.stop()));
    await Promise.allSettled(this.agents.map((agent) => agent.close()));
    await this.api?.close();
    await this.apiMessaging?.close();
    await this.agentMessaging?.close();
    await this.connection?.close();
  }
}
