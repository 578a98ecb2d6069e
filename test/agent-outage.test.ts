// An agent finishes a task, or trains a round's update, while its broker is
// unreachable for longer than one publish waits (a broker restart). The task's
// message is acknowledged already, so an answer given up on is found again only
// at the task's deadline; an update given up on misses its round although the
// round was still open (a secure-aggregation stage too). The SDK sends them again until they go: the task
// succeeds with its one attempt (the publish failure is not reported as a
// failure of the task), the round counts the update in its one attempt, and a
// ballot cast during the outage is counted in its decision.
import { QpAgent } from '../agents/sdk';
import type { MessagingPort } from '../adapters/ports';
import { decisionTopic } from '../core/decisions/topics';
import { taskResultsTopic, type TaskState } from '../core/tasks';
import { swarmTopics } from '../core/topics';
import type { TuningProgress } from '../core/tuning';
import { noopTrainer } from '../agents/trainers';
import { decisionWorkflowId, tuningWorkflowId } from '../workflows/definitions';
import { taskWorkflowId } from '../workflows/definitions-tasks';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

/** The stack's messaging, with the first `failures` publishes (or subscribes) on `topic` refused as by an unreachable broker. */
function outageOn(inner: MessagingPort, topic: string, failures: number): MessagingPort & { refused: number } {
  return {
    refused: 0,
    async publish(to, payload, options) {
      if (to === topic && this.refused < failures) {
        this.refused++;
        throw new Error('the broker is unreachable');
      }
      return inner.publish(to, payload, options);
    },
    async subscribe(to, subscription, options) {
      if (to === topic && this.refused < failures) {
        this.refused++;
        throw new Error('the broker is unreachable');
      }
      return inner.subscribe(to, subscription, options);
    },
    deleteTopic: (to) => inner.deleteTopic(to),
    close: async () => undefined,
  };
}

/** A quiet agent (one heartbeat a minute) of `swarmId`, the `index`th, on `messaging`. */
function agentOf(apiUrl: string, messaging: MessagingPort, swarmId: string, index = 0, capabilities: string[] = []): QpAgent {
  return new QpAgent({ apiUrl, messaging, agentId: `${swarmId}-${index}`, swarmId, capabilities, resources: { cpu: 1, memoryMb: 512 }, heartbeatIntervalMs: 60_000 });
}

/** The result of `promise`, or a failure saying what did not happen within timeoutMs. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${timeoutMs} ms`)), timeoutMs))),
  ]).finally(() => clearTimeout(timer));
}

describe('an agent answering during a broker outage', () => {
  let stack: Embedded;
  let agent: QpAgent | undefined;
  const swarmId = uniqueId('answer-outage');

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await agent?.close();
    await stack?.stop();
  });

  it("gets a task's answer to the manager once the broker is back, as a success with one attempt", async () => {
    const messaging = outageOn(stack.ports.messaging, taskResultsTopic(swarmId), 3);
    agent = agentOf(stack.api.url, messaging, swarmId);
    await agent.register();
    let runs = 0;
    await agent.onTask(async (task) => {
      runs++;
      return { doubled: (task.input as { n: number }).n * 2 };
    });

    const taskId = uniqueId('outage-task');
    const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ taskId, swarmId, kind: 'double', input: { n: 21 }, estimatedWork: 1, deadline: 600_000 }),
    });
    expect(res.status).toBe(202);
    const handle = stack.client.workflow.getHandle(taskWorkflowId(taskId));
    const state = await within(handle.result() as Promise<TaskState>, 30_000, 'no answer reached the manager');

    expect(messaging.refused).toBe(3);
    expect(runs).toBe(1);
    expect(state.status).toBe('SUCCEEDED');
    expect(state.result).toEqual({ doubled: 42 });
    expect(state.attempts.map((attempt) => attempt.outcome)).toEqual(['succeeded']);
  }, 60_000);

  it('registers although its inbox cannot be subscribed to at first: the challenge waits there', async () => {
    const swarm = uniqueId('inbox-outage');
    const messaging = outageOn(stack.ports.messaging, swarmTopics(swarm).inbox(`${swarm}-0`), 3);
    const late = agentOf(stack.api.url, messaging, swarm);
    try {
      const record = await late.register();
      expect(messaging.refused).toBe(3);
      expect(record.status).toBe('ACTIVE');
    } finally {
      await late.close();
    }
  }, 60_000);

  it('still answers a result that cannot be sent (not JSON) as a failure, at once', async () => {
    const swarm = uniqueId('unsendable');
    const sender = agentOf(stack.api.url, stack.ports.messaging, swarm);
    try {
      await sender.register();
      await sender.onTask(async () => ({ count: 1n }));
      const taskId = uniqueId('unsendable-task');
      const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ taskId, swarmId: swarm, kind: 'count', input: {}, estimatedWork: 1, deadline: 600_000 }),
      });
      expect(res.status).toBe(202);
      const handle = stack.client.workflow.getHandle(taskWorkflowId(taskId));
      const attempt = await waitFor(
        'the first attempt answered',
        async () => (await handle.query<TaskState>('taskState')).attempts.find((a) => a.outcome !== undefined),
        20_000,
      );
      expect(attempt.outcome).toBe('failed');
      expect(attempt.reason).toMatch(/BigInt/);
    } finally {
      await sender.close();
    }
  }, 60_000);

  it("gets a round's update counted in its round once the broker is back", async () => {
    const tuningSwarm = uniqueId('update-outage');
    const jobId = uniqueId('update-outage-job');
    const messaging = outageOn(stack.ports.messaging, swarmTopics(tuningSwarm).updates(jobId), 3);
    const trainer = agentOf(stack.api.url, messaging, tuningSwarm, 0, ['train']);
    try {
      await trainer.register();
      await trainer.participate(noopTrainer);
      await stack.api.tuning.start({
        jobId,
        swarmId: tuningSwarm,
        model: { kind: 'vector', dimension: 16 },
        rounds: 1,
        fraction: 1,
        minParticipants: 1,
        roundTimeoutMs: 20_000,
        maxRoundAttempts: 1,
        strategy: 'fedavg',
        strategyOptions: {},
        training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
        evaluateEvery: 1,
        seed: 1,
      });
      const progress = await within(
        stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result() as Promise<TuningProgress>,
        40_000,
        'the job did not end',
      );
      expect(messaging.refused).toBe(3);
      expect(progress.status).toBe('COMPLETED');
      expect(progress.recentRounds.map((round) => [round.attempts, round.accepted])).toEqual([[1, 1]]);
    } finally {
      await trainer.close();
    }
  }, 60_000);

  it('gets a ballot cast during the outage counted in its decision', async () => {
    const swarm = uniqueId('vote-outage');
    const decisionId = uniqueId('vote-outage-decision');
    const messaging = outageOn(stack.ports.messaging, decisionTopic(swarm, decisionId), 3);
    const voter = agentOf(stack.api.url, messaging, swarm);
    try {
      await voter.register();
      const voted = new Promise<void>((resolve, reject) => {
        void voter.onProposal(async (proposal) => {
          if (proposal.decisionId !== decisionId) return;
          await voter.vote(decisionId, 'for').then(() => resolve(), reject);
        });
      });
      const res = await fetch(`${stack.api.url}/api/v1/decisions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decisionId, swarmId: swarm, title: 'outage', system: 'basic', power: 'equal', quorum: { fraction: 1 }, votingPeriodMs: 60_000 }),
      });
      expect(res.status).toBe(201);
      await within(voted, 60_000, 'the ballot did not go out');
      const status = await within(
        stack.client.workflow.getHandle(decisionWorkflowId(decisionId)).result() as Promise<{ state: string; voters: number; tally: { ballots: number } }>,
        90_000,
        'the decision did not close',
      );
      expect(messaging.refused).toBe(3);
      expect(status.voters).toBe(1);
      expect(status.tally.ballots).toBe(1);
      expect(status.state).toBe('SUCCEEDED');
    } finally {
      await voter.close();
    }
  }, 120_000);

  it("gets every secure-aggregation stage's message to the manager once the broker is back", async () => {
    const swarm = uniqueId('secagg-outage');
    const jobId = uniqueId('secagg-outage-job');
    const updates = swarmTopics(swarm).updates(jobId);
    const unlucky = outageOn(stack.ports.messaging, updates, 3);
    const trainers = [0, 1, 2].map((i) => agentOf(stack.api.url, i === 0 ? unlucky : stack.ports.messaging, swarm, i, ['train']));
    try {
      for (const trainer of trainers) {
        await trainer.register();
        await trainer.participate(noopTrainer);
      }
      await stack.api.tuning.start({
        jobId,
        swarmId: swarm,
        model: { kind: 'vector', dimension: 16 },
        rounds: 1,
        fraction: 1,
        minParticipants: 3,
        roundTimeoutMs: 60_000,
        maxRoundAttempts: 1,
        strategy: 'fedavg',
        strategyOptions: {},
        training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
        evaluateEvery: 1,
        seed: 1,
        secureAggregation: { stageTimeoutMs: 20_000, clipRange: 4 },
      });
      const progress = await within(
        stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result() as Promise<TuningProgress>,
        150_000,
        'the job did not end',
      );
      expect(unlucky.refused).toBe(3);
      expect(progress.status).toBe('COMPLETED');
      expect(progress.recentRounds.map((round) => [round.attempts, round.accepted])).toEqual([[1, 3]]);
    } finally {
      await Promise.all(trainers.map((trainer) => trainer.close()));
    }
  }, 180_000);
});
