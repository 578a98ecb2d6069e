// A seeded delegation workload: a swarm of heterogeneous agents (speed, power
// draw, supply and its carbon forecast) and a batch of tasks with capability
// needs, deadlines and a share of deferrable ones.
import type { AllocationAgent, AllocationTask, CarbonForecastPoint, PowerSource } from '../../core/allocation';
import { seededRandom } from '../../core/random';

const HOUR = 3_600_000;

export interface DelegationWorkload {
  nowMs: number;
  agents: AllocationAgent[];
  tasks: AllocationTask[];
}

/** Hourly forecast over 24 h from nowMs: grid-like noise around base, or a solar day (low from hour `sunrise` to `sunset`). */
function forecast(random: () => number, nowMs: number, base: number, source: PowerSource): CarbonForecastPoint[] {
  const sunrise = Math.floor(random() * 6);
  const sunset = sunrise + 4 + Math.floor(random() * 6);
  const points: CarbonForecastPoint[] = [];
  for (let h = 1; h <= 24; h++) {
    let g = base * (0.85 + 0.3 * random());
    if (source === 'solar' && h >= sunrise && h < sunset) g = 20 + 30 * random();
    if (source === 'wind' && random() < 0.35) g = 10 + 20 * random();
    points.push({ atMs: nowMs + h * HOUR, gPerKWh: Math.round(g) });
  }
  return points;
}

export function delegationWorkload(seed: number, agentCount: number, taskCount: number, nowMs = Date.UTC(2026, 0, 1)): DelegationWorkload {
  const random = seededRandom(seed);
  const sources: PowerSource[] = ['grid', 'grid', 'grid', 'solar', 'wind', 'mixed', 'battery'];
  const agents: AllocationAgent[] = [];
  for (let i = 0; i < agentCount; i++) {
    const source = sources[Math.floor(random() * sources.length)];
    const gridBase = 250 + random() * 500;
    const now = source === 'battery' ? 40 + random() * 60 : source === 'mixed' ? 150 + random() * 200 : gridBase;
    const gpu = random() < 0.2 ? 1 : 0;
    agents.push({
      agentId: `agent-${String(i).padStart(4, '0')}`,
      capabilities: gpu ? ['general', 'vision'] : ['general'],
      capacity: { cpu: 2 + Math.floor(random() * 15), memoryMb: 2048 * (1 + Math.floor(random() * 16)), gpu },
      speed: 0.5 + random() * 2.5,
      energy: {
        idleWatts: Math.round(10 + random() * 50),
        busyWatts: Math.round((gpu ? 200 : 60) + random() * 250),
        source,
        carbonGPerKWh: Math.round(now),
        forecast: forecast(random, nowMs, source === 'solar' || source === 'wind' ? gridBase : now, source),
        budgetWh: source === 'battery' ? Math.round(500 + random() * 1500) : undefined,
      },
    });
  }
  const tasks: AllocationTask[] = [];
  for (let i = 0; i < taskCount; i++) {
    const vision = random() < 0.1;
    tasks.push({
      taskId: `task-${String(i).padStart(5, '0')}`,
      requirements: {
        cpu: 1 + Math.floor(random() * 4),
        memoryMb: 512 * (1 + Math.floor(random() * 8)),
        gpu: vision ? 1 : 0,
        capabilities: vision ? ['vision'] : ['general'],
      },
      estimatedWork: Math.round(300 + random() * 3300),
      deadlineMs: nowMs + Math.round((1 + random() * 11) * HOUR),
      priority: Math.floor(random() * 3),
      deferrable: random() < 0.4,
    });
  }
  return { nowMs, agents, tasks };
}
