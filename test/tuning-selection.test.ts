// Participant selection strategies of federated tuning on the real Temporal
// dev server: every choice is the job's seed and round applied to the ACTIVE
// agents, recorded in history, and the history replays.
import { Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { noopTrainer } from '../agents/trainers';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Trainer } from '../agents/sdk';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import { carbonIntensity, selectParticipants, type AgentFeedback } from '../core/selection';
import type { TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';
import { recordedSelections } from './support/tuning-history';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('participant selection on a real Temporal server', () => {
  let stack: Embedded;
  const swarms: SwarmSimulation[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await Promise.all(swarms.map((s) => s.stop()));
    await stack?.stop();
  });

  async function swarmOf(trainers: Trainer[]): Promise<{ swarmId: string; agentIds: string[] }> {
    const swarmId = uniqueId('sel');
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: trainers.length,
      swarmId,
      idPrefix: swarmId,
      trainers,
      heartbeatIntervalMs: 5_000,
      seed: 5,
    });
    swarms.push(swarm);
    expect(swarm.failed).toEqual([]);
    await waitFor('visibility to list every agent ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 500 });
      return page.agents.length === trainers.length ? true : undefined;
    });
    // The worker's own listing may trail visibility's by its cache: a one-round job that needs every
    // agent is retried until the worker lists them all, so the jobs under test choose from all of them.
    const probe = await run({
      swarmId,
      model: { kind: 'vector', dimension: 16 },
      rounds: 1,
      minParticipants: trainers.length,
      maxRoundAttempts: 20,
      roundTimeoutMs: 10_000,
    });
    expect(probe.result.status).toBe('COMPLETED');
    const agentIds = trainers.map((_, i) => `${swarmId}-${String(i).padStart(4, '0')}`);
    return { swarmId, agentIds };
  }

  async function run(body: Record<string, unknown>): Promise<{ jobId: string; result: TuningProgress }> {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    const json = (await res.json()) as { jobId: string };
    if (res.status !== 202) throw new Error(`start failed ${res.status}: ${JSON.stringify(json)}`);
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(json.jobId)).result();
    return { jobId: json.jobId, result };
  }

  async function history(jobId: string) {
    return stack.client.workflow.getHandle(tuningWorkflowId(jobId)).fetchHistory();
  }

  async function replays(jobId: string): Promise<void> {
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! }, sinks: metricsSinks(createWorkerMetrics(new Registry())) },
      await history(jobId),
      tuningWorkflowId(jobId),
    );
  }

  const job = (swarmId: string, extra: Record<string, unknown>) => ({
    swarmId,
    model: { kind: 'vector', dimension: 16 },
    rounds: 4,
    participantsPerRound: 3,
    minParticipants: 3,
    roundTimeoutMs: 10_000,
    ...extra,
  });

  it('uniform (the default) asks the agents the seed and round choose: the same again for the same seed, and the history replays', async () => {
    const { swarmId, agentIds } = await swarmOf(Array.from({ length: 10 }, () => noopTrainer));
    const [first, again, otherSeed] = await Promise.all([
      run(job(swarmId, { seed: 11 })),
      run(job(swarmId, { seed: 11, selection: 'uniform' })),
      run(job(swarmId, { seed: 12 })),
    ]);
    for (const { result } of [first, again, otherSeed]) {
      expect(result.status).toBe('COMPLETED');
      expect(result.recentRounds.map((r) => [r.selection, r.participants, r.accepted])).toEqual(
        Array.from({ length: 4 }, () => ['uniform', 3, 3]),
      );
    }
    const chosen = async (jobId: string) => (await recordedSelections(await history(jobId), stack.ports.blobs)).map((s) => s.result.participants);
    const firstChoices = await chosen(first.jobId);
    expect(firstChoices).toHaveLength(4);
    expect(await chosen(again.jobId)).toEqual(firstChoices);
    expect(await chosen(otherSeed.jobId)).not.toEqual(firstChoices);
    // Exactly the seeded sample of the swarm's agents, round by round.
    const candidates = agentIds.map((agentId) => ({ agentId }));
    expect(firstChoices).toEqual(
      [1, 2, 3, 4].map((round) => selectParticipants({ strategy: 'uniform', candidates, wanted: 3, seed: 11, round, attempt: 1, lastParticipation: {} }).participants),
    );
    await replays(first.jobId);
  }, 120_000);

  it('oort explores untried agents first, then exploits the fast ones; its choices follow from the recorded feedback and replay', async () => {
    const slow: Trainer = async (task) => {
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // an agent that trains slowly
      return noopTrainer(task);
    };
    const trainers = [noopTrainer, slow, noopTrainer, slow, noopTrainer, slow, noopTrainer, slow];
    const { swarmId, agentIds } = await swarmOf(trainers);
    const fast = agentIds.filter((_, i) => trainers[i] === noopTrainer);
    const { jobId, result } = await run(
      job(swarmId, {
        rounds: 3,
        participantsPerRound: 4,
        minParticipants: 4,
        seed: 3,
        selection: 'oort',
        selectionOptions: { explorationFraction: 1, preferredDurationMs: 1_200 },
      }),
    );
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds.map((r) => [r.selection, r.exploring])).toEqual([
      ['oort', 4],
      ['oort', 4],
      ['oort', 0],
    ]);
    const selections = await recordedSelections(await history(jobId), stack.ports.blobs);
    // Rounds 1 and 2 tried all eight; round 3 knows them all and asks the four fast ones.
    expect(new Set([...selections[0].result.participants, ...selections[1].result.participants]).size).toBe(8);
    // What Oort learnt travels as a blob; the history carries its digest.
    const feedbackOf = async (digest: string | undefined) =>
      digest ? (JSON.parse(Buffer.from((await stack.ports.blobs.get(digest))!).toString('utf8')) as Record<string, AgentFeedback>) : {};
    expect(selections[0].input.feedbackDigest).toBeUndefined();
    expect(Object.keys(await feedbackOf(selections[2].input.feedbackDigest)).sort()).toEqual([...agentIds].sort());
    expect(selections[2].result.participants).toEqual([...fast].sort());
    const directory = await new TemporalSwarmRoster(stack.client, process.env.QP_TEST_NAMESPACE ?? 'default', { ttlMs: 0, fullEveryMs: 0 }).listActive(swarmId);
    for (const { input, result: chosen } of selections) {
      expect(
        selectParticipants({ ...input, feedback: await feedbackOf(input.feedbackDigest), candidates: directory, wanted: 4, strategy: 'oort' }).participants,
      ).toEqual(chosen.participants);
    }
    await replays(jobId);
  }, 120_000);

  it.each([
    ['selection', { selection: 'fastest' }],
    ['selectionOptions.explorationFraction', { selection: 'oort', selectionOptions: { explorationFraction: 1.5 } }],
    ['evaluation.federated.everyRounds', { evaluation: { federated: { everyRounds: 0 } } }],
    ['selection', { selection: 'oort', secureAggregation: { stageTimeoutMs: 1000 } }],
  ])('a job with a bad %s is refused with 400 naming the field', async (field, body) => {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, { method: 'POST', headers: admin, body: JSON.stringify({ swarmId: 's', ...body }) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain(field);
  });

  it('carbon-aware asks the agents on the lowest-carbon power they declared', async () => {
    const { swarmId } = await swarmOf(Array.from({ length: 8 }, () => noopTrainer));
    const { jobId, result } = await run(job(swarmId, { rounds: 2, seed: 1, selection: 'carbon-aware' }));
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds.map((r) => [r.selection, r.lowCarbon])).toEqual([
      ['carbon-aware', true],
      ['carbon-aware', true],
    ]);
    const directory = await new TemporalSwarmRoster(stack.client, process.env.QP_TEST_NAMESPACE ?? 'default', { ttlMs: 0, fullEveryMs: 0 }).listActive(swarmId);
    const intensity = (id: string) => carbonIntensity(directory.find((d) => d.agentId === id)?.resources?.energy, 0);
    const lowest = directory.map((d) => intensity(d.agentId)).sort((a, b) => a - b)[2];
    for (const { result: chosen } of await recordedSelections(await history(jobId), stack.ports.blobs)) {
      expect(chosen.participants).toHaveLength(3);
      for (const id of chosen.participants) expect(intensity(id)).toBeLessThanOrEqual(lowest);
    }
  }, 120_000);
});
