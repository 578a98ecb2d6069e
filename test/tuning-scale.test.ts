// Federated tuning's workflow at swarm scale on the real Temporal dev server:
// 10,000 participants per round, with the activities standing in for the
// swarm (this is about what the workflow itself does with the round's lists).
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { temporal } from '@temporalio/proto';
import type { CollectOutcome, SilentCollectOutcome, StoredSelectionInput, TuningActivities } from '../activities/tuning';
import type { TuningJobSpec, TuningProgress } from '../core/tuning';
import { TUNING_WORKFLOW, tuningWorkflowId } from '../workflows/definitions';
import type { FederatedTuningInput } from '../workflows/tuning';
import { uniqueId } from './support/stack';

const AGENTS = 10_000;

describe('federated tuning with 10,000 participants per round', () => {
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let client: Client;
  const taskQueue = uniqueId('tuning-scale');
  const namespace = process.env.QP_TEST_NAMESPACE!;
  const agentIds = Array.from({ length: AGENTS }, (_, i) => `agent-${String(i).padStart(5, '0')}`);
  /** Every 100th agent never reports: the workflow must work out who was silent. */
  const silent = new Set(agentIds.filter((_, i) => i % 100 === 0));
  const drained: string[][] = [];
  /** The participant lists the selection stored, by digest (the blob store's part). */
  const stored = new Map<string, string[]>();
  const storedSelections: StoredSelectionInput[] = [];

  const activities: Partial<TuningActivities> = {
    initializeModel: async () => 'sha256:zero',
    selectParticipants: async (input) => ({ participants: agentIds, eligible: AGENTS, strategy: input.strategy ?? 'uniform' }),
    startRound: async () => undefined,
    selectAndStoreParticipants: async (input) => {
      storedSelections.push(input);
      const participantsDigest = `sha256:participants-${input.round}-${input.attempt}`;
      stored.set(participantsDigest, agentIds);
      return {
        participantsDigest,
        participantCount: AGENTS,
        participationDigest: `sha256:participation-${input.round}`,
        eligible: AGENTS,
        strategy: input.strategy ?? 'uniform',
      };
    },
    startRoundByDigest: async (input) => {
      if (!stored.has(input.participantsDigest)) throw new Error(`unknown list ${input.participantsDigest}`);
    },
    collectAndAggregateByDigest: async (input): Promise<SilentCollectOutcome> => {
      const participants = stored.get(input.participantsDigest)!;
      const reported = participants.filter((id) => !silent.has(id));
      return {
        status: 'aggregated',
        globalDigest: `sha256:round-${input.round}`,
        serverStateDigest: 'sha256:state',
        silent: participants.filter((id) => silent.has(id)),
        accepted: reported.length,
        rejected: {},
        examples: reported.length,
      };
    },
    collectAndAggregate: async (input): Promise<CollectOutcome> => {
      const reported = input.participants.filter((id) => !silent.has(id));
      return {
        status: 'aggregated',
        globalDigest: `sha256:round-${input.round}`,
        serverStateDigest: 'sha256:state',
        reported,
        accepted: reported.length,
        rejected: {},
        examples: reported.length,
      };
    },
    drainLateUpdates: async (input) => {
      drained.push(input.awaiting);
      return { lateByRound: {} };
    },
    evaluateModel: async () => undefined,
    announceJobFinished: async () => undefined,
  };

  let worker: Worker;
  let running: Promise<void>;
  beforeAll(async () => {
    const address = process.env.QP_TEST_TEMPORAL_ADDRESS!;
    connection = await Connection.connect({ address });
    client = new Client({ connection, namespace });
    nativeConnection = await NativeConnection.connect({ address });
    worker = await Worker.create({
      connection: nativeConnection,
      namespace,
      taskQueue,
      workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! },
      activities,
      sinks: metricsSinks(createWorkerMetrics(new Registry())),
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await nativeConnection?.close();
    await connection?.close();
  });

  it('runs its rounds to the end and names the silent participants, with no workflow task failed', async () => {
    const jobId = uniqueId('scale');
    const spec: TuningJobSpec = {
      jobId,
      swarmId: uniqueId('swarm'),
      model: { kind: 'vector', dimension: 8 },
      rounds: 2,
      fraction: 1,
      minParticipants: 1,
      roundTimeoutMs: 30_000,
      maxRoundAttempts: 1,
      strategy: 'fedavg',
      strategyOptions: {},
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      evaluateEvery: 1,
      seed: 3,
    };
    const input: FederatedTuningInput = { spec };
    const handle = await client.workflow.start(TUNING_WORKFLOW, { workflowId: tuningWorkflowId(jobId), taskQueue, args: [input] });
    const result: TuningProgress = await handle.result();
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds.map((r) => [r.participants, r.accepted])).toEqual([
      [AGENTS, AGENTS - silent.size],
      [AGENTS, AGENTS - silent.size],
    ]);
    // The last round's silent participants are the ones waited for after it.
    expect(drained).toEqual([[...silent]]);
    // No workflow task failed or timed out: each fits the SDK's 5 s limit on a workflow task (on main the round's closing task never did).
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes)).toEqual([]);
    // The 10,000 ids (~140 KB as JSON) never enter the history: the selection's digest does, and the 100 silent ids.
    const largest = Math.max(...events.map((e) => temporal.api.history.v1.HistoryEvent.encode(e).finish().length));
    expect(largest).toBeLessThan(20_000);
    // Each round's selection reads the rounds agents last took part in from the blob the round before stored.
    expect(storedSelections.map((s) => s.participationDigest)).toEqual([undefined, 'sha256:participation-1']);
  }, 180_000);
});
