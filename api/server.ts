// The API server: one Temporal client and the process's ports (built by the
// composition root that calls it), the app, readiness and a graceful close.
import type { Client } from '@temporalio/client';
import { createServer } from 'node:http';
import { taskQueues, type Config } from '../core/config';
import type { AgentMessagingAccess, AnalyticsRuntime, BlobStore, ClusterPort, MessagingPort, VectorPort } from '../adapters/ports';
import { EmbeddedAnalyticsRuntime } from '../adapters/memory/analytics-runtime';
import { AnalyticsService } from './analytics-service';
import { analyticsMetrics } from './analytics-metrics';
import { MemoryCluster } from '../adapters/memory/cluster';
import { createApp } from './app';
import { createApiMetrics } from './metrics';
import { SwarmService } from './swarm-service';
import { TuningService } from './tuning-service';
import { BehaviorService } from './behavior-service';
import { StatusService } from './status-service';
import { DecisionService } from './decision-service';
import { GovernanceService } from './governance-service';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import { TaskService } from './task-service';
import { TemporalTaskReputation } from '../adapters/temporal/reputation';
import { TemporalContributionLedger } from '../adapters/temporal/contribution-ledger';
import { PoolService } from './pool-service';
import { powerAndCarbon } from './power-and-carbon';
import { checkReadiness, temporalCheck, type Readiness } from './health';
import { closeGracefully, listen } from './listen';

export interface ApiServer {
  port: number;
  url: string;
  swarm: SwarmService;
  tuning: TuningService;
  behaviors: BehaviorService;
  decisions: DecisionService;
  analytics: AnalyticsService;
  pools: PoolService;
  /** The dependencies' state, as /readyz reports it. */
  readiness(): Promise<Readiness>;
  /**
   * Stops accepting connections, lets in-flight requests finish within
   * QP_SHUTDOWN_GRACE_MS (or graceMs), then closes what is left. Connections
   * and ports belong to the caller.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startApiServer(deps: {
  config: Config;
  client: Client;
  messaging: MessagingPort;
  blobs: BlobStore;
  /** Where behaviors and skills are read. */
  vectors: VectorPort;
  /** Where agent pools run; unset: an empty in-memory cluster (pools show their policy only). */
  cluster?: ClusterPort;
  credentialSecret: string;
  /** Overrides QP_API_PORT; 0 picks a free port. */
  port?: number;
  /** Where the swarms' analytics run (workers/ports.ts createAnalytics); default: embedded in this process. */
  analytics?: AnalyticsRuntime;
  /** Agents' own broker identities (workers/ports.ts createAgentAccess); default: none. */
  agentAccess?: AgentMessagingAccess;
}): Promise<ApiServer> {
  const { config } = deps;
  let swarm: SwarmService | undefined;
  const cluster = deps.cluster ?? new MemoryCluster();
  const metrics = createApiMetrics(
    {
      countAgents: (status, swarmId) => swarm!.countAgents(status, swarmId),
      liveSwarms: (max) => swarm!.liveSwarms(max),
    },
    {
      countTasks: (status) => tasks.count(status),
      countOpenDecisions: () => decisions.countOpen(),
      poolReplicas: async () =>
        (await cluster.listPools()).reduce((sum, pool) => ({ desired: sum.desired + pool.desired, ready: sum.ready + pool.ready }), { desired: 0, ready: 0 }),
      runningTaskPowerWatts: () => energy.runningTaskPowerWatts(),
      carbonBudgetGrams: () => energy.carbonBudgetGrams(),
    },
  );
  swarm = new SwarmService(
    deps.client,
    deps.messaging,
    {
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.QP_TASK_QUEUE,
      registrationTaskQueue: taskQueues(config).registration,
      handshakeTimeoutMs: config.QP_HANDSHAKE_TIMEOUT_MS,
      credentialSecret: deps.credentialSecret,
      agentAccess: deps.agentAccess,
    },
    metrics,
  );
  const tuning = new TuningService(deps.client, deps.blobs, {
    taskQueue: taskQueues(config).tuning,
    defaultSwarm: config.QP_DEFAULT_SWARM,
    liveSwarms: (max) => swarm!.liveSwarms(max),
  });
  const behaviors = new BehaviorService(deps.client, deps.messaging, deps.vectors, {
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.QP_TASK_QUEUE,
    dimension: config.QP_BEHAVIOR_DIMENSION,
    metric: config.QP_BEHAVIOR_METRIC,
    managerSecret: deps.credentialSecret,
  });
  const roster = new TemporalSwarmRoster(deps.client, config.TEMPORAL_NAMESPACE);
  const governance = new GovernanceService(deps.client, {
    taskQueue: config.QP_TASK_QUEUE,
    defaultProposalThreshold: config.QP_DECISION_PROPOSAL_THRESHOLD,
  });
  const decisions = new DecisionService(
    deps.client,
    deps.messaging,
    deps.blobs,
    roster,
    {
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.QP_TASK_QUEUE,
      thresholdOf: (swarmId) => governance.proposalThreshold(swarmId),
      reputation: new TemporalTaskReputation(
        deps.client,
        config.TEMPORAL_NAMESPACE,
        new TemporalContributionLedger(deps.client, config.QP_TASK_QUEUE, config.QP_REPUTATION_HALF_LIFE_MS),
        config.QP_REPUTATION_HALF_LIFE_MS,
      ),
    },
  );
  // A runtime the caller passes is the caller's to close; one made here is closed here.
  const ownRuntime = deps.analytics
    ? undefined
    : new EmbeddedAnalyticsRuntime(deps.messaging, {
        windowMs: config.QP_ANALYTICS_WINDOW_MS,
        latenessMs: config.QP_ANALYTICS_LATENESS_MS,
        graceMs: config.QP_HEARTBEAT_GRACE_MS,
        flapThreshold: config.QP_ANALYTICS_FLAP_THRESHOLD,
        burstThreshold: config.QP_ANALYTICS_BURST_THRESHOLD,
        decisionIdleMs: config.QP_ANALYTICS_DECISION_IDLE_MS,
      });
  const analytics = new AnalyticsService(deps.messaging, (deps.analytics ?? ownRuntime)!);
  analytics.onWindow = analyticsMetrics(metrics.registry, { agentLabels: config.QP_METRICS_AGENT_LABELS });
  analytics.directory = roster;
  const tasks = new TaskService(deps.client, {
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.QP_TASK_QUEUE,
    cursorSecret: deps.credentialSecret,
    maxAttempts: config.QP_TASK_MAX_ATTEMPTS,
    attemptTimeoutMs: config.QP_TASK_ATTEMPT_TIMEOUT_MS,
    bidWindowMs: config.QP_TASK_BID_WINDOW_MS,
    rebalanceIntervalS: config.QP_TASK_REBALANCE_INTERVAL_S,
    resultsWindowMs: 5_000,
  });
  const pools = new PoolService(deps.client, cluster, config.QP_TASK_QUEUE, config.QP_AUTOSCALE_INTERVAL_S);
  const energy = powerAndCarbon({ tasks, pools, directory: roster });
  let closing = false;
  const readiness = async (): Promise<Readiness> => {
    const report = await checkReadiness({ temporal: temporalCheck(deps.client.connection) });
    if (closing) {
      report.status = 'not ready';
      report.checks.api = 'down: shutting down';
      report.down.push('api');
    }
    return report;
  };
  const status = new StatusService(deps.client, swarm, behaviors, { tasks, decisions }, {
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.QP_TASK_QUEUE,
    tuningTaskQueue: taskQueues(config).tuning,
    temporalUi: config.QP_TEMPORAL_UI_URL ?? `http://${config.TEMPORAL_ADDRESS.split(':')[0]}:8233`,
  });
  const app = createApp({
    swarm,
    tuning,
    behaviors,
    decisions,
    governance,
    analytics,
    tasks,
    pools,
    metrics,
    status,
    adminToken: config.QP_ADMIN_TOKEN,
    bodyLimit: config.QP_BODY_LIMIT,
    readiness,
    temporal: { connection: deps.client.connection, deadlineMs: config.QP_API_TEMPORAL_DEADLINE_MS },
  });
  const server = createServer(app);
  const host = config.QP_LISTEN_HOST;
  const port = await listen(server, { port: deps.port ?? config.QP_API_PORT, host, variable: 'QP_API_PORT' });
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${urlHost}:${port}`,
    swarm,
    tuning,
    behaviors,
    decisions,
    analytics,
    pools,
    readiness,
    close: async (graceMs = config.QP_SHUTDOWN_GRACE_MS) => {
      closing = true;
      await closeGracefully(server, graceMs);
      await analytics.close();
      await ownRuntime?.close();
    },
  };
}
