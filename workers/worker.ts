// Composition root of the Temporal worker: activities wired to the ports.
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { HeartbeatLedger } from '../core/liveness';
import { createLivenessActivities } from '../activities/liveness';
import { createWorkerMetrics } from '../activities/metrics';
import { createRegistrationActivities } from '../activities/registration';
import { createTuningActivities } from '../activities/tuning';
import { DigitsEvaluator } from '../adapters/datasets/digits-evaluator';
import { CachedAgentDirectory, TemporalAgentDirectory } from '../adapters/temporal/agent-directory';
import { TemporalLivenessDirectory } from '../adapters/temporal/liveness-directory';
import type { Ports } from './ports';
import { createBehaviorActivities, createBehaviorMetrics } from '../activities/behaviors';
import { TemporalBehaviorRegistry } from '../adapters/temporal/behavior-registry';
import { behaviorOptions, ensureBehaviorSweepSchedule, type BehaviorWorkerOptions } from './behaviors';

export interface QpWorkerOptions {
  connection: NativeConnection;
  client: Client;
  namespace: string;
  taskQueue: string;
  ports: Ports;
  credentialSecret: string;
  credentialTtlSeconds: number;
  heartbeatGraceMs: number;
  livenessWindowMs: number;
  /** A prebuilt workflow bundle (tests and production); otherwise bundled at start-up. */
  workflowBundlePath?: string;
  registry?: Registry;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Behavior discovery settings and sweep Schedule; default: from the default config. */
  behaviors?: BehaviorWorkerOptions;
}

export function workflowSource(bundlePath?: string): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  return bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: require.resolve('../workflows') };
}

export async function createQpWorker(options: QpWorkerOptions): Promise<Worker> {
  const metrics = createWorkerMetrics(options.registry ?? new Registry());
  const liveness = new TemporalLivenessDirectory(options.client, {
    taskQueue: options.taskQueue,
    graceMs: options.heartbeatGraceMs,
    windowMs: options.livenessWindowMs,
  });
  // One per process: the registration and liveness activities tell it what changed.
  const directory = new CachedAgentDirectory(new TemporalAgentDirectory(options.client, options.namespace));
  const behaviors = options.behaviors ?? behaviorOptions();
  // Idempotent: every worker start brings the Schedule in line with the config.
  await ensureBehaviorSweepSchedule(options.client, options.taskQueue, behaviors);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflowSource(options.workflowBundlePath),
    activities: {
      ...createRegistrationActivities({
        messaging: options.ports.messaging,
        liveness,
        credentialSecret: options.credentialSecret,
        credentialTtlSeconds: options.credentialTtlSeconds,
        directory,
        metrics,
      }),
      ...createLivenessActivities({
        messaging: options.ports.messaging,
        ledger: new HeartbeatLedger(),
        credentialSecret: options.credentialSecret,
        directory,
        metrics,
      }),
      ...createTuningActivities({
        messaging: options.ports.messaging,
        blobs: options.ports.blobs,
        directory,
        evaluator: new DigitsEvaluator(),
        credentialSecret: options.credentialSecret,
        metrics,
      }),
      ...createBehaviorActivities({
        messaging: options.ports.messaging,
        vectors: options.ports.vectors,
        blobs: options.ports.blobs,
        registry: new TemporalBehaviorRegistry(options.client, options.namespace, options.taskQueue),
        credentialSecret: options.credentialSecret,
        settings: behaviors.settings,
        metrics: createBehaviorMetrics(options.registry ?? new Registry()),
      }),
    },
    shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
  });
}
