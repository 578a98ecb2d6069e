import { DEFAULT_BEHAVIOR, type AutoscalingPolicy } from '../../core/autoscaling';
import { poolsCarbonBudgetGramsPerDay, runningTasksPowerWatts } from '../../core/power-and-carbon';

const policy = (energy?: AutoscalingPolicy['energy']): AutoscalingPolicy => ({
  minReplicas: 0,
  maxReplicas: 4,
  fallbackReplicas: 1,
  behavior: DEFAULT_BEHAVIOR,
  ...(energy ? { energy } : {}),
});

describe('power of running tasks', () => {
  it('is the sum of each running task\'s agent busy power; an agent running two tasks counts twice, as the allocator charges energy', () => {
    const profiles: Record<string, { cpu: number; memoryMb: number; energy?: { source: 'grid'; busyWatts?: number } }> = {
      a1: { cpu: 2, memoryMb: 1024, energy: { source: 'grid', busyWatts: 150 } },
      a2: { cpu: 2, memoryMb: 1024, energy: { source: 'grid' } },
    };
    // a2 declared no busy power and a3 is not known (LOST): the reference 100 W each.
    expect(runningTasksPowerWatts(['a1', 'a1', 'a2', 'a3'], (id) => profiles[id])).toBe(150 + 150 + 100 + 100);
    expect(runningTasksPowerWatts([], () => undefined)).toBe(0);
  });
});

describe('carbon budget of the pools', () => {
  const now = Date.parse('2026-12-01T00:00:00Z');

  it('is each budgeted pool\'s energy budget per day at its carbon intensity now, in grams', () => {
    // 500 Wh per hour is 12 kWh a day; at 250 g/kWh, 3,000 g.
    const hourly = policy({ wattsPerReplica: 100, budgetWh: 500, windowSeconds: 3600 });
    // 2 kWh per 2 days is 1 kWh a day; with no carbon input, the reference 400 g/kWh: 400 g.
    const slow = policy({ wattsPerReplica: 100, budgetWh: 2000, windowSeconds: 172_800 });
    const pools = [{ policy: hourly, carbon: { intensity: 250, at: now - 60_000, forecast: [] } }, { policy: slow }, { policy: policy() }];
    expect(poolsCarbonBudgetGramsPerDay(pools, now)).toBeCloseTo(3000 + 400, 9);
  });

  it('follows the forecast point in force now, and is 0 without any energy budget', () => {
    const pools = [{ policy: policy({ wattsPerReplica: 10, budgetWh: 100, windowSeconds: 86_400 }), carbon: { intensity: 500, at: now - 120_000, forecast: [{ at: now - 60_000, intensity: 100 }] } }];
    expect(poolsCarbonBudgetGramsPerDay(pools, now)).toBeCloseTo(10, 9);
    expect(poolsCarbonBudgetGramsPerDay([{ policy: policy() }], now)).toBe(0);
  });
});
