// API metrics under qp_manager_, served at GET /metrics.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { AGENT_STATUSES, type AgentStatus } from '../core/agents';

export type RegistrationOutcome = 'started' | 'reregistered' | 'activated' | 'bad_signature' | 'stale' | 'rejected';

export function createApiMetrics(countAgents: (status: AgentStatus) => Promise<number>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qp_manager_api_' });
  const httpRequests = new Counter({
    name: 'qp_manager_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const registrations = new Counter({
    name: 'qp_manager_registrations_total',
    help: 'Registration steps seen by the API, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  new Gauge({
    name: 'qp_manager_agents',
    help: 'Agents by status (from Temporal visibility)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await Promise.all(AGENT_STATUSES.map((s) => countAgents(s).catch(() => Number.NaN)));
      AGENT_STATUSES.forEach((status, i) => this.set({ status }, counts[i]));
    },
  });
  return {
    registry,
    httpRequests,
    registration: (outcome: RegistrationOutcome) => registrations.inc({ outcome }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
