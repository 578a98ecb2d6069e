import {
  allocate,
  allocateEarliestFinish,
  allocateExact,
  allocateHeuristic,
  allocateLeastLoaded,
  allocateRoundRobin,
  carbonG,
  durationS,
  energyWh,
  lowestCarbonStart,
  meanIntensity,
  planFromAssignment,
  planObjective,
  scheduleAgent,
  type AllocationAgent,
  type AllocationOptions,
  type AllocationTask,
} from '../../core/allocation';
import { seededRandom } from '../../core/random';
import { HighsLpSolver } from '../../adapters/highs/lp-solver';

const HOUR = 3_600_000;
const now = 1_000_000_000_000;
const solver = new HighsLpSolver();
const solve = (lp: string) => solver.solve(lp);

function agent(agentId: string, overrides: Partial<AllocationAgent> & { carbon?: number; busyWatts?: number } = {}): AllocationAgent {
  return {
    agentId,
    capabilities: overrides.capabilities ?? [],
    capacity: overrides.capacity ?? { cpu: 4, memoryMb: 4096 },
    speed: overrides.speed ?? 1,
    energy: overrides.energy ?? { idleWatts: 10, busyWatts: overrides.busyWatts ?? 100, source: 'grid', carbonGPerKWh: overrides.carbon ?? 400 },
    availableAtMs: overrides.availableAtMs,
  };
}

function task(taskId: string, overrides: Partial<AllocationTask> = {}): AllocationTask {
  return { taskId, requirements: {}, estimatedWork: 3600, deadlineMs: now + 2 * HOUR, ...overrides };
}

const carbon: AllocationOptions = { objective: 'carbon', nowMs: now };

describe('the allocation cost model', () => {
  it('a task of 360 work units on an agent of speed 2 at 100 W and 400 g/kWh takes 180 s, 5 Wh and 2 g', () => {
    const a = agent('a', { speed: 2, busyWatts: 100, carbon: 400 });
    const t = task('t', { estimatedWork: 360 });
    expect(durationS(t, a)).toBe(180);
    expect(energyWh(t, a)).toBeCloseTo(5, 12);
    expect(carbonG(t, a, now)).toBeCloseTo(2, 12);
  });

  it('the mean intensity integrates the forecast: 400 for 1 s then 100 for 1 s is 250', () => {
    const profile = { idleWatts: 0, busyWatts: 1, source: 'grid' as const, carbonGPerKWh: 400, forecast: [{ atMs: 1000, gPerKWh: 100 }] };
    expect(meanIntensity(profile, 0, 2000)).toBe(250);
    expect(meanIntensity(profile, 1500, 2500)).toBe(100);
  });

  it('a deferrable run waits for the low-carbon window when its deadline allows, and not past it', () => {
    const profile = {
      idleWatts: 0,
      busyWatts: 100,
      source: 'mixed' as const,
      carbonGPerKWh: 500,
      forecast: [
        { atMs: now + HOUR, gPerKWh: 100 },
        { atMs: now + 2 * HOUR, gPerKWh: 500 },
      ],
    };
    expect(lowestCarbonStart(profile, now, now + 3 * HOUR, HOUR / 2)).toBe(now + HOUR);
    // The window opens after the latest start: nothing to gain inside [now, now + 0.5 h], so it starts now.
    expect(lowestCarbonStart(profile, now, now + HOUR / 2 - 1, HOUR / 2)).toBe(now);
    const a = agent('a', { energy: profile });
    const [shifted] = scheduleAgent(a, [task('t', { estimatedWork: 1800, deferrable: true, deadlineMs: now + 3 * HOUR })], { nowMs: now });
    expect(shifted.startMs).toBe(now + HOUR);
    expect(shifted.carbonG).toBeCloseTo(5, 12); // 50 Wh at 100 g/kWh
    const [urgent] = scheduleAgent(a, [task('t', { estimatedWork: 1800, deferrable: false, deadlineMs: now + 3 * HOUR })], { nowMs: now });
    expect(urgent.startMs).toBe(now);
    expect(urgent.carbonG).toBeCloseTo(25, 12);
  });

  it('shifting one task never makes a later task on the same agent late', () => {
    const a = agent('a', {
      energy: { idleWatts: 0, busyWatts: 100, source: 'solar', carbonGPerKWh: 500, forecast: [{ atMs: now + 2 * HOUR, gPerKWh: 10 }] },
    });
    const decisions = scheduleAgent(
      a,
      [task('first', { estimatedWork: 3600, deferrable: true, deadlineMs: now + 4 * HOUR }), task('second', { estimatedWork: 3600, deadlineMs: now + 4 * HOUR + 1 })],
      { nowMs: now },
    );
    // first may start at most at 4h + 1ms - 2h (so second still fits): the window at 2h is open then.
    expect(decisions.map((d) => [d.taskId, d.startMs, d.slackS >= 0])).toEqual([
      ['first', now + 2 * HOUR, true],
      ['second', now + 3 * HOUR, true],
    ]);
  });
});

describe('allocators on hand-checked cases', () => {
  // dirty first in agent order, so carbon-unaware ties go to it.
  const dirty = agent('dirty', { carbon: 500 });
  const green = agent('green', { carbon: 50 });

  it('with loose deadlines both tasks go to the green agent: 2 x 100 Wh at 50 g/kWh = 10 g', async () => {
    const tasks = [task('t1'), task('t2')];
    for (const plan of [allocateHeuristic(tasks, [dirty, green], carbon), await allocateExact(tasks, [dirty, green], carbon, solve)]) {
      expect(plan.decisions.map((d) => d.agentId)).toEqual(['green', 'green']);
      expect(plan.totals.carbonG).toBeCloseTo(10, 9);
      expect(plan.totals.energyWh).toBeCloseTo(200, 9);
      expect(plan.totals.deadlineMisses).toBe(0);
      expect(plan.totals.makespanS).toBe(7200);
    }
  });

  it('with 1 h deadlines one task must run on the dirty agent: 5 + 50 = 55 g, no miss', async () => {
    const tasks = [task('t1', { deadlineMs: now + HOUR }), task('t2', { deadlineMs: now + HOUR })];
    for (const plan of [allocateHeuristic(tasks, [dirty, green], carbon), await allocateExact(tasks, [dirty, green], carbon, solve)]) {
      expect(plan.totals.carbonG).toBeCloseTo(55, 9);
      expect(plan.totals.deadlineMisses).toBe(0);
      expect(plan.decisions.map((d) => d.slackS)).toEqual([0, 0]);
    }
  });

  it('the baselines ignore carbon: round-robin and earliest-finish put one task on each agent (55 g), least-loaded too', () => {
    const tasks = [task('t1'), task('t2')];
    for (const allocator of [allocateRoundRobin, allocateEarliestFinish, allocateLeastLoaded]) {
      const plan = allocator(tasks, [dirty, green], carbon);
      expect(plan.decisions.map((d) => d.agentId).sort()).toEqual(['dirty', 'green']);
      expect(plan.totals.carbonG).toBeCloseTo(55, 9);
    }
  });

  it('earliest-finish prefers the faster agent; round-robin takes turns regardless', () => {
    const fast = agent('fast', { speed: 4 });
    const slow = agent('slow', { speed: 1 });
    const tasks = [task('t1'), task('t2'), task('t3')];
    expect(allocateEarliestFinish(tasks, [slow, fast], carbon).decisions.filter((d) => d.agentId === 'fast')).toHaveLength(3);
    expect(allocateRoundRobin(tasks, [slow, fast], carbon).decisions.map((d) => d.agentId).sort()).toEqual(['fast', 'slow', 'slow']);
  });

  it('the energy objective picks the fewest watt-hours per work unit, whatever the carbon', async () => {
    const frugal = agent('frugal', { busyWatts: 50, carbon: 900 });
    const hungry = agent('hungry', { busyWatts: 300, carbon: 10 });
    const tasks = [task('t1')];
    const options: AllocationOptions = { objective: 'energy', nowMs: now };
    expect(allocateHeuristic(tasks, [hungry, frugal], options).decisions[0].agentId).toBe('frugal');
    expect((await allocateExact(tasks, [hungry, frugal], options, solve)).decisions[0].agentId).toBe('frugal');
  });

  it('capabilities and capacity are hard: a task no agent can run is reported with the reason', async () => {
    const gpu = agent('gpu', { capabilities: ['vision'], capacity: { cpu: 8, memoryMb: 32768, gpu: 1 }, carbon: 900 });
    const tasks = [
      task('vision', { requirements: { capabilities: ['vision'], gpu: 1 } }),
      task('huge', { requirements: { memoryMb: 100_000 } }),
      task('speech', { requirements: { capabilities: ['speech'] } }),
    ];
    for (const plan of [allocateHeuristic(tasks, [green, gpu], carbon), await allocateExact(tasks, [green, gpu], carbon, solve)]) {
      expect(plan.decisions.map((d) => [d.taskId, d.agentId])).toEqual([['vision', 'gpu']]);
      expect(plan.unassigned.sort((a, b) => a.taskId.localeCompare(b.taskId))).toEqual([
        { taskId: 'huge', reason: 'no-capacity' },
        { taskId: 'speech', reason: 'no-capable-agent' },
      ]);
    }
  });

  it('an energy budget of 150 Wh on the green agent holds one 100 Wh task; the other runs dirty', async () => {
    const budgeted = agent('green', { energy: { idleWatts: 0, busyWatts: 100, source: 'solar', carbonGPerKWh: 50, budgetWh: 150 } });
    const tasks = [task('t1'), task('t2')];
    for (const plan of [allocateHeuristic(tasks, [dirty, budgeted], carbon), await allocateExact(tasks, [dirty, budgeted], carbon, solve)]) {
      expect(plan.decisions.map((d) => d.agentId).sort()).toEqual(['dirty', 'green']);
      expect(plan.totals.carbonG).toBeCloseTo(55, 9);
    }
  });

  it('when a deadline cannot be met anywhere the task still runs, late by the least possible', async () => {
    const tasks = [task('t1', { deadlineMs: now + HOUR / 2 })];
    for (const plan of [allocateHeuristic(tasks, [dirty, green], carbon), await allocateExact(tasks, [dirty, green], carbon, solve)]) {
      expect(plan.totals.deadlineMisses).toBe(1);
      expect(plan.totals.latenessS).toBe(1800);
    }
  });

  it('allocate() uses the exact solver on small instances and the heuristic without one', async () => {
    expect((await allocate([task('t1')], [dirty, green], carbon, solve)).method).toBe('exact');
    expect((await allocate([task('t1')], [dirty, green], carbon)).method).toBe('heuristic');
  });
});

describe('the exact allocator is optimal and the heuristic close to it', () => {
  function randomInstance(seed: number, taskCount: number, agentCount: number, deadlineSpreadH = [0.3, 1.5]) {
    const random = seededRandom(seed);
    const agents = Array.from({ length: agentCount }, (_, i) =>
      agent(`a${i}`, { speed: 0.5 + random() * 2, busyWatts: 50 + Math.round(random() * 250), carbon: 20 + Math.round(random() * 700) }),
    );
    const tasks = Array.from({ length: taskCount }, (_, i) =>
      task(`t${i}`, { estimatedWork: 600 + Math.round(random() * 3000), deadlineMs: now + Math.round((deadlineSpreadH[0] + random() * deadlineSpreadH[1]) * HOUR) }),
    );
    return { agents, tasks };
  }

  function bruteForceBest(tasks: AllocationTask[], agents: AllocationAgent[]): number {
    let best = Infinity;
    const choice = new Array<number>(tasks.length).fill(0);
    for (;;) {
      const assignment = new Map(tasks.map((t, i) => [t.taskId, agents[choice[i]].agentId]));
      best = Math.min(best, planObjective(planFromAssignment(tasks, agents, assignment, [], carbon), carbon));
      let i = 0;
      while (i < choice.length && ++choice[i] === agents.length) choice[i++] = 0;
      if (i === choice.length) return best;
    }
  }

  it('on 20 random 6-task, 3-agent instances the MIP optimum equals exhaustive search', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { tasks, agents } = randomInstance(seed, 6, 3);
      const exact = await allocateExact(tasks, agents, carbon, solve);
      expect(planObjective(exact, carbon)).toBeCloseTo(bruteForceBest(tasks, agents), 4);
    }
  });

  it('on 20 random 10-task, 4-agent instances the heuristic is never better than exact and within 5% of it', async () => {
    let worst = 0;
    for (let seed = 100; seed < 120; seed++) {
      const { tasks, agents } = randomInstance(seed, 10, 4, [1, 3]);
      const exact = planObjective(await allocateExact(tasks, agents, carbon, solve), carbon);
      const heuristic = planObjective(allocateHeuristic(tasks, agents, carbon), carbon);
      expect(heuristic).toBeGreaterThanOrEqual(exact - 1e-6);
      worst = Math.max(worst, heuristic / exact - 1);
    }
    expect(worst).toBeLessThan(0.05);
  });
});
