// The analytics signals on /metrics keep label cardinality bounded: no job id ever, no agent id
// unless QP_METRICS_AGENT_LABELS opts in; the agents' windows are folded per swarm, newest window only.
import { Registry } from 'prom-client';
import { TASK_KINDS_PER_SWARM, analyticsMetrics } from '../api/analytics-metrics';
import { ANALYTICS_SCHEMA, type AnalyticsRecord, type HeartbeatLiveness, type StragglerRate, type UpdateRejections } from '../core/analytics';

const header = (swarmId: string, key: string, windowStart: number) => ({ schema: ANALYTICS_SCHEMA as typeof ANALYTICS_SCHEMA, swarmId, key, windowStart, windowEnd: windowStart + 10_000 });
const liveness = (swarm: string, agent: string, at: number, maxGapMs: number | null, flapping: boolean): HeartbeatLiveness => ({
  ...header(swarm, agent, at),
  signal: 'heartbeat-liveness',
  heartbeats: 5,
  maxGapMs,
  gapsOverGrace: flapping ? 3 : 0,
  flips: flapping ? 6 : 0,
  flapping,
});
const stragglers = (swarm: string, agent: string, at: number, rounds: number, straggled: number): StragglerRate => ({
  ...header(swarm, agent, at),
  signal: 'stragglers',
  rounds,
  straggled,
  stragglerRate: rounds === 0 ? 0 : straggled / rounds,
});
const rejections = (swarm: string, job: string, at: number, count: number, burst: boolean): UpdateRejections => ({
  ...header(swarm, job, at),
  signal: 'update-rejections',
  rejections: count,
  agents: 2,
  reasons: { 'bad-proof': count },
  burst,
});
const records: AnalyticsRecord[] = [
  liveness('s1', 'a1', 0, 1200, false),
  liveness('s1', 'a2', 0, 9000, true),
  liveness('s1', 'a3', 0, null, true),
  // The next window starts over; a late record of the old one changes nothing.
  liveness('s1', 'a1', 10_000, 1500, true),
  liveness('s1', 'a2', 10_000, 700, false),
  liveness('s1', 'a3', 0, 60_000, true),
  stragglers('s1', 'a1', 0, 4, 1),
  stragglers('s1', 'a2', 0, 4, 3),
  rejections('s1', 'job-1', 0, 3, false),
  rejections('s1', 'job-2', 0, 25, true),
  { ...header('s1', 'train', 0), signal: 'task-latency', tasks: 10, failed: 0, p50Ms: 250, p95Ms: 1200, p99Ms: 2000, deadlineMisses: 1, deadlineMissRate: 0.1 },
  { ...header('s1', 'a1', 0), signal: 'agent-energy', heartbeats: 5, energyWh: 0.5, carbonG: 0.2, meanLoad: 0.4 },
];

async function exported(agentLabels: boolean) {
  const registry = new Registry();
  const record = analyticsMetrics(registry, { agentLabels });
  for (const r of records) record(r);
  const value = async (name: string, labels: Record<string, string>) =>
    (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
  return { text: await registry.metrics(), value };
}

describe('analytics metrics', () => {
  it('by default carry no agent and no job label, folding the newest window of each swarm', async () => {
    const { text, value } = await exported(false);
    expect(text).not.toMatch(/agent="/);
    expect(text).not.toMatch(/job="/);
    expect(await value('qp_manager_analytics_flapping_agents', { swarm: 's1' })).toBe(1);
    expect(await value('qp_manager_analytics_heartbeat_gap_max_seconds', { swarm: 's1' })).toBe(1.5);
    expect(await value('qp_manager_analytics_straggler_ratio', { swarm: 's1' })).toBe(4 / 8);
    expect(await value('qp_manager_analytics_update_rejections', { swarm: 's1' })).toBe(28);
    expect(await value('qp_manager_analytics_rejection_bursts_total', { swarm: 's1' })).toBe(1);
    expect(await value('qp_manager_analytics_task_latency_seconds', { swarm: 's1', kind: 'train', quantile: '0.95' })).toBe(1.2);
    expect(text).not.toContain('qp_manager_analytics_agent_');
  });

  it('with QP_METRICS_AGENT_LABELS on, add one series per agent, in base units', async () => {
    const { text, value } = await exported(true);
    expect(text).not.toMatch(/job="/);
    expect(await value('qp_manager_analytics_agent_flapping', { swarm: 's1', agent: 'a1' })).toBe(1);
    expect(await value('qp_manager_analytics_agent_heartbeat_gap_seconds', { swarm: 's1', agent: 'a3' })).toBe(60);
    expect(await value('qp_manager_analytics_agent_energy_joules', { swarm: 's1', agent: 'a1' })).toBe(1800);
    expect(await value('qp_manager_analytics_agent_straggler_ratio', { swarm: 's1', agent: 'a2' })).toBe(0.75);
    // The swarm's series are the same either way.
    expect(await value('qp_manager_analytics_flapping_agents', { swarm: 's1' })).toBe(1);
  });

  it('give latency series to the first task kinds of a swarm only: a kind is whatever a submitter chose', async () => {
    const registry = new Registry();
    const record = analyticsMetrics(registry);
    const latency = (swarm: string, kind: string): AnalyticsRecord => ({
      ...header(swarm, kind, 0),
      signal: 'task-latency',
      tasks: 1,
      failed: 0,
      p50Ms: 100,
      p95Ms: 100,
      p99Ms: 100,
      deadlineMisses: 0,
      deadlineMissRate: 0,
    });
    for (let k = 0; k < TASK_KINDS_PER_SWARM + 5; k++) record(latency('s1', `kind-${k}`));
    record(latency('s2', 'kind-99'));
    const series = (await registry.getSingleMetric('qp_manager_analytics_task_deadline_miss_ratio')!.get()).values;
    expect(series.filter((v) => v.labels.swarm === 's1')).toHaveLength(TASK_KINDS_PER_SWARM);
    expect(series.some((v) => v.labels.swarm === 's2' && v.labels.kind === 'kind-99')).toBe(true);
  });
});
