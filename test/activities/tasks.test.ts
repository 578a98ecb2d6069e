// placeTask's planned start: a deferrable task the plan shifts into a later,
// lower-carbon window says when (the workflow holds it until then); a task that
// starts as soon as its agent is free, busy or not, says nothing. And which HELD
// tasks the rebalancing run is given.
import { createTaskActivities } from '../../activities/tasks';
import { MemoryMessaging } from '../../adapters/memory/messaging';
import type { AllocationAgent } from '../../core/allocation/types';
import { AssignedWork, type TaskSpec } from '../../core/tasks';

const HOUR = 3_600_000;

function agent(agentId: string, carbonGPerKWh: number, forecast?: { atMs: number; gPerKWh: number }[]): AllocationAgent {
  return {
    agentId,
    capabilities: [],
    capacity: { cpu: 1, memoryMb: 1024 },
    speed: 1,
    energy: { idleWatts: 10, busyWatts: 100, source: 'grid', carbonGPerKWh, forecast },
  };
}

function activitiesFor(agents: AllocationAgent[], assigned = new AssignedWork()) {
  return createTaskActivities({
    messaging: new MemoryMessaging(),
    agents: { candidates: async () => agents },
    outcomes: { deliver: async () => 'delivered', deliverBid: async () => 'delivered' },
    agentKeys: { publicKey: async () => undefined },
    credentialSecret: 'test-secret',
    assigned,
  });
}

const spec = (taskId: string, deferrable: boolean): TaskSpec => ({
  taskId,
  swarmId: 'placement',
  kind: 'k',
  input: null,
  requirements: {},
  estimatedWork: 60,
  deadlineMs: Date.now() + 6 * HOUR,
  deferrable,
});

describe('placeTask planned start', () => {
  it('a deferrable task shifted into a cleaner window two hours ahead gets that start', async () => {
    const windowAtMs = Date.now() + 2 * HOUR;
    const acts = activitiesFor([agent('shifting', 600, [{ atMs: windowAtMs, gPerKWh: 20 }])]);
    const placement = await acts.placeTask({ spec: spec('deferred', true), exclude: [] });
    expect(placement).toMatchObject({ agentId: 'shifting', startMs: windowAtMs });
    // Charged the window it runs in: 100 W for 60 s at 20 g/kWh.
    expect(placement.agentId && placement.expected.carbonG).toBeCloseTo(((100 * 60) / 3600 / 1000) * 20, 9);
  });

  it('the same task, not deferrable, starts now: no planned start', async () => {
    const acts = activitiesFor([agent('shifting', 600, [{ atMs: Date.now() + 2 * HOUR, gPerKWh: 20 }])]);
    const placement = await acts.placeTask({ spec: spec('now', false), exclude: [] });
    expect(placement.agentId).toBe('shifting');
    expect(placement).not.toHaveProperty('startMs');
  });

  it('a deferrable task on a flat-intensity agent that is busy for an hour waits in its queue, not at the manager', async () => {
    const assigned = new AssignedWork();
    assigned.assign('placement', 'busy', 'earlier-task', 3_600);
    const acts = activitiesFor([agent('busy', 300)], assigned);
    const placement = await acts.placeTask({ spec: spec('queued', true), exclude: [] });
    expect(placement.agentId).toBe('busy');
    expect(placement).not.toHaveProperty('startMs');
  });
});

describe('heldTasks', () => {
  it('returns only the HELD tasks whose planned agent is no longer ACTIVE', async () => {
    const activities = createTaskActivities({
      messaging: new MemoryMessaging(),
      agents: { candidates: async () => [agent('here', 100)] },
      outcomes: { deliver: async () => 'delivered', deliverBid: async () => 'delivered' },
      agentKeys: { publicKey: async () => undefined },
      credentialSecret: 'test-secret',
      tasks: {
        assigned: async () => [],
        held: async () => [
          { taskId: 't1', agentId: 'here' },
          { taskId: 't2', agentId: 'gone' },
          { taskId: 't3', agentId: 'here' },
        ],
      },
    });
    expect(await activities.heldTasks({ swarmId: 's', max: 10 })).toEqual({ held: [{ taskId: 't2', agentId: 'gone', agentActive: false }] });
  });
});
