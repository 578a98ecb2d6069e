// Recorded histories must replay on the current workflow code: a change that
// breaks them would break every running agent session on deploy.
// Re-record with `npx tsx test/support/record-histories.ts` only for an intended, patched change.
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const histories = ['registerAgent', 'livenessMonitor', 'federatedTuning'];
// Recorded by test/support/record-behavior-history.ts.
histories.push('behaviorSweep');
// Recorded by test/support/record-task-history.ts: a decline, a reallocation, progress and a result.
histories.push('taskDelegation');
// The same script (--name taskDelegationIndexed) once the task kept its status in visibility.
histories.push('taskDelegationIndexed');
// The same script (--name taskDelegationContractNet --contract-net): announce, bids, award, a decline and a second call.
histories.push('taskDelegationContractNet');
// The same script (--name taskDelegationHeld --deferrable): HELD for a low-carbon window, dispatched at it, declined, reallocated.
histories.push('taskDelegationHeld');
// The same script (--name taskDelegationLocal) once placement, dispatch and release ran as local activities and the open attempt's plan went into the memo.
histories.push('taskDelegationLocal');
// Recorded by test/support/record-decision-history.ts.
histories.push('collaborativeDecision');
// Recorded by test/support/record-decision-action-history.ts: a task-batch action and a rebalance action, each last batch
// settled, and a decision cancelled while ACTIVE (the cancel answers once it is CANCELLED).
histories.push('collaborativeDecisionTasks', 'collaborativeDecisionRebalance', 'collaborativeDecisionCancelled');
// The same recorder (--as collaborativeDecisionAnnounced) once the voting period counted from the announcement.
histories.push('collaborativeDecisionAnnounced');
// Recorded by test/support/record-reputation-history.ts: three aggregated rounds and one signalled twice.
histories.push('reputationLedger');
// The same script (--name reputationLedgerScores) once rounds carried their time and the ledger kept decaying scores.
histories.push('reputationLedgerScores');
// Recorded by test/support/record-pool-history.ts.
histories.push('agentPool', 'autoscalePool');
// Recorded by the same script (--names agentPoolSummary,autoscalePoolSummary) once the pool kept its summary in its memo.
histories.push('agentPoolSummary', 'autoscalePoolSummary');
// Recorded by the same script (--deadline --names agentPoolDeadline,autoscalePoolDeadline): a policy with a deadline,
// runs reading the oldest message's age and planning on a forecast.
histories.push('agentPoolDeadline', 'autoscalePoolDeadline');
// Recorded by test/support/record-async-history.ts: a pause, a resume and a stale update refused.
histories.push('asyncTuning');
// Recorded by test/support/record-histories.ts --tuning-as federatedTuningDeferredAcks once collections deferred their acknowledgements.
histories.push('federatedTuningDeferredAcks');
// Recorded by test/support/record-async-history.ts --name asyncTuningReputation once each version's accepted updates counted toward reputation.
histories.push('asyncTuningReputation');
// Recorded by test/support/record-async-history.ts --after-finish --as asyncTuningAfterFinish: an update after the last
// version, drained and refused as after-finish before the topic goes.
histories.push('asyncTuningAfterFinish');
// Recorded by test/support/record-governance-history.ts: a swarm's threshold set, set again, raised, and returned to the default.
histories.push('swarmGovernance');
// Recorded by test/support/record-async-history.ts --cancel --as asyncTuningCancelled: a job cancelled while paused with an
// update left on its topic, drained and refused as after-finish before the topic goes.
histories.push('asyncTuningCancelled');
// Recorded by test/support/record-secure-late-history.ts: a secure-aggregation job's last round, its late key
// advertisement drained and counted late before the topic goes.
histories.push('federatedTuningSecureLate');
// Recorded by test/support/record-histories.ts --tuning-as federatedTuningParticipantsByDigest once the round's participant list
// stayed in the blob store (the history carries its digest).
histories.push('federatedTuningParticipantsByDigest');

// Recorded by test/support/record-pool-history.ts --retried --names agentPoolRetried,autoscalePoolRetried once decisions carried
// their run's id: the last decision recorded again (a retried recordScaling) and kept once.
histories.push('agentPoolRetried', 'autoscalePoolRetried');
describe('replay of recorded histories', () => {
  it('the recorded tuning job by digest selects, starts and collects with digests, never the participant list', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'federatedTuningParticipantsByDigest.json'), 'utf8'));
    const activities = json.events
      .map((e: { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }) => e.activityTaskScheduledEventAttributes?.activityType.name)
      .filter(Boolean);
    expect(activities).toEqual(expect.arrayContaining(['selectAndStoreParticipants', 'startRoundByDigest', 'collectAndAggregateByDigest']));
    expect(activities).not.toEqual(expect.arrayContaining(['selectParticipants']));
    expect(activities).not.toEqual(expect.arrayContaining(['startRound']));
    expect(activities).not.toEqual(expect.arrayContaining(['collectAndAggregate']));
  });

  it.each(histories)('%s replays without non-determinism', async (name) => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', `${name}.json`), 'utf8'));
    const history = historyFromJSON(json);
    expect(history.events?.length).toBeGreaterThan(10);
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! } },
      history,
      `${name}-recorded`,
    );
  });

  it('the recorded decision covers a forged ballot refused, a late quorum, the outcome and a tuning job started', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'collaborativeDecision.json'), 'utf8'));
    const text = JSON.stringify(json);
    for (const marker of ['snapshotElectorate', 'countBallots', 'publishOutcome', 'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED']) {
      expect(text).toContain(marker);
    }
    const completed = json.events.find((e: { eventType: string }) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const result = JSON.parse(Buffer.from(completed.workflowExecutionCompletedEventAttributes.result.payloads[0].data, 'base64').toString());
    expect(result).toMatchObject({ state: 'EXECUTED', refusals: { counts: { forged: 1 } }, action: { kind: 'tuning', status: 'started' } });
    expect(result.quorumReachedAt).toBeGreaterThan(0);
  });

  it('the recorded decision actions settle their last ballot batch, start a task batch and run a rebalance', () => {
    const result = (name: string) => {
      const json = JSON.parse(readFileSync(join(__dirname, 'histories', `${name}.json`), 'utf8'));
      const text = JSON.stringify(json);
      expect(text).toContain('settleBallots');
      const completed = json.events.find((e: { eventType: string }) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
      return { text, status: JSON.parse(Buffer.from(completed.workflowExecutionCompletedEventAttributes.result.payloads[0].data, 'base64').toString()) };
    };
    const tasks = result('collaborativeDecisionTasks');
    expect(tasks.text).toContain('runTaskAction');
    expect(tasks.status).toMatchObject({ state: 'EXECUTED', action: { kind: 'tasks', status: 'started' } });
    expect(tasks.status.action.taskIds).toHaveLength(2);
    const rebalance = result('collaborativeDecisionRebalance');
    expect(rebalance.text).toContain('EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED');
    expect(rebalance.status).toMatchObject({ state: 'EXECUTED', action: { kind: 'rebalance', status: 'started', taskIds: [] } });
    const cancelled = result('collaborativeDecisionCancelled');
    expect(cancelled.text).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED');
    expect(cancelled.status).toMatchObject({ state: 'CANCELLED', closedBy: 'cancel', voters: 1, cancelReason: 'superseded' });
  });

  it('the asynchronous job recorded since the reputation patch records each version it makes in the reputation ledger', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'asyncTuningReputation.json'), 'utf8'));
    const scheduled = (name: string) =>
      json.events.filter((e: any) => e.activityTaskScheduledEventAttributes?.activityType.name === name).length;
    expect(scheduled('aggregateBuffer')).toBe(4);
    expect(scheduled('recordAcceptedVersion')).toBe(4);
  });

  it('the reputation ledger recorded since decay takes rounds with their time and half-life', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'reputationLedgerScores.json'), 'utf8'));
    const rounds = json.events
      .filter((e: any) => e.workflowExecutionSignaledEventAttributes?.signalName === 'acceptedRound')
      .map((e: any) => JSON.parse(Buffer.from(e.workflowExecutionSignaledEventAttributes.input.payloads[0].data, 'base64').toString()));
    expect(rounds.length).toBeGreaterThanOrEqual(4);
    for (const round of rounds) expect(round).toMatchObject({ at: expect.any(Number), halfLifeMs: 0 });
  });

  it('the task recorded since the status patch indexes each status it takes', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'taskDelegationIndexed.json'), 'utf8'));
    const statuses = json.events
      .filter((e: any) => e.eventType === 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES' && e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes.indexedFields.TaskStatus)
      .map((e: any) => Buffer.from(e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes.indexedFields.TaskStatus.data, 'base64').toString());
    expect(statuses).toEqual(['"ASSIGNED"', '"ASSIGNED"', '"SUCCEEDED"']);
  });

  it('the deferrable task recorded since held dispatch waits HELD for its window before it goes to the agent', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'taskDelegationHeld.json'), 'utf8'));
    const statuses = json.events
      .filter((e: any) => e.eventType === 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES' && e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes.indexedFields.TaskStatus)
      .map((e: any) => Buffer.from(e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes.indexedFields.TaskStatus.data, 'base64').toString());
    expect(statuses).toEqual(['"HELD"', '"ASSIGNED"', '"ASSIGNED"', '"SUCCEEDED"']);
  });

  it('the task recorded since local activities is placed, dispatched and released without a single activity task', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'taskDelegationLocal.json'), 'utf8'));
    const types = json.events.map((e: any) => e.eventType);
    expect(types).not.toContain('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED');
    const localSteps = json.events
      .filter((e: any) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e: any) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes.details.data.payloads[0].data, 'base64').toString()).activity_type);
    // Placed on the declining agent, dispatched, released; placed again, dispatched, released.
    expect(localSteps).toEqual(['placeTask', 'dispatchTask', 'releaseTask', 'placeTask', 'dispatchTask', 'releaseTask']);
  });

  it('the Contract Net task announces twice (the first winner declines), takes bids as signals and reserves each award', () => {
    const text = readFileSync(join(__dirname, 'histories', 'taskDelegationContractNet.json'), 'utf8');
    const json = JSON.parse(text);
    const activities = json.events
      .filter((e: any) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED')
      .map((e: any) => e.activityTaskScheduledEventAttributes.activityType.name);
    expect(activities.filter((a: string) => a === 'announceTask')).toHaveLength(2);
    expect(activities.filter((a: string) => a === 'reserveTask')).toHaveLength(2);
    expect(json.events.filter((e: any) => e.workflowExecutionSignaledEventAttributes?.signalName === 'taskBid').length).toBeGreaterThanOrEqual(2);
  });

  it("the pool recorded since the summary memo patch upserts its memo on start and on every update", () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'agentPoolSummary.json'), 'utf8'));
    const types: string[] = json.events.map((e: { eventType: string }) => e.eventType);
    expect(types).toContain('EVENT_TYPE_MARKER_RECORDED');
    const updates = types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED').length;
    expect(updates).toBeGreaterThan(2);
    expect(types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED').length).toBe(updates + 1);
  });

  it("the recorded pool covers a policy, a carbon input and its Schedule's decisions, and a run observes, scales and records", () => {
    const pool = readFileSync(join(__dirname, 'histories', 'agentPool.json'), 'utf8');
    for (const marker of ['setPoolPolicy', 'setPoolCarbon', 'recordScaling']) expect(pool).toContain(marker);
    const run = readFileSync(join(__dirname, 'histories', 'autoscalePool.json'), 'utf8');
    for (const marker of ['loadPool', 'observePool', 'applyReplicas', 'recordScaling']) expect(run).toContain(marker);
  });

  it('the pool recorded since decision ids takes its last decision twice and upserts its memo for the first only', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'agentPoolRetried.json'), 'utf8'));
    const recorded: string[] = json.events
      .filter((e: { eventType: string }) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED')
      .map((e: any) => e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input)
      .filter((input: any) => input.name === 'recordScaling')
      .map((input: any) => JSON.parse(Buffer.from(input.args.payloads[0].data, 'base64').toString('utf8')).decision.id);
    expect(recorded.length).toBeGreaterThan(2);
    expect(recorded.every((id) => typeof id === 'string')).toBe(true);
    expect(recorded.at(-1)).toBe(recorded.at(-2));
    const types: string[] = json.events.map((e: { eventType: string }) => e.eventType);
    const updates = types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED').length;
    // The memo on start and on every update but the repeated decision.
    expect(types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED').length).toBe(updates);
  });

  it('the recorded session covers the handshake, LOST, ACTIVE again, re-registration and deregistration', () => {
    const text = readFileSync(join(__dirname, 'histories', 'registerAgent.json'), 'utf8');
    for (const marker of ['respondToChallenge', 'livenessChanged', 'reRegister', 'deregister']) {
      expect(text).toContain(marker);
    }
  });

  it('the tuning job recorded since the deferred acknowledgements passes each collection the ids of the one before', () => {
    const json = JSON.parse(readFileSync(join(__dirname, 'histories', 'federatedTuningDeferredAcks.json'), 'utf8'));
    const collections = json.events
      .filter((e: any) => e.activityTaskScheduledEventAttributes?.activityType.name === 'collectAndAggregate')
      .map((e: any) => JSON.parse(Buffer.from(e.activityTaskScheduledEventAttributes.input.payloads[0].data, 'base64').toString()));
    expect(collections.length).toBeGreaterThanOrEqual(3);
    expect(collections.every((c: { deferAcks?: boolean }) => c.deferAcks === true)).toBe(true);
    expect(collections[0].settled).toBeUndefined();
    expect(collections.slice(1).every((c: { settled?: string }) => typeof c.settled === 'string')).toBe(true);
  });
});
