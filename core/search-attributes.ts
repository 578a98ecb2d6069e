// Custom search attributes (registered from temporal-config/); listing agents
// is a visibility query on these.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const AgentIdKey = defineSearchAttributeKey('AgentId', SearchAttributeType.KEYWORD);
export const SwarmIdKey = defineSearchAttributeKey('SwarmId', SearchAttributeType.KEYWORD);
export const AgentStatusKey = defineSearchAttributeKey('AgentStatus', SearchAttributeType.KEYWORD);
export const JobIdKey = defineSearchAttributeKey('JobId', SearchAttributeType.KEYWORD);
/** Behavior sweeps: the sweep's report id, so GET /behaviors/reports/:id is one visibility query. */
export const SweepIdKey = defineSearchAttributeKey('SweepId', SearchAttributeType.KEYWORD);
/** Collaborative decisions: the decision's state, so GET /api/v1/decisions?state= is one visibility query. */
export const DecisionStateKey = defineSearchAttributeKey('DecisionState', SearchAttributeType.KEYWORD);
/** Registration sessions: when the session's status or resources last changed, so a roster refreshes only what changed. */
export const StandingChangedAtKey = defineSearchAttributeKey('StandingChangedAt', SearchAttributeType.DATETIME);
/** Delegated tasks: the task's status, so GET /api/v1/tasks?status= and the task gauges are visibility queries. */
export const TaskStatusKey = defineSearchAttributeKey('TaskStatus', SearchAttributeType.KEYWORD);
