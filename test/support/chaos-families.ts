// The workloads the chaos suites run for each workflow family, on a
// WorkerChaosStack: the same work done undisturbed and under faults (worker
// kills, Temporal restarts) must end in the same state, which `settled` picks out.
import { temporal } from '@temporalio/proto';
import type { QpAgent, Trainer } from '../../agents/sdk';
import { BehaviorSimulation, plantStrategies } from '../../agents/simulate-behaviors';
import { simulateSwarm, type SwarmSimulation } from '../../agents/simulate';
import { digitsTrainers, DIGITS_DIMENSION } from '../../agents/trainers';
import type { DecisionStatus } from '../../core/decisions/status';
import type { Choice } from '../../core/decisions/types';
import type { SweepReport } from '../../core/behaviors/types';
import type { TaskState } from '../../core/tasks';
import type { TuningProgress } from '../../core/tuning';
import { decisionWorkflowId, tuningWorkflowId } from '../../workflows/definitions';
import { taskWorkflowId } from '../../workflows/definitions-tasks';
import { uniqueId, waitFor } from './stack';
import type { WorkerChaosStack } from './worker-chaos';

/** Delegated tasks: alike agents double their input after `workMs`, counting their runs per task. */
export class TaskWorkload {
  constructor(
    private readonly stack: WorkerChaosStack,
    private readonly agents = 6,
    private readonly workMs = 100,
  ) {}

  /** A swarm that answers tasks; `runs[n]` counts the handler runs of task n over all its agents. */
  async swarm(name: string): Promise<{ swarmId: string; runs: number[]; members: QpAgent[] }> {
    const swarmId = uniqueId(name);
    const runs: number[] = [];
    const members = await this.stack.registerSwarm(swarmId, this.agents);
    await Promise.all(
      members.map((agent) =>
        agent.onTask(async (task) => {
          const { n } = task.input as { n: number };
          runs[n] = (runs[n] ?? 0) + 1;
          await new Promise((resolve) => setTimeout(resolve, this.workMs));
          return { doubled: n * 2 };
        }),
      ),
    );
    return { swarmId, runs, members };
  }

  /** Submits tasks n = from .. from + count - 1 in one batch; resolves with their ids. */
  async submit(swarmId: string, from: number, count: number): Promise<string[]> {
    const tasks = Array.from({ length: count }, (_, k) => ({
      taskId: `${swarmId}-t${from + k}`,
      swarmId,
      kind: 'double',
      input: { n: from + k },
      estimatedWork: 2 + ((from + k) % 3),
      deadline: 600_000,
    }));
    const { status, body } = await this.stack.call('POST', '/api/v1/tasks/batch', { tasks });
    if (status !== 202) throw new Error(`batch refused: ${status} ${JSON.stringify(body)}`);
    return (body.tasks as { taskId: string }[]).map((accepted) => accepted.taskId);
  }

  results(taskIds: string[], timeoutMs = 120_000): Promise<TaskState[]> {
    return this.stack.resultsOf(taskIds.map(taskWorkflowId), timeoutMs);
  }

  /** What must not depend on faults, per task: one attempt, and the energy of that attempt charged once. */
  static settled(state: TaskState) {
    return {
      status: state.status,
      result: state.result,
      attempts: state.attempts.map((attempt) => attempt.outcome),
      energyWh: state.energyWh,
      carbonG: state.carbonG,
      chargedOnce: state.energyWh === state.attempts.find((attempt) => attempt.outcome === 'succeeded')?.expected?.energyWh,
    };
  }

  static totalWh(states: TaskState[]): number {
    return states.reduce((sum, state) => sum + (state.energyWh ?? 0), 0);
  }
}

export interface Proposal {
  name: string;
  body: Record<string, unknown>;
  /** Agent i's ballots, in order: a second one is a vote change. */
  votes: (i: number) => Choice[];
}

/** One proposal per voting system, and one with vote changes; quorum is everyone, so each waits for all ballots. */
export const PROPOSALS: Proposal[] = [
  { name: 'basic', body: { system: 'basic', power: 'equal' }, votes: (i) => [i % 3 === 0 ? 'against' : 'for'] },
  { name: 'single', body: { system: 'single-choice', options: ['a', 'b', 'c'], power: 'equal' }, votes: (i) => [['a', 'b', 'c'][i % 3]] },
  { name: 'approval', body: { system: 'approval', options: ['a', 'b', 'c'], power: 'equal' }, votes: (i) => [i % 2 ? ['a', 'c'] : ['b']] },
  { name: 'weighted', body: { system: 'weighted', options: ['x', 'y'], power: 'resources' }, votes: (i): Choice[] => [i < 5 ? { x: 1 } : { y: 1 }] },
  { name: 'ranked', body: { system: 'ranked-choice', options: ['x', 'y', 'z'], power: 'equal' }, votes: (i) => [[['x', 'y', 'z'], ['y', 'z', 'x'], ['z', 'y', 'x']][i % 3]] },
  // Vote changes: agents 0-3 first vote for, then against; only the later ballot may count.
  {
    name: 'changed',
    body: { system: 'basic', power: 'equal', allowVoteChange: true, votingPeriodMs: 9_000 },
    votes: (i) => (i < 4 ? ['for', 'against'] : ['for']),
  },
];

/** Collaborative decisions: agent i (cpu i+1) votes its ballots as a proposal reaches it, i x 150 ms apart. */
export class DecisionWorkload {
  private readonly plans = new Map<string, Proposal>();
  /** Every vote() the agents made, when it began and ended, and how: what a lost ballot's story starts from. */
  readonly votes: Array<{ decisionId: string; agentId: string; choice: Choice; heardAt: number; closesAt: number; startedAt: number; endedAt?: number; error?: string }> = [];

  constructor(
    private readonly stack: WorkerChaosStack,
    readonly agents = 8,
    private readonly proposals = PROPOSALS,
  ) {}

  async swarm(name: string): Promise<{ swarmId: string; members: QpAgent[] }> {
    const swarmId = uniqueId(name);
    const members = await this.stack.registerSwarm(swarmId, this.agents, (i) => ({ resources: { cpu: i + 1, memoryMb: 512 } }));
    await Promise.all(
      members.map((agent, i) =>
        agent.onProposal(async (proposal) => {
          const plan = this.plans.get(proposal.decisionId);
          if (!plan) return;
          const heardAt = Date.now();
          for (const choice of plan.votes(i)) {
            await new Promise((resolve) => setTimeout(resolve, 150 * i + 20));
            const vote: DecisionWorkload['votes'][number] = {
              decisionId: proposal.decisionId, agentId: agent.agentId, choice, heardAt, closesAt: proposal.closesAt, startedAt: Date.now(),
            };
            this.votes.push(vote);
            try {
              await agent.vote(proposal.decisionId, choice);
            } catch (error) {
              vote.error = String(error);
              throw error;
            } finally {
              vote.endedAt = Date.now();
            }
          }
        }),
      ),
    );
    return { swarmId, members };
  }

  /** Opens every proposal in the swarm; resolves with the decision ids, in PROPOSALS order. */
  async propose(swarmId: string): Promise<string[]> {
    const ids: string[] = [];
    for (const plan of this.proposals) {
      const decisionId = uniqueId(`${swarmId}-${plan.name}`);
      this.plans.set(decisionId, plan);
      const { status, body } = await this.stack.call('POST', '/api/v1/decisions', {
        decisionId,
        swarmId,
        title: plan.name,
        votingPeriodMs: 60_000,
        quorum: { fraction: 1 },
        ...plan.body,
      });
      if (status !== 201) throw new Error(`proposal refused: ${status} ${JSON.stringify(body)}`);
      ids.push(body.decisionId);
    }
    return ids;
  }

  closed(ids: string[], timeoutMs = 120_000): Promise<DecisionStatus[]> {
    return this.stack.resultsOf(ids.map(decisionWorkflowId), timeoutMs);
  }

  /** What must not depend on faults. */
  static settled(status: DecisionStatus) {
    return {
      state: status.state,
      winner: status.outcome?.winner,
      closedBy: status.closedBy,
      tally: status.tally,
      voters: status.voters,
      quorumPower: status.quorumPower,
      snapshot: { voters: status.snapshot?.voters, totalPower: status.snapshot?.totalPower },
    };
  }

  /** A decision's window, refusals and the agents' votes on it, for a failure message. */
  story(status: DecisionStatus): string {
    const { decisionId, opensAt, closesAt, closedAt, closedBy, refusals, ballotChunks } = status;
    const votes = this.votes.filter((vote) => vote.decisionId === decisionId);
    return JSON.stringify({ decisionId, opensAt, closesAt, closedAt, closedBy, refusals, chunks: ballotChunks.length, votes }, null, 1);
  }

  /** The accepted ballots of a decision as GET .../ballots lists them (a replaced one too), as sorted `agent choice` lines. */
  async keptBallots(decisionId: string): Promise<string[]> {
    const { status, body } = await this.stack.call('GET', `/api/v1/decisions/${decisionId}/ballots`);
    if (status !== 200) throw new Error(`ballots of ${decisionId}: ${status}`);
    return (body.ballots as { agentId: string; choice: Choice }[]).map((ballot) => `${ballot.agentId} ${JSON.stringify(ballot.choice)}`).sort();
  }

  /** The ballots the members cast on proposal k, in the form keptBallots lists them. */
  cast(members: QpAgent[], k: number): string[] {
    return members.flatMap((agent, i) => this.proposals[k].votes(i).map((choice) => `${agent.agentId} ${JSON.stringify(choice)}`)).sort();
  }
}

/** Federated tuning: six agents on digits, agent i answering i x 250 ms late, so a round's updates trickle in. */
export class TuningWorkload {
  /** The simulated swarms, for the stack to stop. */
  readonly swarms: SwarmSimulation[] = [];

  constructor(private readonly stack: WorkerChaosStack) {}

  async swarm(name: string): Promise<string> {
    const swarmId = uniqueId(name);
    const trainers = digitsTrainers({ agents: TUNING_AGENTS, alpha: 0.5, seed: 21 }).map(
      (train, i): Trainer =>
        async (task) => {
          await new Promise((resolve) => setTimeout(resolve, i * 250));
          return train(task);
        },
    );
    const simulation = await simulateSwarm({
      apiUrl: this.stack.api.url,
      messaging: this.stack.agentMessaging,
      count: trainers.length,
      swarmId,
      idPrefix: swarmId,
      trainers,
      heartbeatIntervalMs: 2000,
    });
    this.swarms.push(simulation);
    if (simulation.failed.length > 0) throw new Error(`agents failed to join ${swarmId}: ${simulation.failed.join(', ')}`);
    await waitFor(
      `${TUNING_AGENTS} agents of ${swarmId} ACTIVE`,
      async () =>
        (await this.stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 50 })).agents.length === TUNING_AGENTS ? true : undefined,
      60_000,
    );
    return swarmId;
  }

  /** A three-round FedAvg job on every agent of the swarm (rounds of `roundTimeoutMs`); resolves with its id. */
  async start(swarmId: string, roundTimeoutMs = 30_000): Promise<string> {
    const { jobId } = await this.stack.api.tuning.start({
      swarmId,
      model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
      rounds: 3,
      fraction: 1,
      minParticipants: TUNING_AGENTS,
      roundTimeoutMs,
      maxRoundAttempts: 2,
      strategy: 'fedavg',
      strategyOptions: {},
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      evaluateEvery: 3,
      seed: 5,
    });
    return jobId;
  }

  handle(jobId: string) {
    return this.stack.client.workflow.getHandle(tuningWorkflowId(jobId));
  }

  /** Resolves once round `round`'s collection has started (a worker is running it). */
  async collecting(jobId: string, round: number): Promise<void> {
    const handle = this.handle(jobId);
    await waitFor(
      `round ${round} aggregation in progress`,
      async () => {
        const described = await handle.describe();
        const progress = await handle.query<TuningProgress>('tuningProgress');
        const pending = described.raw.pendingActivities?.find(
          (a) => ['collectAndAggregate', 'collectAndAggregateByDigest'].includes(a.activityType?.name ?? '') && a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
        );
        return progress.round === round - 1 && pending ? true : undefined;
      },
      60_000,
      50,
    );
  }

  /** What must not depend on faults: every update counted once per round, the same final bits and accuracy. */
  static settled(progress: TuningProgress) {
    return {
      status: progress.status,
      round: progress.round,
      accepted: progress.recentRounds.map((r) => r.accepted),
      rejected: progress.recentRounds.map((r) => r.rejected),
      attempts: progress.recentRounds.map((r) => r.attempts),
      globalDigest: progress.globalDigest,
      accuracy: progress.recentRounds.at(-1)?.accuracy,
    };
  }
}

const TUNING_AGENTS = 6;

/**
 * Behaviour sweeps: AGENTS agents of a swarm report EPISODES behaviours each
 * over Pulsar, the same planted world (seed) every time, and a sweep drains
 * them into the vector store in small batches (the worker's QP_BEHAVIOR_BATCH_SIZE).
 */
export class SweepWorkload {
  readonly swarms: string[] = [];

  constructor(
    private readonly stack: WorkerChaosStack,
    // Enough agents for the planted world's strategies to stand out (12 agents find none).
    readonly agents = 24,
    readonly episodes = 6,
    private readonly seed = 11,
  ) {}

  /** The worker's configuration for sweeps on the Milvus at `milvusAddress`: small batches, so a fault lands between two of them. */
  static workerEnv(milvusAddress: string): Record<string, string> {
    return {
      QP_VECTORS: 'milvus',
      MILVUS_ADDRESS: milvusAddress,
      QP_BEHAVIOR_DIMENSION: '16',
      QP_BEHAVIOR_SWEEP_CRON: 'off',
      QP_BEHAVIOR_BATCH_SIZE: '8',
      QP_BEHAVIOR_DRAIN_IDLE_MS: '500',
    };
  }

  /** A swarm whose agents have reported all their behaviours. */
  async reportedSwarm(name: string): Promise<string> {
    const swarmId = uniqueId(name);
    this.swarms.push(swarmId);
    // A loaded machine kept registration workflows from issuing their challenges for over 240 s.
    const agents = await this.stack.registerSwarm(swarmId, this.agents, () => ({ handshakeTimeoutMs: 600_000 }));
    const world = plantStrategies({ seed: this.seed, agentIds: agents.map((agent) => agent.agentId) });
    const simulation = new BehaviorSimulation({ agents, world, seed: this.seed });
    for (let e = 0; e < this.episodes; e++) await simulation.episode(e);
    return swarmId;
  }

  /** Starts a sweep through the API; resolves with its workflow id. */
  async start(swarmId: string): Promise<string> {
    const { status, body } = await this.stack.call('POST', '/api/v1/behaviors/sweep', { swarmId });
    if (status !== 202) throw new Error(`POST /behaviors/sweep answered ${status}: ${JSON.stringify(body)}`);
    return body.workflowId;
  }

  /** Resolves once the sweep's drain has a batch activity pending (scheduled or running). */
  async draining(workflowId: string): Promise<void> {
    await waitFor(
      'the drain to run',
      async () => {
        const described = await this.stack.client.workflow.getHandle(workflowId).describe();
        return described.raw.pendingActivities?.some((a) => a.activityType?.name === 'ingestBehaviorBatch') ? true : undefined;
      },
      120_000,
      50,
    );
  }

  /** The highest attempt of any activity of the workflow: 1 when nothing was retried. */
  async maxAttempt(workflowId: string): Promise<number> {
    const events = (await this.stack.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    return Math.max(1, ...events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0));
  }

  /** What must not depend on a fault. */
  static settled(report: SweepReport) {
    return {
      counts: report.counts,
      rejections: report.rejections,
      strategies: report.strategies.map((s) => ({ rank: s.rank, size: s.size, agentCount: s.agentCount, meanFitness: s.meanFitness })),
    };
  }
}
