// API metrics under qp_manager_, served at GET /metrics. Names and label rules as in
// activities/metrics.ts: base units in the name, no agent or job id in a label.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AGENT_STATUSES, type AgentStatus } from '../core/agents';

export type RegistrationOutcome = 'started' | 'reregistered' | 'activated' | 'bad_signature' | 'stale' | 'rejected';

/** Swarms that get their own qp_manager_agents series; the rest are summed under swarm="_other". */
export const AGENT_GAUGE_SWARMS = 20;
/** Statuses counted per swarm (the others only in total, swarm="_all"): each is one visibility count per scrape. */
const PER_SWARM_STATUSES: AgentStatus[] = ['ACTIVE', 'LOST'];

export interface AgentCounts {
  countAgents(status: AgentStatus, swarmId?: string): Promise<number>;
  liveSwarms(max: number): Promise<string[]>;
}

export function createApiMetrics(agents: AgentCounts | ((status: AgentStatus) => Promise<number>)) {
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
  new Gauge({
    name: 'qp_manager_agents',
    help: `Agents by status and swarm (Temporal visibility): swarm="_all" for every status, per swarm for ${PER_SWARM_STATUSES.join(' and ')} (at most ${AGENT_GAUGE_SWARMS} swarms)`,
    labelNames: ['status', 'swarm'],
    registers: [registry],
    async collect() {
      this.reset();
      const totals = await Promise.all(AGENT_STATUSES.map((s) => counts.countAgents(s).catch(() => Number.NaN)));
      AGENT_STATUSES.forEach((status, i) => this.set({ status, swarm: '_all' }, totals[i]));
      const swarms = await counts.liveSwarms(AGENT_GAUGE_SWARMS + 1).catch(() => [] as string[]);
      const shown = swarms.slice(0, AGENT_GAUGE_SWARMS);
      for (const status of PER_SWARM_STATUSES) {
        const perSwarm = await Promise.all(shown.map((swarm) => counts.countAgents(status, swarm).catch(() => Number.NaN)));
        shown.forEach((swarm, i) => this.set({ status, swarm }, perSwarm[i]));
        if (swarms.length > AGENT_GAUGE_SWARMS) {
          const total = totals[AGENT_STATUSES.indexOf(status)];
          this.set({ status, swarm: '_other' }, total - perSwarm.reduce((a, b) => a + b, 0));
        }
      }
    },
  });
  return {
    registry,
    httpRequests,
    httpSeconds,
    registration: (outcome: RegistrationOutcome) => registrations.inc({ outcome }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
