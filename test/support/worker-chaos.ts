// The set-up of the worker-kill chaos suites: the real worker as a child process (workers/main.ts)
// on a task queue of its own, with Pulsar messaging on the shared broker and a filesystem blob store
// in a temporary directory, and the API in-process beside it. A suite SIGKILLs the worker and
// starts it again (restartWorker): nothing of a job lives only in the dead process.
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBlobStore } from '../../adapters/blobs/filesystem';
import { MemoryVectors } from '../../adapters/memory/vectors';
import { PulsarMessaging } from '../../adapters/pulsar/messaging';
import { startApiServer, type ApiServer } from '../../api/server';
import { parseConfig } from '../../core/config';
import { sharedPulsarOptions } from './pulsar';
import { ADMIN_TOKEN, uniqueId } from './stack';

const ROOT = join(__dirname, '..', '..');

export class WorkerChaosStack {
  private readonly secret = randomBytes(32).toString('hex');
  private readonly blobDir: string;
  private readonly pulsar = sharedPulsarOptions();
  private readonly env: NodeJS.ProcessEnv & { TEMPORAL_ADDRESS: string; TEMPORAL_NAMESPACE: string };
  private worker: ChildProcess | undefined;
  private connection: Connection | undefined;
  private apiMessaging: PulsarMessaging | undefined;
  api!: ApiServer;
  client!: Client;
  /** The agents' own messaging client (not the API's). */
  agentMessaging!: PulsarMessaging;

  /** `name` prefixes the task queue and the blob directory. */
  constructor(name: string) {
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
    };
  }

  private startWorker(): ChildProcess {
    // node itself, with tsx as a loader: the tsx CLI would be a parent process,
    // and killing it would leave the real worker running.
    return spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'workers/main.ts')], {
      cwd: ROOT,
      env: this.env,
      stdio: 'ignore',
    });
  }

  /** Starts the worker, connects to Temporal and Pulsar, and starts the API on a free port. */
  async start(): Promise<void> {
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
      credentialSecret: this.secret,
      port: 0,
    });
  }

  /** SIGKILLs the worker process, waits until it has exited, and starts a new one. */
  async restartWorker(): Promise<void> {
    const worker = this.worker!;
    worker.kill('SIGKILL');
    await new Promise((resolve) => worker.once('exit', resolve));
    this.worker = this.startWorker();
  }

  /** Kills the worker, stops `swarms`, then closes the API and the connections. */
  async close(swarms: { stop(): Promise<void> }[] = []): Promise<void> {
    this.worker?.kill('SIGKILL');
    await Promise.all(swarms.map((s) => s.stop()));
    await this.api?.close();
    await this.apiMessaging?.close();
    await this.agentMessaging?.close();
    await this.connection?.close();
  }
}
