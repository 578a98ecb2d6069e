// Composition root of the Temporal worker: activities wired to the ports.
import type { Client } from '@temporalio/client';
import { existsSync } from 'node:fs';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { ConfigError, taskQueues, type Config } from '../core/config';
import { HeartbeatLedger } from '../core/liveness';
import { createLivenessActivities } from '../activities/liveness';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { createRegistrationActivities } from '../activities/registration';
import { createTuningActivities } from '../activities/tuning';
import { createAsyncTuningActivities } from '../activities/async-tuning';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import { TemporalLivenessDirectory } from '../adapters/temporal/liveness-directory';
import { createEvaluators, type Ports } from './ports';
import { temporalCheck, type ReadinessCheck } from '../api/health';
import { createBehaviorActivities, createBehaviorMetrics } from '../activities/behaviors';
import { TemporalBehaviorRegistry } from '../adapters/temporal/behavior-registry';
import { behaviorOptions, ensureBehaviorSweepSchedule, type BehaviorWorkerOptions } from './behaviors';
import { createKeptAliveDecisionActivities } from '../activities/decisions';
import { TemporalElectorate } from '../adapters/temporal/electorate';
import { TemporalTaskReputation } from '../adapters/temporal/reputation';
import { createTaskActivities } from '../activities/tasks';
import { HighsLpSolver } from '../adapters/highs/lp-solver';
import { DirectoryTaskAgents } from '../adapters/temporal/task-agents';
import { TemporalTaskOutcomes } from '../adapters/temporal/task-outcomes';
import { TemporalTaskDirectory } from '../adapters/temporal/task-directory';
import { createAutoscalingActivities } from '../activities/autoscaling';
import { TemporalPoolStore } from '../adapters/temporal/pool-store';
import { TaskService, type TaskServiceOptions } from '../api/task-service';
import { TemporalContributionLedger } from '../adapters/temporal/contribution-ledger';

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
  /** How tasks a decision's "tasks" action submits are delegated (as the API's); without it such actions fail. */
  taskSubmission?: Omit<TaskServiceOptions, 'namespace' | 'taskQueue' | 'cursorSecret'>;
  /** Age past which task placement no longer uses an analytics window, ms (QP_ANALYTICS_MEASURED_MAX_AGE_MS). */
  measuredMaxAgeMs?: number;
  /** Reputation half-life, ms (QP_REPUTATION_HALF_LIFE_MS); 0 or absent: no decay. */
  reputationHalfLifeMs?: number;
  /** Task queue liveness monitors start on (QP_REGISTRATION_TASK_QUEUE); default: taskQueue. */
  registrationTaskQueue?: string;
  /** The task queues this process polls, one worker each (QP_WORKER_ROLES); default: [taskQueue]. */
  pollTaskQueues?: string[];
}

/** What a process supplies to a worker beside its configuration. */
export interface QpWorkerDeps {
  connection: NativeConnection;
  client: Client;
  ports: Ports;
  credentialSecret: string;
  registry?: Registry;
}

/** The one mapping from configuration to a worker's options. */
export function qpWorkerOptions(config: Config, deps: QpWorkerDeps): QpWorkerOptions {
  return {
    ...deps,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.QP_TASK_QUEUE,
    credentialTtlSeconds: config.QP_CREDENTIAL_TTL_S,
    heartbeatGraceMs: config.QP_HEARTBEAT_GRACE_MS,
    livenessWindowMs: config.QP_LIVENESS_WINDOW_MS,
    workflowBundlePath: config.QP_WORKFLOW_BUNDLE,
    shutdownGraceTime: config.QP_SHUTDOWN_GRACE_MS,
    behaviors: behaviorOptions(config),
    taskSubmission: {
      maxAttempts: config.QP_TASK_MAX_ATTEMPTS,
      attemptTimeoutMs: config.QP_TASK_ATTEMPT_TIMEOUT_MS,
      bidWindowMs: config.QP_TASK_BID_WINDOW_MS,
      rebalanceIntervalS: config.QP_TASK_REBALANCE_INTERVAL_S,
      resultsWindowMs: 5_000,
    },
    measuredMaxAgeMs: config.QP_ANALYTICS_MEASURED_MAX_AGE_MS,
    reputationHalfLifeMs: config.QP_REPUTATION_HALF_LIFE_MS,
    registrationTaskQueue: taskQueues(config).registration,
    pollTaskQueues: config.QP_WORKER_ROLES.map((role) => taskQueues(config)[role]),
  };
}

export function workflowSource(bundlePath?: string): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (!bundlePath) return { workflowsPath: require.resolve('../workflows') };
  if (!existsSync(bundlePath)) {
    throw new ConfigError([
      { variable: 'QP_WORKFLOW_BUNDLE', message: `no file at ${bundlePath}; build it with npm run build:bundle -- ${bundlePath}` },
    ]);
  }
  return { workflowBundle: { codePath: bundlePath } };
}

/** The worker of options.taskQueue alone. */
export async function createQpWorker(options: QpWorkerOptions): Promise<Worker> {
  const [worker] = await createQpWorkers({ ...options, pollTaskQueues: [options.taskQueue] });
  return worker;
}

/**
 * One worker per task queue in options.pollTaskQueues, sharing the activities, the roster and
 * the workflow bundle: each runs every workflow and activity, so work started on any queue
 * (before the roles had queues of their own: all on taskQueue) finds a worker.
 */
export async function createQpWorkers(options: QpWorkerOptions): Promise<Worker[]> {
  const metrics = createWorkerMetrics(options.registry ?? new Registry());
  const liveness = new TemporalLivenessDirectory(options.client, {
    taskQueue: options.registrationTaskQueue ?? options.taskQueue,
    graceMs: options.heartbeatGraceMs,
    windowMs: options.livenessWindowMs,
  });
  // One per process: the eligible agents and their keys; the registration and liveness activities tell it what changed.
  const roster = new TemporalSwarmRoster(options.client, options.namespace);
  // One per process: the liveness activity records verified heartbeats, the autoscaling activity reads pools' load.
  const heartbeats = new HeartbeatLedger();
  const behaviors = options.behaviors ?? behaviorOptions();
  // Idempotent: every worker start brings the Schedule in line with the config.
  await ensureBehaviorSweepSchedule(options.client, options.taskQueue, behaviors);
  // Accepted round updates per agent: the tuning activities record them, reputation reads them.
  const contributions = new TemporalContributionLedger(options.client, options.taskQueue, options.reputationHalfLifeMs);
  const queues = options.pollTaskQueues ?? [options.taskQueue];
  // Bundled once for all the queues' workers when no prebuilt bundle is given.
  const source =
    queues.length > 1 && !options.workflowBundlePath
      ? { workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') }) }
      : workflowSource(options.workflowBundlePath);
  const shared: Omit<WorkerOptions, 'taskQueue'> = {
    connection: options.connection,
    namespace: options.namespace,
    ...source,
    activities: {
      ...createRegistrationActivities({
        messaging: options.ports.messaging,
        liveness,
        credentialSecret: options.credentialSecret,
        credentialTtlSeconds: options.credentialTtlSeconds,
        directory: roster,
        metrics,
        agentAccess: options.ports.agentAccess,
      }),
      ...createLivenessActivities({
        messaging: options.ports.messaging,
        ledger: heartbeats,
        agentKeys: roster,
        credentialSecret: options.credentialSecret,
        directory: roster,
        metrics,
      }),
      ...createTuningActivities({
        messaging: options.ports.messaging,
        blobs: options.ports.blobs,
        directory: roster,
        evaluator: options.ports.evaluator ?? createEvaluators(),
        agentKeys: roster,
        credentialSecret: options.credentialSecret,
        metrics,
        contributions,
      }),
      ...createAsyncTuningActivities({
        messaging: options.ports.messaging,
        blobs: options.ports.blobs,
        agentKeys: roster,
        credentialSecret: options.credentialSecret,
        metrics,
        contributions,
      }),
      ...createBehaviorActivities({
        messaging: options.ports.messaging,
        vectors: options.ports.vectors,
        blobs: options.ports.blobs,
        registry: new TemporalBehaviorRegistry(options.client, options.namespace, [options.taskQueue, options.registrationTaskQueue ?? options.taskQueue]),
        agentKeys: roster,
        credentialSecret: options.credentialSecret,
        settings: behaviors.settings,
        metrics: createBehaviorMetrics(options.registry ?? new Registry()),
      }),
      ...createKeptAliveDecisionActivities({
        messaging: options.ports.messaging,
        blobs: options.ports.blobs,
        electorate: new TemporalElectorate(options.client, options.namespace),
        agentKeys: roster,
        reputation: new TemporalTaskReputation(options.client, options.namespace, contributions, options.reputationHalfLifeMs),
        tasks:
          options.taskSubmission &&
          new TaskService(options.client, {
            ...options.taskSubmission,
            namespace: options.namespace,
            taskQueue: options.taskQueue,
            cursorSecret: options.credentialSecret,
          }),
      }),
      ...createTaskActivities({
        messaging: options.ports.messaging,
        agents: new DirectoryTaskAgents(roster),
        outcomes: new TemporalTaskOutcomes(options.client),
        agentKeys: roster,
        credentialSecret: options.credentialSecret,
        solver: new HighsLpSolver(),
        tasks: new TemporalTaskDirectory(options.client, options.namespace),
        measured: options.ports.analyticsWindows,
        measuredMaxAgeMs: options.measuredMaxAgeMs,
      }),
      ...createAutoscalingActivities({
        cluster: options.ports.cluster,
        messaging: options.ports.messaging,
        pools: new TemporalPoolStore(options.client),
        heartbeats,
        loadMaxAgeMs: options.heartbeatGraceMs,
      }),
    },
    sinks: metricsSinks(metrics),
    shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
  };
  return Promise.all(queues.map((taskQueue) => Worker.create({ ...shared, taskQueue })));
}

export interface RunningQpWorker {
  /** The first role's worker (general unless QP_WORKER_ROLES leaves it out). */
  worker: Worker;
  /** One worker per polled task queue. */
  workers: Worker[];
  /** Settles when the workers stop; rejects when one fails rather than being shut down. */
  running: Promise<void>;
  /** Readiness of this worker: its Temporal connection answers and it is polling. */
  checks: Record<string, ReadinessCheck>;
  /** worker.shutdown() (in-flight activities get QP_SHUTDOWN_GRACE_MS), then its connection closes. */
  stop(): Promise<void>;
}

/** Connects a worker to Temporal, creates one per role's task queue from config and runs them. */
export async function startQpWorker(config: Config, deps: Omit<QpWorkerDeps, 'connection'>): Promise<RunningQpWorker> {
  workflowSource(config.QP_WORKFLOW_BUNDLE); // a missing bundle stops start-up before anything connects
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  let workers: Worker[];
  try {
    workers = await createQpWorkers(qpWorkerOptions(config, { ...deps, connection }));
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw error;
  }
  const running = Promise.all(workers.map((worker) => worker.run())).then(() => undefined);
  running.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  return {
    worker: workers[0],
    workers,
    running,
    checks: {
      temporal: temporalCheck(connection),
      worker: async () => {
        for (const worker of workers) {
          const state = worker.getState();
          if (state !== 'RUNNING') throw new Error(`worker of ${worker.options.taskQueue} is ${state}`);
        }
      },
    },
    async stop() {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      try {
        await running;
      } finally {
        await connection.close();
      }
    },
  };
}
