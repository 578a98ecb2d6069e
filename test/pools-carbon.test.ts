// Carbon-aware deferral end to end on the real Temporal dev server: the
// pool's Schedule reads the forecast given to POST /pools/:name/carbon and
// caps the pool while a much cleaner hour lies within the policy's horizon.
import { ScheduleNotFoundError } from '@temporalio/client';
import type { PoolView } from '../api/pool-service';
import type { ScalingDecision } from '../core/autoscaling';
import { agentPoolWorkflowId, autoscaleScheduleId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

jest.setTimeout(120_000);

// No backlog topic: the backlog signal is missing and asks for the fallback, 4 replicas.
const policy = {
  minReplicas: 0,
  maxReplicas: 6,
  fallbackReplicas: 4,
  backlog: { targetPerReplica: 10, activationThreshold: 0 },
  carbon: { bands: [{ maxIntensity: 10_000, maxReplicas: 6 }], deferral: { horizonSeconds: 3600, minRatio: 1.5, maxReplicas: 1 } },
  behavior: {
    scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 6, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  },
};

describe('carbon-aware deferral', () => {
  let stack: Embedded;
  const pool = uniqueId('deferred').toLowerCase();

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
      60_000,
      250,
    );

  it('waits at the deferral cap while a forecast 1.5x cleaner lies within the horizon, and runs when none does', async () => {
    await call('PUT', `/api/v1/pools/${pool}`, { policy });
    const given = Date.now();
    await call('POST', `/api/v1/pools/${pool}/carbon`, { intensity: 400, forecast: [{ at: given + 1_800_000, intensity: 100 }] });
    const waits = await decisionAfter(given, (d) => d.inputs.carbonForecastMin === 100);
    expect(waits).toMatchObject({ desiredReplicas: 1, caps: { carbon: 6, carbonDeferral: 1, effective: 1 } });
    expect(waits.reasons.map((r) => r.code)).toContain('CARBON_DEFERRED');

    const later = Date.now();
    await call('POST', `/api/v1/pools/${pool}/carbon`, { intensity: 400, forecast: [{ at: later + 1_800_000, intensity: 350 }] });
    const runs = await decisionAfter(later, (d) => d.inputs.carbonForecastMin === 350);
    expect(runs.desiredReplicas).toBe(4);
    expect(runs.caps.carbonDeferral).toBeUndefined();
    expect(runs.reasons.map((r) => r.code)).not.toContain('CARBON_DEFERRED');
  });
});
