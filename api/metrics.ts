// API metrics under qp_manager_, served at GET /metrics. Names and label rules as in
// activities/metrics.ts: base units in the name, no agent or job id in a label.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AGENT_STATUSES, type AgentStatus } from '../core/agents';
import { TASK_STATUSES, type TaskStatus } from '../core/tasks';

export type RegistrationOutcome = 'started' | 'reregistered' | 'activated' | 'bad_signature' | 'stale' | 'rejected';

/** Swarms that get their own qp_manager_agents series; the rest are summed under swarm="_other". */
export const AGENT_GAUGE_SWARMS = 20;
/** A scrape waits this long for fresh counts, then serves the last ones (the first scrape waits longer). */
const AGENT_COUNT_WAIT_MS = 500;
const AGENT_COUNT_FIRST_WAIT_MS = 5_000;
/** Counts are not redone more often than this, however often the API is scraped. */
const AGENT_COUNT_MIN_INTERVAL_MS = 1_000;
/** Statuses counted per swarm (the others only in total, swarm="_all"): each is one visibility count per scrape. */
const PER_SWARM_STATUSES: AgentStatus[] = ['ACTIVE', 'LOST'];

export interface AgentCounts {
  countAgents(status: AgentStatus, swarmId?: string): Promise<number>;
  liveSwarms(max: number): Promise<string[]>;
}

/** Counts of tasks, decisions and pools, read from Temporal visibility and the cluster at scrape time. */
export interface WorkCounts {
  /** Tasks of this deployment in a status (TASK_STATUSES), within the namespace's retention for ended ones. */
  countTasks(status: TaskStatus): Promise<number>;
  /** Decisions still open: PENDING or ACTIVE. */
  countOpenDecisions(): Promise<number>;
  /** Replicas summed over every agent pool the cluster runs. */
  poolReplicas(): Promise<{ desired: number; ready: number }>;
}

/** The task gauge's state label for each task status. */
const TASK_STATE: Record<TaskStatus, string> = {
  QUEUED: 'queued',
  HELD: 'held',
  ASSIGNED: 'running',
  SUCCEEDED: 'done',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
};

/**
 * A gauge whose values are recomputed at scrape time by `count`, at most every
 * AGENT_COUNT_MIN_INTERVAL_MS: a scrape waits for a fresh count at most
 * AGENT_COUNT_WAIT_MS and otherwise serves the last one, so a slow Temporal
 * never makes the API's scrape time out (and the target look down).
 */
function countedGauge(registry: Registry, name: string, help: string, labelNames: string[], count: () => Promise<Array<[Record<string, string>, number]>>) {
  let counted: Array<[Record<string, string>, number]> = [];
  let counting: Promise<void> | undefined;
  let countedAt = 0;
  const recount = async (): Promise<void> => {
    counted = await count();
    countedAt = Date.now();
  };
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      if (!counting && Date.now() - countedAt >= AGENT_COUNT_MIN_INTERVAL_MS) {
        counting = recount()
          .catch(() => undefined)
          .finally(() => (counting = undefined));
      }
      if (counting) {
        await Promise.race([counting, new Promise((resolve) => setTimeout(resolve, countedAt === 0 ? AGENT_COUNT_FIRST_WAIT_MS : AGENT_COUNT_WAIT_MS).unref())]);
      }
      this.reset();
      for (const [labels, value] of counted) this.set(labels, value);
    },
  });
}

export function createApiMetrics(agents: AgentCounts | ((status: AgentStatus) => Promise<number>), work?: WorkCounts) {
  const counts: AgentCounts =
    typeof agents === 'function' ? { countAgents: (status) => agents(status), liveSwarms: async () => [] } : agents;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qp_manager_api_' });
  const httpRequests = new Counter({
    name: 'qp_manager_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const httpSeconds = new Histogram({
    name: 'qp_manager_http_request_duration_seconds',
    help: 'HTTP request latency by route and method',
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const registrations = new Counter({
    name: 'qp_manager_registrations_total',
    help: 'Registration steps seen by the API, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const outcome of ['started', 'activated', 'bad_signature'] as const) registrations.inc({ outcome }, 0);
  // Counting is a handful of visibility queries per scrape (countedGauge caches them).
  countedGauge(
    registry,
    'qp_manager_agents',
    `Agents by status and swarm (Temporal visibility): swarm="_all" for every status, per swarm for ${PER_SWARM_STATUSES.join(' and ')} (at most ${AGENT_GAUGE_SWARMS} swarms)`,
    ['status', 'swarm'],
    async () => {
      const next: Array<[Record<string, string>, number]> = [];
      const totals = await Promise.all(AGENT_STATUSES.map((s) => counts.countAgents(s).catch(() => Number.NaN)));
      AGENT_STATUSES.forEach((status, i) => next.push([{ status, swarm: '_all' }, totals[i]]));
      const swarms = await counts.liveSwarms(AGENT_GAUGE_SWARMS + 1).catch(() => [] as string[]);
      const shown = swarms.slice(0, AGENT_GAUGE_SWARMS);
      for (const status of PER_SWARM_STATUSES) {
        const perSwarm = await Promise.all(shown.map((swarm) => counts.countAgents(status, swarm).catch(() => Number.NaN)));
        shown.forEach((swarm, i) => next.push([{ status, swarm }, perSwarm[i]]));
        if (swarms.length > AGENT_GAUGE_SWARMS) {
          const total = totals[AGENT_STATUSES.indexOf(status)];
          next.push([{ status, swarm: '_other' }, total - perSwarm.reduce((a, b) => a + b, 0)]);
        }
      }
      return next;
    },
  );
  if (work) {
    countedGauge(
      registry,
      'qp_manager_tasks',
      'Delegated tasks by state (Temporal visibility): queued, running, done, failed, cancelled; ended ones within the namespace retention',
      ['state'],
      async () =>
        Promise.all(
          TASK_STATUSES.map(async (status): Promise<[Record<string, string>, number]> => [
            { state: TASK_STATE[status] },
            await work.countTasks(status).catch(() => Number.NaN),
          ]),
        ),
    );
    countedGauge(registry, 'qp_manager_decisions_open', 'Collaborative decisions pending or collecting ballots (Temporal visibility)', [], async () => [
      [{}, await work.countOpenDecisions().catch(() => Number.NaN)],
    ]);
    countedGauge(registry, 'qp_manager_pool_replicas', 'Agent pool replicas summed over pools, by kind: desired, ready', ['kind'], async () => {
      const replicas = await work.poolReplicas().catch(() => ({ desired: Number.NaN, ready: Number.NaN }));
      return [
        [{ kind: 'desired' }, replicas.desired],
        [{ kind: 'ready' }, replicas.ready],
      ];
    });
  }
  return {
    registry,
    httpRequests,
    httpSeconds,
    registration: (outcome: RegistrationOutcome) => registrations.inc({ outcome }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
