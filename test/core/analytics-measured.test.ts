import { ANALYTICS_SCHEMA, measurementsByAgent, withMeasurement, type AnalyticsRecord } from '../../core/analytics';
import { allocate, type AllocationAgent } from '../../core/allocation';

const NOW = 1_700_000_000_000;
const h = (windowStart: number, windowMs = 60_000) => ({ schema: ANALYTICS_SCHEMA, swarmId: 's', windowStart, windowEnd: windowStart + windowMs }) as const;
const energy = (agentId: string, windowStart: number, energyWh: number, meanLoad: number | null, carbonG = 0): AnalyticsRecord => ({
  ...h(windowStart),
  signal: 'agent-energy',
  key: agentId,
  heartbeats: 3,
  energyWh,
  carbonG,
  meanLoad,
});
const stragglers = (agentId: string, windowStart: number, rate: number): AnalyticsRecord => ({
  ...h(windowStart),
  signal: 'stragglers',
  key: agentId,
  rounds: 4,
  straggled: rate * 4,
  stragglerRate: rate,
});
const agent = (agentId: string, busyWatts: number, carbonGPerKWh = 300, speed = 1): AllocationAgent => ({
  agentId,
  capabilities: [],
  capacity: { cpu: 4, memoryMb: 4096 },
  speed,
  energy: { idleWatts: 20, busyWatts, source: 'grid', carbonGPerKWh },
});

describe('measured placement signals', () => {
  it('takes each agent\'s newest recent window: mean power (W), load, carbon intensity (g/kWh), straggler rate', () => {
    const m = measurementsByAgent(
      [
        energy('a', NOW - 180_000, 1, 0.5),
        // 5 Wh over a minute: 300 W; 1.5 g for 5 Wh: 300 g/kWh
        energy('a', NOW - 120_000, 5, 0.5, 1.5),
        // too old: ended an hour and a minute ago
        energy('b', NOW - 3_720_000, 5, 1),
        // no energy reported: nothing measured
        energy('c', NOW - 60_000, 0, 1),
        stragglers('a', NOW - 60_000, 0.25),
      ],
      NOW,
      3_600_000,
    );
    expect([...m.keys()]).toEqual(['a']);
    expect(m.get('a')).toEqual({ meanPowerW: 300, meanLoad: 0.5, carbonGPerKWh: 300, stragglerRate: 0.25 });
  });

  it('infers busy power from the mean draw and load, slows a straggler, and keeps the declaration where nothing was measured', () => {
    // P = (1 - m) idle + m busy: 300 = 0.5 * 20 + 0.5 * busy -> 580 W
    expect(withMeasurement(agent('a', 100), { meanPowerW: 300, meanLoad: 0.5 }).energy.busyWatts).toBe(580);
    // at a load under 10 % the draw only raises the declared busy power
    expect(withMeasurement(agent('a', 100), { meanPowerW: 30, meanLoad: 0.05 }).energy.busyWatts).toBe(100);
    expect(withMeasurement(agent('a', 100), { meanPowerW: 150, meanLoad: null }).energy.busyWatts).toBe(150);
    expect(withMeasurement(agent('a', 100), { carbonGPerKWh: 50 }).energy).toMatchObject({ busyWatts: 100, carbonGPerKWh: 50 });
    expect(withMeasurement(agent('a', 100, 300, 2), { stragglerRate: 0.25 }).speed).toBe(1.5);
    expect(withMeasurement(agent('a', 100, 300, 2), { stragglerRate: 1 }).speed).toBeCloseTo(0.2, 12);
    const declared = agent('a', 100);
    expect(withMeasurement(declared, undefined)).toBe(declared);
  });

  it('turns a placement around when an agent draws more than it declared', async () => {
    const agents = [agent('paper-green', 50), agent('honest', 100)];
    const task = { taskId: 't', requirements: {}, estimatedWork: 60, deadlineMs: NOW + 3_600_000 };
    const declaredPlan = await allocate([task], agents, { objective: 'carbon', nowMs: NOW });
    expect(declaredPlan.decisions[0].agentId).toBe('paper-green');
    const m = measurementsByAgent([energy('paper-green', NOW - 60_000, 8, 1)], NOW, 900_000);
    const measuredPlan = await allocate([task], agents.map((a) => withMeasurement(a, m.get(a.agentId))), { objective: 'carbon', nowMs: NOW });
    expect(measuredPlan.decisions[0].agentId).toBe('honest');
  });
});
