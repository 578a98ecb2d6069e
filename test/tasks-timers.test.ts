// Task deadlines measured in hours pass in milliseconds on the time-skipping test server.
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { TaskActivities } from '../activities/tasks';
import type { TaskState } from '../core/tasks';
import { HELD_REPLAN_INTERVAL_MS, TASK_DELEGATION_WORKFLOW, taskWorkflowId, type TaskDelegationInput } from '../workflows/definitions-tasks';
import { uniqueId } from './support/stack';
import { startTimeSkipping } from './support/time-skipping';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

const HOUR = 3_600_000;

describe('task attempt timeouts under time skipping', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await startTimeSkipping();
    // The task workflow keeps its status and agent in visibility.
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: { AgentId: KEYWORD, TaskStatus: KEYWORD },
    });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('three agents silent for two hours each: the task is reallocated twice and FAILS after six hours, in seconds', async () => {
    const taskQueue = uniqueId('tts');
    const dispatched: string[] = [];
    const released: string[] = [];
    let next = 0;
    // Orchestration only: the activities are stand-ins that record what the workflow asked for.
    const activities: Partial<TaskActivities> = {
      async placeTask({ exclude }) {
        const agentId = `agent-${next++}`;
        expect(exclude).toHaveLength(next - 1);
        return { agentId, expected: { energyWh: 1, carbonG: 0.4, slackS: 100 } };
      },
      async dispatchTask({ agentId }) {
        dispatched.push(agentId);
      },
      async releaseTask({ agentId }) {
        released.push(agentId);
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! },
      activities,
      sinks: metricsSinks(createWorkerMetrics(new Registry())),
    });
    const taskId = uniqueId('late');
    const input: TaskDelegationInput = {
      spec: { taskId, swarmId: 'timers', kind: 'k', input: null, requirements: {}, estimatedWork: 10, deadlineMs: Date.now() + 8 * HOUR },
      maxAttempts: 3,
      attemptTimeoutMs: 2 * HOUR,
      submittedAt: new Date().toISOString(),
    };
    const started = Date.now();
    const state = (await worker.runUntil(
      env.client.workflow.execute(TASK_DELEGATION_WORKFLOW, { taskQueue, workflowId: taskWorkflowId(taskId), args: [input] }),
    )) as TaskState;
    expect(state.status).toBe('FAILED');
    expect(state.attempts.map((a) => a.outcome)).toEqual(['timed-out', 'timed-out', 'timed-out']);
    expect(state.failureReason).toBe(`3 attempts: last attempt 3 on agent-2: timed-out (no answer within ${2 * HOUR} ms)`);
    expect(Date.parse(state.finishedAt!) - Date.parse(state.attempts[0].assignedAt)).toBeGreaterThanOrEqual(6 * HOUR);
    expect(dispatched).toEqual(['agent-0', 'agent-1', 'agent-2']);
    expect(released).toEqual(['agent-0', 'agent-1', 'agent-2']);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('a deferrable task planned hours ahead is HELD, places itself again every ten minutes, and goes to its agent at the planned start', async () => {
    const taskQueue = uniqueId('tts-held');
    const dispatched: Array<{ agentId: string; atMs: number }> = [];
    const released: string[] = [];
    const placements: number[] = [];
    let plannedStartMs = 0;
    // The server's clock skips: the stand-ins read it from the server.
    const serverNow = (): Promise<number> => env.currentTimeMs();
    const activities: Partial<TaskActivities> = {
      async placeTask() {
        const nowMs = await serverNow();
        placements.push(nowMs);
        // First plan: agent-a in three hours. Every later one: agent-b, 65 minutes after the first re-plan.
        if (placements.length === 1) return { agentId: 'agent-a', expected: { energyWh: 1, carbonG: 0.05, slackS: 100 }, startMs: nowMs + 3 * HOUR };
        if (placements.length === 2) plannedStartMs = nowMs + 65 * 60_000;
        return { agentId: 'agent-b', expected: { energyWh: 1, carbonG: 0.02, slackS: 100 }, startMs: plannedStartMs };
      },
      async dispatchTask({ agentId }) {
        dispatched.push({ agentId, atMs: await serverNow() });
      },
      async releaseTask({ agentId }) {
        released.push(agentId);
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! },
      activities,
      sinks: metricsSinks(createWorkerMetrics(new Registry())),
    });
    const taskId = uniqueId('held');
    const input: TaskDelegationInput = {
      spec: { taskId, swarmId: 'timers', kind: 'k', input: null, requirements: {}, estimatedWork: 10, deadlineMs: Date.now() + 8 * HOUR, deferrable: true },
      maxAttempts: 1,
      attemptTimeoutMs: 60_000,
      submittedAt: new Date().toISOString(),
    };
    const state = (await worker.runUntil(
      env.client.workflow.execute(TASK_DELEGATION_WORKFLOW, { taskQueue, workflowId: taskWorkflowId(taskId), args: [input] }),
    )) as TaskState;
    // One attempt, on the agent of the last plan, dispatched at its planned start and not before.
    expect(state.attempts.map((a) => a.agentId)).toEqual(['agent-b']);
    expect(dispatched.map((d) => d.agentId)).toEqual(['agent-b']);
    expect(dispatched[0].atMs).toBeGreaterThanOrEqual(plannedStartMs - 1_000);
    expect(Date.parse(state.attempts[0].assignedAt)).toBeGreaterThanOrEqual(plannedStartMs - 1_000);
    // Re-plans every ten minutes until the planned start is closer than that: at 10, 20, ... 70 minutes.
    const expectedReplans = Math.floor((plannedStartMs - placements[0]) / HELD_REPLAN_INTERVAL_MS);
    expect(state.replans).toBe(expectedReplans);
    expect(placements).toHaveLength(expectedReplans + 1);
    for (let i = 1; i < placements.length; i++) expect(placements[i] - placements[i - 1]).toBeGreaterThanOrEqual(HELD_REPLAN_INTERVAL_MS - 1_000);
    // Every plan's reservation is given back before the next placement; the last one when the attempt ends.
    expect(released).toEqual([...Array(expectedReplans).fill(0).map((_, i) => (i === 0 ? 'agent-a' : 'agent-b')), 'agent-b']);
    expect(state.heldUntil).toBeUndefined();
    expect(state.status).toBe('FAILED');
  });
});
