// The analytics signals as Prometheus gauges on the API's /metrics: the newest window of each
// series as the API read it from the swarm's analytics topic.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AnalyticsRecord } from '../core/analytics';

export function analyticsMetrics(registry: Registry): (record: AnalyticsRecord) => void {
  const windows = new Counter({
    name: 'qp_manager_analytics_windows_total',
    help: 'Analytics windows read from the analytics topics, by swarm and signal (duplicates dropped)',
    labelNames: ['swarm', 'signal'],
    registers: [registry],
  });
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const agentEnergy = gauge('qp_manager_analytics_agent_energy_wh', 'Energy an agent drew in its newest window, Wh', ['swarm', 'agent']);
  const agentCarbon = gauge('qp_manager_analytics_agent_carbon_grams', 'Carbon of an agent in its newest window, g CO2e', ['swarm', 'agent']);
  const swarmPower = gauge('qp_manager_analytics_swarm_power_watts', "The swarm's mean power draw in its newest window, W", ['swarm']);
  const swarmIntensity = gauge('qp_manager_analytics_swarm_carbon_intensity', "The swarm's carbon intensity in its newest window, g CO2e per kWh", ['swarm']);
  const flapping = gauge('qp_manager_analytics_agent_flapping', '1 when the agent flipped ACTIVE<->LOST more than the threshold in its newest window', ['swarm', 'agent']);
  const maxGap = gauge('qp_manager_analytics_agent_heartbeat_gap_ms', "Longest heartbeat silence in the agent's newest window, ms", ['swarm', 'agent']);
  const latency = gauge('qp_manager_analytics_task_latency_ms', 'Task latency percentiles of the newest window, ms', ['swarm', 'kind', 'quantile']);
  const missRate = gauge('qp_manager_analytics_task_deadline_miss_ratio', 'Deadline-miss rate of the newest window', ['swarm', 'kind']);
  const straggler = gauge('qp_manager_analytics_agent_straggler_ratio', "The agent's straggler rate over the rounds of its newest window", ['swarm', 'agent']);
  const rejections = gauge('qp_manager_analytics_update_rejections', "A job's update rejections in its newest window", ['swarm', 'job']);
  const bursts = new Counter({
    name: 'qp_manager_analytics_rejection_bursts_total',
    help: 'Windows with a burst of update rejections (possible poisoning), by swarm and job',
    labelNames: ['swarm', 'job'],
    registers: [registry],
  });
  return (r) => {
    windows.inc({ swarm: r.swarmId, signal: r.signal });
    const swarm = r.swarmId;
    switch (r.signal) {
      case 'agent-energy':
        agentEnergy.set({ swarm, agent: r.key }, r.energyWh);
        agentCarbon.set({ swarm, agent: r.key }, r.carbonG);
        break;
      case 'swarm-power':
        swarmPower.set({ swarm }, r.meanPowerW);
        if (r.carbonIntensityGPerKWh !== null) swarmIntensity.set({ swarm }, r.carbonIntensityGPerKWh);
        break;
      case 'heartbeat-liveness':
        flapping.set({ swarm, agent: r.key }, r.flapping ? 1 : 0);
        if (r.maxGapMs !== null) maxGap.set({ swarm, agent: r.key }, r.maxGapMs);
        break;
      case 'task-latency':
        latency.set({ swarm, kind: r.key, quantile: '0.5' }, r.p50Ms);
        latency.set({ swarm, kind: r.key, quantile: '0.95' }, r.p95Ms);
        latency.set({ swarm, kind: r.key, quantile: '0.99' }, r.p99Ms);
        missRate.set({ swarm, kind: r.key }, r.deadlineMissRate);
        break;
      case 'stragglers':
        straggler.set({ swarm, agent: r.key }, r.stragglerRate);
        break;
      case 'update-rejections':
        rejections.set({ swarm, job: r.key }, r.rejections);
        if (r.burst) bursts.inc({ swarm, job: r.key });
        break;
    }
  };
}
