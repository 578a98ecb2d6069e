// The metric names and labels QP-Manager promises: qp_manager_* with units, bounded labels.
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MemoryVectors } from '../adapters/memory/vectors';
import { instrumentMessaging, topicChannel } from '../adapters/prometheus/messaging';
import { instrumentVectors } from '../adapters/prometheus/vectors';
import { analyticsMetrics } from '../api/analytics-metrics';
import { createApiMetrics } from '../api/metrics';
import { swarmTopics } from '../core/topics';

const UNIT_SUFFIX = /_(total|seconds|bytes|watts|joules|grams|grams_per_kwh|ratio|messages|epsilon|participants|agents|rejections)$|^qp_manager_(agents|tasks|decisions_open|pool_replicas|analytics_agent_flapping)$/;

async function names(registry: Registry): Promise<string[]> {
  return (await registry.getMetricsAsJSON()).map((m) => m.name);
}

describe('metric names', () => {
  it('every worker and API metric is qp_manager_* and names its unit', async () => {
    const worker = new Registry();
    createWorkerMetrics(worker);
    instrumentMessaging(new MemoryMessaging(), worker);
    instrumentVectors(new MemoryVectors(), worker);
    const api = createApiMetrics(async () => 0).registry;
    analyticsMetrics(api, { agentLabels: true });
    const all = [...(await names(worker)), ...(await names(api)).filter((n) => !n.startsWith('qp_manager_api_'))];
    expect(all.length).toBeGreaterThan(30);
    for (const name of all) {
      expect(name).toMatch(/^qp_manager_[a-z0-9_]+$/);
      expect(name).toMatch(UNIT_SUFFIX);
    }
  });

  it('creating the metrics twice on one registry reuses them (behaviour and tuning activities share a registry)', () => {
    const registry = new Registry();
    const first = createWorkerMetrics(registry);
    expect(createWorkerMetrics(registry).rounds).toBe(first.rounds);
  });
});

describe('messaging metrics', () => {
  it('label a topic by its kind, never by agent or job id', () => {
    const topics = swarmTopics('s1');
    expect(topicChannel(topics.inbox('agent-123'))).toBe('inbox');
    expect(topicChannel(topics.updates('job-9'))).toBe('updates');
    expect(topicChannel(topics.heartbeats)).toBe('heartbeats');
    expect(topicChannel('somewhere/else')).toBe('other');
  });

  it('count what is published and consumed, with bytes', async () => {
    const registry = new Registry();
    const messaging = instrumentMessaging(new MemoryMessaging(), registry);
    const topic = swarmTopics('s1').inbox('a1');
    const consumer = await messaging.subscribe(topic, 'sub', { initialPosition: 'earliest' });
    await messaging.publish(topic, new Uint8Array(10));
    await messaging.publish(topic, new Uint8Array(6));
    expect(await consumer.receive(1000)).toBeDefined();
    const text = await registry.metrics();
    expect(text).toContain('qp_manager_messaging_published_total{channel="inbox",result="ok"} 2');
    expect(text).toContain('qp_manager_messaging_published_bytes_total{channel="inbox"} 16');
    expect(text).toContain('qp_manager_messaging_consumed_total{channel="inbox"} 1');
    expect(text).toContain('qp_manager_messaging_publish_duration_seconds_count{channel="inbox"} 2');
    await consumer.close();
    await messaging.close();
  });
});

describe('vector store metrics', () => {
  it('time each operation and count failures', async () => {
    const registry = new Registry();
    const vectors = instrumentVectors(new MemoryVectors(), registry);
    await vectors.ensureCollection('c', 2);
    await vectors.upsert('c', [{ id: 'x', vector: [0, 1], fields: {} }]);
    await expect(vectors.search('missing', [0, 1], 1)).rejects.toThrow();
    const text = await registry.metrics();
    expect(text).toContain('qp_manager_vector_operation_duration_seconds_count{operation="upsert"} 1');
    expect(text).toContain('qp_manager_vector_operation_errors_total{operation="search"} 1');
  });
});

describe('the workflows\' metrics sink', () => {
  it('records a completed round: outcome, duration by strategy, participants, accuracy and epsilon by swarm', async () => {
    const registry = new Registry();
    const sinks = metricsSinks(createWorkerMetrics(registry));
    const info = {} as never;
    sinks.qpMetrics.roundObserved.fn(info, {
      swarmId: 's1',
      strategy: 'fedavg',
      outcome: 'completed',
      durationSeconds: 1.5,
      participants: 8,
      accuracy: 0.875,
      epsilon: 2.5,
    });
    sinks.qpMetrics.roundObserved.fn(info, { swarmId: 's1', strategy: 'fedavg', outcome: 'quorum_not_met', durationSeconds: 30, participants: 3 });
    sinks.qpMetrics.handshakeCompleted.fn(info, 0.2);
    const text = await registry.metrics();
    expect(text).toContain('qp_manager_rounds_total{outcome="completed"} 1');
    expect(text).toContain('qp_manager_rounds_total{outcome="quorum_not_met"} 1');
    expect(text).toContain('qp_manager_round_duration_seconds_count{strategy="fedavg"} 1');
    expect(text).toContain('qp_manager_round_participants_count 2');
    expect(text).toContain('qp_manager_round_accuracy_ratio{swarm="s1"} 0.875');
    expect(text).toContain('qp_manager_round_privacy_epsilon{swarm="s1"} 2.5');
    expect(text).toContain('qp_manager_registration_handshake_duration_seconds_count 1');
    expect(sinks.qpMetrics.roundObserved.callDuringReplay).toBe(false);
  });

  it('records tasks as they end (status, late, energy in joules, carbon) and decisions as voting closes', async () => {
    const registry = new Registry();
    const sinks = metricsSinks(createWorkerMetrics(registry));
    const info = {} as never;
    sinks.qpMetrics.taskFinished.fn(info, { swarmId: 's1', status: 'SUCCEEDED', late: false, energyWh: 0.5, carbonG: 0.2 });
    sinks.qpMetrics.taskFinished.fn(info, { swarmId: 's1', status: 'SUCCEEDED', late: true, energyWh: 1, carbonG: 0.4 });
    sinks.qpMetrics.taskFinished.fn(info, { swarmId: 's1', status: 'FAILED', late: true });
    sinks.qpMetrics.decisionClosed.fn(info, { swarmId: 's1', state: 'SUCCEEDED', turnoutRatio: 0.75 });
    const text = await registry.metrics();
    expect(text).toContain('qp_manager_tasks_finished_total{status="succeeded"} 2');
    expect(text).toContain('qp_manager_tasks_finished_total{status="failed"} 1');
    expect(text).toContain('qp_manager_tasks_finished_total{status="cancelled"} 0');
    expect(text).toContain('qp_manager_tasks_late_total 2');
    expect(text).toContain('qp_manager_task_energy_joules_total 5400');
    expect(text).toMatch(/qp_manager_carbon_emitted_grams_total 0\.6000000\d*\n|qp_manager_carbon_emitted_grams_total 0\.6\n/);
    expect(text).toContain('qp_manager_decisions_closed_total{state="succeeded"} 1');
    expect(text).toContain('qp_manager_decision_turnout_ratio 0.75');
    expect(sinks.qpMetrics.taskFinished.callDuringReplay).toBe(false);
    expect(sinks.qpMetrics.decisionClosed.callDuringReplay).toBe(false);
  });
});
