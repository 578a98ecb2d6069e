// Chaos: the worker process is killed (SIGKILL) in the middle of a round's
// aggregation and started again. Updates travel over a real Pulsar broker and
// models live in a filesystem blob store, so nothing of the round lives only
// in the dead process. The job must finish with a final model bit-identical
// to an undisturbed run of the same job.
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBlobStore } from '../adapters/blobs/filesystem';
import { MemoryVectors } from '../adapters/memory/vectors';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Trainer } from '../agents/sdk';
import { digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import { startApiServer, type ApiServer } from '../api/server';
import { parseConfig } from '../core/config';
import type { TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import { sharedPulsarOptions } from './support/pulsar';
import { ADMIN_TOKEN, uniqueId, waitFor } from './support/stack';

const ROOT = join(__dirname, '..');

describe('a worker killed mid-aggregation', () => {
  const secret = randomBytes(32).toString('hex');
  const blobDir = mkdtempSync(join(tmpdir(), 'qp-chaos-blobs-'));
  const pulsar = sharedPulsarOptions();
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: process.env.QP_TEST_TEMPORAL_ADDRESS!,
    TEMPORAL_NAMESPACE: process.env.QP_TEST_NAMESPACE!,
    QP_TASK_QUEUE: uniqueId('chaos'),
    QP_MESSAGING: 'pulsar',
    PULSAR_SERVICE_URL: process.env.QP_TEST_PULSAR_URL!,
    PULSAR_ADMIN_URL: pulsar.adminUrl,
    PULSAR_TENANT: pulsar.tenant as string,
    QP_CREDENTIAL_SECRET: secret,
    QP_BLOB_DIR: blobDir,
    QP_ADMIN_TOKEN: ADMIN_TOKEN,
    QP_METRICS_PORT: '0',
    QP_SDK_METRICS_PORT: '0',
    QP_WORKFLOW_BUNDLE: process.env.QP_TEST_WORKFLOW_BUNDLE!,
    QP_HEARTBEAT_GRACE_MS: '60000',
  };
  let worker: ChildProcess | undefined;
  let api: ApiServer;
  let client: Client;
  let connection: Connection;
  let apiMessaging: PulsarMessaging;
  let agentMessaging: PulsarMessaging;
  const swarms: SwarmSimulation[] = [];

  function startWorker(): ChildProcess {
    // node itself, with tsx as a loader: the tsx CLI would be a parent process,
    // and killing it would leave the real worker running.
    return spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'workers/main.ts')], {
      cwd: ROOT,
      env,
      stdio: 'ignore',
    });
  }

  beforeAll(async () => {
    worker = startWorker();
    connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
    apiMessaging = new PulsarMessaging(pulsar);
    agentMessaging = new PulsarMessaging(pulsar);
    api = await startApiServer({
      config: parseConfig(env),
      client,
      messaging: apiMessaging,
      blobs: new FilesystemBlobStore(blobDir),
      vectors: new MemoryVectors(),
      credentialSecret: secret,
      port: 0,
    });
  });

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await Promise.all(swarms.map((s) => s.stop()));
    await api?.close();
    await apiMessaging?.close();
    await agentMessaging?.close();
    await connection?.close();
  });

  /** Six agents on digits; agent i answers i x 250 ms late, so a round's updates trickle in. */
  async function swarm(swarmId: string): Promise<void> {
    const trainers = digitsTrainers({ agents: 6, alpha: 0.5, seed: 21 }).map(
      (train, i): Trainer =>
        async (task) => {
          await new Promise((resolve) => setTimeout(resolve, i * 250));
          return train(task);
        },
    );
    const simulation = await simulateSwarm({
      apiUrl: api.url,
      messaging: agentMessaging,
      count: trainers.length,
      swarmId,
      idPrefix: swarmId,
      trainers,
      heartbeatIntervalMs: 2000,
    });
    swarms.push(simulation);
    expect(simulation.failed).toEqual([]);
    await waitFor(
      'every agent ACTIVE',
      async () => ((await api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 50 })).agents.length === 6 ? true : undefined),
      60_000,
    );
  }

  async function startJob(swarmId: string): Promise<string> {
    const { jobId } = await api.tuning.start({
      swarmId,
      model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
      rounds: 3,
      fraction: 1,
      minParticipants: 6,
      roundTimeoutMs: 30_000,
      maxRoundAttempts: 2,
      strategy: 'fedavg',
      strategyOptions: {},
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      evaluateEvery: 3,
      seed: 5,
    });
    return jobId;
  }

  it('loses no update, counts none twice, and ends on the same bits as an undisturbed run', async () => {
    const calm = uniqueId('calm');
    await swarm(calm);
    const reference: TuningProgress = await client.workflow.getHandle(tuningWorkflowId(await startJob(calm))).result();
    expect(reference.status).toBe('COMPLETED');

    const stormy = uniqueId('storm');
    await swarm(stormy);
    const jobId = await startJob(stormy);
    const handle = client.workflow.getHandle(tuningWorkflowId(jobId));
    // Kill the worker while round 2's aggregation has taken in some updates but not all.
    await waitFor(
      'round 2 aggregation in progress',
      async () => {
        const described = await handle.describe();
        const progress = await handle.query<TuningProgress>('tuningProgress');
        const pending = described.raw.pendingActivities?.find((a) => a.activityType?.name === 'collectAndAggregate');
        return progress.round === 1 && pending ? true : undefined;
      },
      60_000,
      50,
    );
    // Fault injection, not a wait for a condition: by now the first agents' updates are in.
    await new Promise((resolve) => setTimeout(resolve, 600));
    worker!.kill('SIGKILL');
    await new Promise((resolve) => worker!.once('exit', resolve));
    worker = startWorker();

    const result: TuningProgress = await handle.result();
    // The aggregation really was cut short and run again by the new worker.
    const events = (await handle.fetchHistory()).events ?? [];
    const attempts = events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds.map((r) => r.accepted)).toEqual([6, 6, 6]);
    expect(result.globalDigest).toBe(reference.globalDigest);
    expect(result.recentRounds.at(-1)!.accuracy).toBe(reference.recentRounds.at(-1)!.accuracy);
  }, 240_000);
});
