// Deadline-aware autoscaling end to end on the real Temporal dev server: the pool's Schedule reads the
// backlog and the age of its oldest waiting message through the messaging port, and the forecast given
// to POST /pools/:name/carbon; it waits for a clean hour that still meets the SLO, and runs now when
// no cleaner hour comes before the deadline.
import { ScheduleNotFoundError } from '@temporalio/client';
import type { PoolView } from '../api/pool-service';
import type { ScalingDecision } from '../core/autoscaling';
import { agentPoolWorkflowId, autoscaleScheduleId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

jest.setTimeout(600_000);

// 30 waiting messages at 0.01 per replica-second: 3000 replica-seconds before the oldest is 2 h old.
const policy = {
  minReplicas: 0,
  maxReplicas: 6,
  fallbackReplicas: 1,
  backlog: { targetPerReplica: 10, activationThreshold: 0 },
  deadline: { sloSeconds: 7200, messagesPerReplicaSecond: 0.01 },
  carbon: { bands: [{ maxIntensity: 200, maxReplicas: 6 }, { maxIntensity: 10_000, maxReplicas: 2 }] },
  behavior: {
    scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 6, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  },
};

describe('deadline-aware autoscaling', () => {
  let stack: Embedded;
  const pool = uniqueId('deadline').toLowerCase();

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_CLUSTER: 'memory', QP_AUTOSCALE_INTERVAL_S: '1' });
  });

  afterAll(async () => {
    await stack?.client.schedule
      .getHandle(autoscaleScheduleId(pool))
      .delete()
      .catch((error) => {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      });
    await stack?.client.workflow.getHandle(agentPoolWorkflowId(pool)).terminate('test finished').catch(() => undefined);
    await stack?.stop();
  });

  async function call(method: string, path: string, body?: unknown): Promise<PoolView> {
    const response = await fetch(`${stack.api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as PoolView;
  }

  const decisionAfter = (since: number, check: (d: ScalingDecision) => boolean) =>
    waitFor(
      'a decision',
      async () => (await call('GET', `/api/v1/pools/${pool}`)).autoscaling?.decisions.find((d) => d.at > since && check(d)),
      300_000,
      500,
    );

  it('waits for the clean hour while the backlog still fits there before its SLO, and runs now when none is cleaner', async () => {
    const backlogTopic = `swarm/${pool}/tasks`;
    const work = await stack.ports.messaging.subscribe(backlogTopic, 'workers', { type: 'shared' });
    const published = Date.now();
    for (let i = 0; i < 30; i++) await stack.ports.messaging.publish(backlogTopic, Buffer.from(`batch job ${i}`));
    await call('PUT', `/api/v1/pools/${pool}`, { policy, backlogTopic });

    // 400 g/kWh now (2 replicas at most), 100 from 20 minutes on (6 at most): the clean hours hold the work.
    const given = Date.now();
    await call('POST', `/api/v1/pools/${pool}/carbon`, { intensity: 400, forecast: [{ at: given + 1_200_000, intensity: 100 }] });
    const waits = await decisionAfter(given, (d) => d.inputs.plannedCleanestIntensity === 100);
    expect(waits).toMatchObject({ desiredReplicas: 0, proposals: { backlog: 3, deadline: 0 }, inputs: { backlog: 30, carbonIntensity: 400 } });
    expect(waits.reasons.map((r) => r.code)).toContain('DEADLINE');
    // The age the broker reports: the messages were published before the decision, and not before `published`.
    expect(waits.inputs.oldestMessageAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(waits.inputs.oldestMessageAgeSeconds).toBeLessThanOrEqual((Date.now() - published) / 1000 + 1);
    expect(waits.inputs.deadlineInSeconds).toBeCloseTo(7200 - (waits.inputs.oldestMessageAgeSeconds ?? 0), 2);

    // No cleaner hour: now (2 replicas x 1200 s) cannot hold 3000 replica-seconds, so it runs at the cap now.
    const later = Date.now();
    await call('POST', `/api/v1/pools/${pool}/carbon`, { intensity: 400, forecast: [{ at: later + 1_200_000, intensity: 450 }] });
    const runs = await decisionAfter(later, (d) => d.inputs.plannedCleanestIntensity === 400);
    expect(runs).toMatchObject({ desiredReplicas: 2, proposals: { deadline: 2 }, caps: { carbon: 2 } });
    expect(runs.reasons.map((r) => r.code)).toContain('DEADLINE');
    await work.close();
  });
});
