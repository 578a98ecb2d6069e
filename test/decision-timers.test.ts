// A decision's voting delay, its two-day deadline and its action's timelock
// pass in well under a second on the time-skipping test server. Orchestration
// only: the activities are stand-ins that report a fixed count.
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import type { CountBallotsInput, CountBallotsResult, DecisionActivities, SettleBallotsInput, TaskActionInput } from '../activities/decisions';
import type { DecisionStatus } from '../core/decisions/status';
import { tally } from '../core/decisions/tally';
import type { DecisionSpec, OutcomeMessage, ProposalMessage } from '../core/decisions/types';
import { DECISION_WORKFLOW, decisionWorkflowId } from '../workflows/definitions';
import type { CollaborativeDecisionInput } from '../workflows/decision';
import { uniqueId } from './support/stack';
import { startTimeSkipping } from './support/time-skipping';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
const HOUR = 3_600_000;

describe('decision timers under time skipping', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await startTimeSkipping();
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: { JobId: KEYWORD, SwarmId: KEYWORD, DecisionState: KEYWORD },
    });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('a two-day vote opened after an hour closes at its deadline with the ballots counted, and the action waits its timelock', async () => {
    const taskQueue = uniqueId('ts');
    const batches: CountBallotsInput[] = [];
    const outcomes: OutcomeMessage[] = [];
    const settled: SettleBallotsInput[] = [];
    const actions: TaskActionInput[] = [];
    const counted = tally('basic', ['for', 'against', 'abstain'], [
      { agentId: 'a', choice: 'for', power: 1 },
      { agentId: 'b', choice: 'for', power: 1 },
    ]);
    const activities: Partial<DecisionActivities> = {
      async snapshotElectorate() {
        return { snapshotDigest: 'snapshot', voters: 5, totalPower: 5 };
      },
      async announceProposal(message: ProposalMessage) {
        return { closesAt: message.closesAt };
      },
      async countBallots(input): Promise<CountBallotsResult> {
        batches.push(input);
        const first = batches.length === 1;
        return {
          chunk: first ? 'chunk-1' : undefined,
          received: first ? 2 : 0,
          accepted: first ? 2 : 0,
          refusals: { counts: {}, recent: [] },
          tally: counted,
          voters: 2,
          remaining: { power: 3, sqrtPower: 3 },
          closesAt: input.closesAt,
          quorumReachedAt: first ? input.opensAt : input.quorumReachedAt,
        };
      },
      async publishOutcome(message) {
        outcomes.push(message);
      },
      async settleBallots(input) {
        settled.push(input);
        return { drained: 0 };
      },
      async runTaskAction(input) {
        actions.push(input);
        return { taskIds: ['t-0', 't-1'], failed: 0, failures: [] };
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! },
      activities,
      sinks: metricsSinks(createWorkerMetrics(new Registry())),
    });
    const decisionId = uniqueId('slow');
    const spec: DecisionSpec = {
      decisionId, swarmId: 'ts-swarm', title: 'slow', options: ['for', 'against', 'abstain'], system: 'basic', power: 'equal',
      votingDelayMs: HOUR, votingPeriodMs: 48 * HOUR, quorum: { fraction: 0.4 }, proposer: 'admin',
      // A task batch, started a day after the vote closed.
      action: { kind: 'tasks', spec: { digest: 'tasks-blob', tasks: 2 }, timelockMs: 24 * HOUR },
    };
    const input: CollaborativeDecisionInput = { spec, batching: { waitMs: 0, idleSleepMs: 6 * HOUR } };
    const wallStart = Date.now();
    const result: DecisionStatus = await worker.runUntil(
      env.client.workflow.execute(DECISION_WORKFLOW, { workflowId: decisionWorkflowId(decisionId), taskQueue, args: [input] }),
    );
    expect(Date.now() - wallStart).toBeLessThan(20_000);
    expect(result.opensAt - result.createdAt).toBeGreaterThanOrEqual(HOUR);
    expect(result.closedAt! - result.opensAt).toBeGreaterThanOrEqual(48 * HOUR);
    expect(result).toMatchObject({ state: 'EXECUTED', closedBy: 'deadline', voters: 2, ballotChunks: ['chunk-1'], outcome: { winner: 'for' } });
    expect(result.action).toMatchObject({ kind: 'tasks', status: 'started', taskIds: ['t-0', 't-1'] });
    expect(actions).toEqual([{ decisionId, digest: 'tasks-blob' }]);
    // The last batch is settled once, after the workflow recorded its chunk.
    expect(settled).toEqual([{ swarmId: 'ts-swarm', decisionId, chunks: ['chunk-1'] }]);
    expect(result.action!.runsAt! - result.closedAt!).toBeGreaterThanOrEqual(24 * HOUR);
    expect(outcomes).toEqual([expect.objectContaining({ decisionId, state: 'SUCCEEDED', closedBy: 'deadline' })]);
    // Idle batches are spaced by the idle sleep, not run back to back: a handful over two days.
    expect(batches.length).toBeLessThanOrEqual(48 / 6 + 2);
  });

  it('a rebalance whose run fails leaves the decision SUCCEEDED with the action failed, the run linked and the failure typed', async () => {
    const taskQueue = uniqueId('ts');
    const counted = tally('basic', ['for', 'against', 'abstain'], [{ agentId: 'a', choice: 'for', power: 1 }]);
    let listings = 0;
    const activities = {
      async snapshotElectorate() {
        return { snapshotDigest: 'snapshot', voters: 1, totalPower: 1 };
      },
      async announceProposal(message: ProposalMessage) {
        return { closesAt: message.closesAt };
      },
      async countBallots(input: CountBallotsInput): Promise<CountBallotsResult> {
        return {
          chunk: 'chunk-1', received: 1, accepted: 1, refusals: { counts: {}, recent: [] }, tally: counted, voters: 1,
          remaining: { power: 0, sqrtPower: 0 }, closesAt: input.closesAt, quorumReachedAt: input.opensAt,
        };
      },
      async publishOutcome() {},
      async settleBallots() {
        return { drained: 0 };
      },
      // What taskRebalance lists its tasks with: here the task directory is down for good.
      async strandedTasks(): Promise<never> {
        listings++;
        throw ApplicationFailure.nonRetryable('visibility did not answer', 'TASK_DIRECTORY_DOWN');
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! },
      activities,
      sinks: metricsSinks(createWorkerMetrics(new Registry())),
    });
    const decisionId = uniqueId('rebalance');
    const spec: DecisionSpec = {
      decisionId, swarmId: 'ts-swarm', title: 'rebalance', options: ['for', 'against', 'abstain'], system: 'basic', power: 'equal',
      votingDelayMs: 0, votingPeriodMs: HOUR, quorum: { fraction: 0.5 }, proposer: 'admin', action: { kind: 'rebalance', spec: {} },
    };
    const result: DecisionStatus = await worker.runUntil(
      env.client.workflow.execute(DECISION_WORKFLOW, { workflowId: decisionWorkflowId(decisionId), taskQueue, args: [{ spec } satisfies CollaborativeDecisionInput] }),
    );
    expect(result.state).toBe('SUCCEEDED');
    expect(result.action).toMatchObject({
      kind: 'rebalance',
      status: 'failed',
      workflowId: `task-rebalance-ts-swarm-decision-${decisionId}`,
      errorCode: 'TASK_DIRECTORY_DOWN',
      error: 'visibility did not answer',
    });
    expect(listings).toBe(1);
  });
});
