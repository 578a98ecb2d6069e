// Contract Net's pure parts: the award, admissible bids, and the bid an agent makes from its profile.
import { awardBid, bidProblem, carbonG, energyWh, profileBid, type AllocationAgent, type AllocationTask, type TaskBid } from '../../core/allocation';

const HOUR = 3_600_000;
const now = 1_000_000_000_000;

function agent(agentId: string, carbon: number, overrides: Partial<AllocationAgent> = {}): AllocationAgent {
  return {
    agentId,
    capabilities: [],
    capacity: { cpu: 4, memoryMb: 4096 },
    speed: 1,
    energy: { idleWatts: 10, busyWatts: 100, source: 'grid', carbonGPerKWh: carbon },
    ...overrides,
  };
}

const task = (overrides: Partial<AllocationTask> = {}): AllocationTask => ({ taskId: 't', requirements: {}, estimatedWork: 3600, deadlineMs: now + 2 * HOUR, ...overrides });
const bid = (agentId: string, carbon: number, finishAtMs = now + HOUR, energy = 100): TaskBid => ({ agentId, carbonG: carbon, energyWh: energy, finishAtMs });

describe('Contract Net', () => {
  it('awards the bid with the least carbon among those on time', () => {
    expect(awardBid([bid('a', 40), bid('b', 3), bid('c', 60)], now + 2 * HOUR)?.agentId).toBe('b');
  });

  it('a late bid pays the lateness penalty: 1 s late at 1,000 g/s loses to 500 g more carbon', () => {
    const deadline = now + 2 * HOUR;
    expect(awardBid([bid('green-but-late', 3, deadline + 1000), bid('on-time', 503, deadline)], deadline)?.agentId).toBe('on-time');
    expect(awardBid([bid('green-but-late', 3, deadline + 1000), bid('on-time', 1100, deadline)], deadline)?.agentId).toBe('green-but-late');
  });

  it('ties go to less energy, then to the smaller agent id; no bid, no award', () => {
    expect(awardBid([bid('b', 5, now, 50), bid('a', 5, now, 80)], now + HOUR)?.agentId).toBe('b');
    expect(awardBid([bid('b', 5), bid('a', 5)], now + 2 * HOUR)?.agentId).toBe('a');
    expect(awardBid([], now)).toBeUndefined();
  });

  it('refuses bids with numbers no run can have, naming the field', () => {
    expect(bidProblem({ finishAtMs: now, energyWh: -1, carbonG: 1 }, now)).toBe('energyWh');
    expect(bidProblem({ finishAtMs: now, energyWh: 1, carbonG: Number.NaN }, now)).toBe('carbonG');
    expect(bidProblem({ finishAtMs: now + 400 * 24 * HOUR, energyWh: 1, carbonG: 1 }, now)).toBe('finishAtMs');
    expect(bidProblem({ finishAtMs: now + HOUR, energyWh: 1, carbonG: 1 }, now)).toBeUndefined();
  });

  it('an agent bids what its profile says: 1 h at 100 W is 100 Wh, at 300 g/kWh 30 g, finishing an hour after its queue drains', () => {
    const a = agent('a', 300);
    const own = profileBid(task(), a, now, now + 600_000)!;
    expect(own.energyWh).toBeCloseTo(100, 9);
    expect(own.carbonG).toBeCloseTo(30, 9);
    expect(own.finishAtMs).toBe(now + 600_000 + HOUR);
    expect(own.energyWh).toBe(energyWh(task(), a));
  });

  it('a deferrable task is bid in the greenest window that still meets the deadline', () => {
    const forecast = [{ atMs: now + HOUR, gPerKWh: 50 }, { atMs: now + 3 * HOUR, gPerKWh: 400 }];
    const a = agent('a', 400, { energy: { idleWatts: 10, busyWatts: 100, source: 'grid', carbonGPerKWh: 400, forecast } });
    const deferred = profileBid(task({ deferrable: true, deadlineMs: now + 4 * HOUR }), a, now)!;
    expect(deferred.finishAtMs).toBe(now + 2 * HOUR);
    expect(deferred.carbonG).toBeCloseTo(carbonG(task(), a, now + HOUR), 9);
    expect(profileBid(task({ deadlineMs: now + 4 * HOUR }), a, now)!.carbonG).toBeGreaterThan(deferred.carbonG);
  });

  it('no bid from an agent that lacks a capability or whose energy budget the run would exceed', () => {
    expect(profileBid(task({ requirements: { capabilities: ['vision'] } }), agent('a', 10), now)).toBeUndefined();
    const small = agent('b', 10, { energy: { idleWatts: 10, busyWatts: 100, source: 'battery', carbonGPerKWh: 10, budgetWh: 50 } });
    expect(profileBid(task(), small, now)).toBeUndefined();
  });
});
