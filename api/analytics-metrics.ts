// The analytics signals as Prometheus gauges on the API's /metrics: the newest window of each
// series as the API read it from the swarm's analytics topic. Units as everywhere else
// (seconds, joules, grams, watts, ratio) and bounded labels: swarm (operator-defined, few),
// quantile, and task kind for the first TASK_KINDS_PER_SWARM kinds of a swarm (a kind is any
// string a submitter chose; later kinds stay in the REST API). A job id is never a label (one series per job would grow without
// end): rejections are summed over the swarm's jobs. An agent id is a label only when
// QP_METRICS_AGENT_LABELS is on: 10,000 agents are 10,000 series per signal, which a shared
// Prometheus should not be made to keep; by default the agents' windows are folded per swarm
// (flapping agents, the longest heartbeat gap, the straggler ratio) and the per-agent figures
// stay in GET /api/v1/analytics/{swarmId}.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AgentEnergy, AnalyticsRecord, BallotTurnout, HeartbeatLiveness, StragglerRate, UpdateRejections } from '../core/analytics';

export interface AnalyticsMetricsOptions {
  /** Export per-agent series labelled with the agent id (QP_METRICS_AGENT_LABELS). */
  agentLabels?: boolean;
}

/**
 * Per swarm, the records of its newest window of one signal: a record of a newer window starts
 * over, one of an older window (arriving late) is left out. Memory is one window per swarm.
 */
class NewestWindow<R extends { swarmId: string; windowStart: number; key: string }> {
  private readonly windows = new Map<string, { start: number; records: Map<string, R> }>();

  /** The swarm's records of its newest window after adding r; undefined when r is of an older window. */
  add(r: R): R[] | undefined {
    let window = this.windows.get(r.swarmId);
    if (window && r.windowStart < window.start) return undefined;
    if (!window || r.windowStart > window.start) this.windows.set(r.swarmId, (window = { start: r.windowStart, records: new Map() }));
    window.records.set(r.key, r);
    return [...window.records.values()];
  }
}

/** Task kinds of one swarm that get latency series; the kinds after them are left out. */
export const TASK_KINDS_PER_SWARM = 20;
const MS = 1 / 1000;
const JOULES_PER_WH = 3600;

export function analyticsMetrics(registry: Registry, options: AnalyticsMetricsOptions = {}): (record: AnalyticsRecord) => void {
  const windows = new Counter({
    name: 'qp_manager_analytics_windows_total',
    help: 'Analytics windows read from the analytics topics, by swarm and signal (duplicates dropped)',
    labelNames: ['swarm', 'signal'],
    registers: [registry],
  });
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const swarmPower = gauge('qp_manager_analytics_swarm_power_watts', "The swarm's mean power draw in its newest window, W", ['swarm']);
  const swarmIntensity = gauge(
    'qp_manager_analytics_swarm_carbon_intensity_grams_per_kwh',
    "The swarm's carbon intensity in its newest window, g CO2e per kWh",
    ['swarm'],
  );
  const flappingAgents = gauge(
    'qp_manager_analytics_flapping_agents',
    'Agents that flipped ACTIVE<->LOST more than the threshold in the swarm\'s newest heartbeat window',
    ['swarm'],
  );
  const maxGap = gauge('qp_manager_analytics_heartbeat_gap_max_seconds', "Longest heartbeat silence of any agent in the swarm's newest window, s", ['swarm']);
  const stragglerRatio = gauge(
    'qp_manager_analytics_straggler_ratio',
    "Rounds in which an agent straggled over the rounds its agents were in, in the swarm's newest window",
    ['swarm'],
  );
  const latency = gauge('qp_manager_analytics_task_latency_seconds', 'Task latency percentiles of the newest window, s', ['swarm', 'kind', 'quantile']);
  const missRate = gauge('qp_manager_analytics_task_deadline_miss_ratio', 'Deadline-miss rate of the newest window', ['swarm', 'kind']);
  const rejections = gauge('qp_manager_analytics_update_rejections', "Update rejections of the swarm's jobs in its newest window", ['swarm']);
  const bursts = new Counter({
    name: 'qp_manager_analytics_rejection_bursts_total',
    help: 'Windows in which a job of the swarm had a burst of update rejections (possible poisoning)',
    labelNames: ['swarm'],
    registers: [registry],
  });
  const turnout = gauge(
    'qp_manager_analytics_ballot_turnout_ratio',
    "Agents that voted over the agents eligible, summed over the decisions with ballots or a proposal in the swarm's newest window",
    ['swarm'],
  );
  const ballots = gauge('qp_manager_analytics_ballot_messages', "Ballots cast (a changed vote counts again) in the swarm's newest window, over its decisions", ['swarm']);
  const perAgent = options.agentLabels
    ? {
        energy: gauge('qp_manager_analytics_agent_energy_joules', 'Energy an agent drew in its newest window, J (QP_METRICS_AGENT_LABELS)', ['swarm', 'agent']),
        carbon: gauge('qp_manager_analytics_agent_carbon_grams', 'Carbon of an agent in its newest window, g CO2e (QP_METRICS_AGENT_LABELS)', ['swarm', 'agent']),
        flapping: gauge('qp_manager_analytics_agent_flapping', '1 when the agent flapped in its newest window (QP_METRICS_AGENT_LABELS)', ['swarm', 'agent']),
        gap: gauge('qp_manager_analytics_agent_heartbeat_gap_seconds', "Longest heartbeat silence in the agent's newest window, s (QP_METRICS_AGENT_LABELS)", ['swarm', 'agent']),
        straggler: gauge('qp_manager_analytics_agent_straggler_ratio', "The agent's straggler rate in its newest window (QP_METRICS_AGENT_LABELS)", ['swarm', 'agent']),
      }
    : undefined;
  const kinds = new Map<string, Set<string>>();
  const kindShown = (swarm: string, kind: string): boolean => {
    let shown = kinds.get(swarm);
    if (!shown) kinds.set(swarm, (shown = new Set()));
    if (!shown.has(kind) && shown.size < TASK_KINDS_PER_SWARM) shown.add(kind);
    return shown.has(kind);
  };
  const liveness = new NewestWindow<HeartbeatLiveness>();
  const stragglers = new NewestWindow<StragglerRate>();
  const jobRejections = new NewestWindow<UpdateRejections>();
  const decisionTurnout = new NewestWindow<BallotTurnout>();
  const agentEnergy = (r: AgentEnergy): void => {
    perAgent?.energy.set({ swarm: r.swarmId, agent: r.key }, r.energyWh * JOULES_PER_WH);
    perAgent?.carbon.set({ swarm: r.swarmId, agent: r.key }, r.carbonG);
  };

  return (r) => {
    windows.inc({ swarm: r.swarmId, signal: r.signal });
    const swarm = r.swarmId;
    switch (r.signal) {
      case 'agent-energy':
        // Per swarm, the energy and carbon are the swarm-power signal's.
        agentEnergy(r);
        break;
      case 'swarm-power':
        swarmPower.set({ swarm }, r.meanPowerW);
        if (r.carbonIntensityGPerKWh !== null) swarmIntensity.set({ swarm }, r.carbonIntensityGPerKWh);
        break;
      case 'heartbeat-liveness': {
        perAgent?.flapping.set({ swarm, agent: r.key }, r.flapping ? 1 : 0);
        if (r.maxGapMs !== null) perAgent?.gap.set({ swarm, agent: r.key }, r.maxGapMs * MS);
        const newest = liveness.add(r);
        if (!newest) break;
        flappingAgents.set({ swarm }, newest.filter((a) => a.flapping).length);
        const gaps = newest.flatMap((a) => (a.maxGapMs === null ? [] : [a.maxGapMs]));
        if (gaps.length > 0) maxGap.set({ swarm }, Math.max(...gaps) * MS);
        break;
      }
      case 'task-latency':
        if (!kindShown(swarm, r.key)) break;
        latency.set({ swarm, kind: r.key, quantile: '0.5' }, r.p50Ms * MS);
        latency.set({ swarm, kind: r.key, quantile: '0.95' }, r.p95Ms * MS);
        latency.set({ swarm, kind: r.key, quantile: '0.99' }, r.p99Ms * MS);
        missRate.set({ swarm, kind: r.key }, r.deadlineMissRate);
        break;
      case 'stragglers': {
        perAgent?.straggler.set({ swarm, agent: r.key }, r.stragglerRate);
        const newest = stragglers.add(r);
        if (!newest) break;
        const rounds = newest.reduce((sum, a) => sum + a.rounds, 0);
        stragglerRatio.set({ swarm }, rounds === 0 ? 0 : newest.reduce((sum, a) => sum + a.straggled, 0) / rounds);
        break;
      }
      case 'update-rejections': {
        const newest = jobRejections.add(r);
        if (newest) rejections.set({ swarm }, newest.reduce((sum, job) => sum + job.rejections, 0));
        if (r.burst) bursts.inc({ swarm });
        break;
      }
      case 'ballot-turnout': {
        // A decision id is never a label: the swarm's decisions of its newest window are summed.
        const newest = decisionTurnout.add(r);
        if (!newest) break;
        ballots.set({ swarm }, newest.reduce((sum, d) => sum + d.ballots, 0));
        const known = newest.filter((d) => d.eligible !== null && d.eligible > 0);
        const eligible = known.reduce((sum, d) => sum + d.eligible!, 0);
        if (eligible > 0) turnout.set({ swarm }, known.reduce((sum, d) => sum + d.voters, 0) / eligible);
        break;
      }
    }
  };
}
