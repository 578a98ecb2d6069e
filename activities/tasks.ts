// Task delegation activities: place a task (core/allocation over the swarm's
// candidates and the work already placed on them), dispatch it to the chosen
// agent's inbox (or, under Contract Net, announce it to the best candidates for
// their bids), and consume the swarm's task-results topic, handing each outcome
// and bid with a valid proof by its agent to the task's workflow.
import { Context } from '@temporalio/activity';
import { measurementsByAgent, withMeasurement } from '../core/analytics/measured';
import {
  CONTRACT_NET_INVITED,
  allocate,
  awardBid,
  bidProblem,
  durationS,
  incapability,
  overdueQueuedTasks,
  profileBid,
  type AllocationAgent,
  type AllocationDecision,
  type OverdueTask,
  type TaskBid,
} from '../core/allocation';
import {
  AssignedWork,
  taskResultsTopic,
  type TaskAnnouncementMessage,
  type TaskAssignmentMessage,
  type TaskBidMessage,
  type TaskDispatchedMessage,
  type TaskOutcomeMessage,
  type TaskSpec,
  type TaskWithdrawalMessage,
} from '../core/tasks';
import { swarmTopics } from '../core/topics';
import type {
  AgentKeyDirectory,
  AnalyticsWindowSource,
  AssignedTask,
  LpSolver,
  MessagingPort,
  ReceivedMessage,
  TaskAgentSource,
  TaskDirectory,
  TaskOutcomeSink,
} from '../adapters/ports';
import { MessageProofs } from './message-proofs';

export interface TaskDeps {
  messaging: MessagingPort;
  agents: TaskAgentSource;
  outcomes: TaskOutcomeSink;
  agentKeys: AgentKeyDirectory;
  credentialSecret: string;
  /** Exact placement for small candidate sets; the heuristic without it. */
  solver?: LpSolver;
  /** Where the rebalancing run finds the swarm's assigned tasks; without it, it finds none. */
  tasks?: TaskDirectory;
  assigned?: AssignedWork;
  /** The analytics' windows: placement plans with measured energy and straggler rates where recent ones exist. */
  measured?: AnalyticsWindowSource;
  /** Windows that ended longer ago than this are not used, ms; default MEASUREMENT_MAX_AGE_MS. */
  measuredMaxAgeMs?: number;
}

/** Default age past which an analytics window no longer stands for an agent, ms. */
export const MEASUREMENT_MAX_AGE_MS = 900_000;

export const TASK_RESULTS_SUBSCRIPTION = 'qp-manager-task-results';

export type Announcement = { invited: string[]; bidDeadlineMs: number; reason?: undefined } | { invited: []; reason: string };

export type Placement =
  | {
      agentId: string;
      expected: Pick<AllocationDecision, 'energyWh' | 'carbonG' | 'slackS'>;
      reason?: undefined;
      /** Contract Net: bids received. */
      bids?: number;
      /**
       * Central placement, a deferrable task the plan shifts into a later, lower-carbon window:
       * its planned start, ms since the epoch. Absent when it starts as soon as its agent is free.
       */
      startMs?: number;
    }
  | { agentId?: undefined; reason: string };

export function createTaskActivities(deps: TaskDeps) {
  const proofs = new MessageProofs(deps.agentKeys, deps.credentialSecret);
  const assigned = deps.assigned ?? new AssignedWork();
  const solve = deps.solver ? (lp: string) => deps.solver!.solve(lp) : undefined;

  /** An outcome or bid message's refusal reason, or the message. */
  async function readOutcome(swarmId: string, message: ReceivedMessage): Promise<TaskOutcomeMessage | TaskBidMessage | string> {
    const sender = await proofs.sender(swarmId, taskResultsTopic(swarmId), message);
    if (!sender.ok) return sender.reason;
    try {
      const body = JSON.parse(Buffer.from(message.payload).toString('utf8')) as TaskOutcomeMessage | TaskBidMessage;
      if ((body.type !== 'task-outcome' && body.type !== 'task-bid') || typeof body.taskId !== 'string' || !Number.isInteger(body.attempt)) return 'malformed';
      if (body.type === 'task-bid' && bidProblem(body, Date.now())) return 'malformed';
      return body.agentId === sender.agentId ? body : 'sender-mismatch';
    } catch {
      return 'malformed';
    }
  }

  const allocationTask = (spec: TaskSpec) => ({
    taskId: spec.taskId,
    requirements: spec.requirements,
    estimatedWork: spec.estimatedWork,
    deadlineMs: spec.deadlineMs,
    priority: spec.priority,
    deferrable: spec.deferrable,
  });

  /** The swarm's candidates as placement sees them: measured where the analytics have recent windows. */
  async function candidatesOf(swarmId: string, nowMs: number): Promise<AllocationAgent[]> {
    const declared = await deps.agents.candidates(swarmId);
    if (!deps.measured) return declared;
    const measured = measurementsByAgent(await deps.measured.latest(swarmId), nowMs, deps.measuredMaxAgeMs ?? MEASUREMENT_MAX_AGE_MS);
    return declared.map((agent) => withMeasurement(agent, measured.get(agent.agentId)));
  }

  return {
    async placeTask(input: { spec: TaskSpec; exclude: string[] }): Promise<Placement> {
      const { spec } = input;
      const nowMs = Date.now();
      const candidates = (await candidatesOf(spec.swarmId, nowMs))
        .filter((agent) => !input.exclude.includes(agent.agentId))
        .map((agent) => ({ ...agent, availableAtMs: nowMs + assigned.queuedS(spec.swarmId, agent.agentId) * 1000 }));
      if (candidates.length === 0) return { reason: 'no ACTIVE agent left to try' };
      const task = allocationTask(spec);
      const plan = await allocate([task], candidates, { objective: 'carbon', nowMs }, solve);
      const decision = plan.decisions[0];
      if (!decision) return { reason: plan.unassigned[0]?.reason ?? 'no-capable-agent' };
      const agent = candidates.find((a) => a.agentId === decision.agentId)!;
      assigned.assign(spec.swarmId, decision.agentId, spec.taskId, durationS(task, agent));
      const shifted = decision.startMs > agent.availableAtMs;
      return {
        agentId: decision.agentId,
        expected: { energyWh: decision.energyWh, carbonG: decision.carbonG, slackS: decision.slackS },
        ...(shifted ? { startMs: decision.startMs } : {}),
      };
    },

    /**
     * Contract Net: puts a call for bids in the inboxes of the CONTRACT_NET_INVITED
     * capable candidates the manager itself expects to cost least. Agents bid on the
     * swarm's task-results topic until bidDeadlineMs.
     */
    async announceTask(input: { spec: TaskSpec; attempt: number; exclude: string[]; bidWindowMs: number }): Promise<Announcement> {
      const { spec } = input;
      const nowMs = Date.now();
      const task = allocationTask(spec);
      const estimates: TaskBid[] = [];
      for (const agent of await candidatesOf(spec.swarmId, nowMs)) {
        if (input.exclude.includes(agent.agentId) || incapability(task, agent)) continue;
        const estimate = profileBid(task, agent, nowMs, nowMs + assigned.queuedS(spec.swarmId, agent.agentId) * 1000);
        if (estimate) estimates.push(estimate);
      }
      if (estimates.length === 0) return { invited: [], reason: 'no ACTIVE agent left that can run it' };
      const invited: string[] = [];
      for (let left = [...estimates]; left.length > 0 && invited.length < CONTRACT_NET_INVITED; ) {
        const best = awardBid(left, spec.deadlineMs)!;
        invited.push(best.agentId);
        left = left.filter((bid) => bid !== best);
      }
      const bidDeadlineMs = nowMs + input.bidWindowMs;
      const announcement: TaskAnnouncementMessage = {
        type: 'task-announcement',
        taskId: spec.taskId,
        attempt: input.attempt,
        swarmId: spec.swarmId,
        kind: spec.kind,
        requirements: spec.requirements,
        estimatedWork: spec.estimatedWork,
        deadlineMs: spec.deadlineMs,
        deferrable: spec.deferrable,
        bidDeadlineMs,
        replyTopic: taskResultsTopic(spec.swarmId),
      };
      const payload = Buffer.from(JSON.stringify(announcement));
      await Promise.all(
        invited.map((agentId) =>
          deps.messaging.publish(swarmTopics(spec.swarmId).inbox(agentId), payload, {
            key: spec.taskId,
            properties: { type: 'task-announcement', taskId: spec.taskId, attempt: String(input.attempt) },
          }),
        ),
      );
      return { invited, bidDeadlineMs };
    },

    /** Contract Net: the awarded agent's run goes into the ledger the central placement reads. */
    async reserveTask(input: { spec: TaskSpec; agentId: string }): Promise<void> {
      const agent = (await candidatesOf(input.spec.swarmId, Date.now())).find((a) => a.agentId === input.agentId);
      if (agent) assigned.assign(input.spec.swarmId, input.agentId, input.spec.taskId, durationS(allocationTask(input.spec), agent));
    },

    /**
     * Rebalancing: the swarm's tasks (at most `max`) that sit with an agent no
     * longer ACTIVE (LOST, deregistered, gone), to be moved before their attempt times out.
     */
    async strandedTasks(input: { swarmId: string; max: number }): Promise<{ stranded: AssignedTask[]; assigned: number }> {
      if (!deps.tasks) return { stranded: [], assigned: 0 };
      const [assignedTasks, active] = await Promise.all([deps.tasks.assigned(input.swarmId, input.max), deps.agents.candidates(input.swarmId)]);
      const activeIds = new Set(active.map((agent) => agent.agentId));
      return { stranded: assignedTasks.filter((task) => !activeIds.has(task.agentId)), assigned: assignedTasks.length };
    },

    /**
     * Rebalancing: those of the swarm's HELD tasks (at most `max` read) whose planned agent is no
     * longer ACTIVE, to be placed again while they can still move. Only they go into the history.
     * (`agentActive` is always false now; histories from before this carried every HELD task.)
     */
    async heldTasks(input: { swarmId: string; max: number }): Promise<{ held: Array<AssignedTask & { agentActive: boolean }> }> {
      if (!deps.tasks) return { held: [] };
      const [heldTasks, active] = await Promise.all([deps.tasks.held(input.swarmId, input.max), deps.agents.candidates(input.swarmId)]);
      const activeIds = new Set(active.map((agent) => agent.agentId));
      return { held: heldTasks.filter((task) => !activeIds.has(task.agentId)).map((task) => ({ ...task, agentActive: false })) };
    },

    /**
     * Rebalancing: ASSIGNED tasks (of at most `max` listed) queued behind an ACTIVE
     * agent's oldest task that runs more than graceMs past its expected finish, and that
     * would miss their deadline even if it ended now (core/allocation overdueQueuedTasks);
     * none when no other agent is ACTIVE to take them.
     */
    async overloadedTasks(input: { swarmId: string; max: number; graceMs: number }): Promise<{ overdue: OverdueTask[] }> {
      if (!deps.tasks) return { overdue: [] };
      const [assignedTasks, active] = await Promise.all([deps.tasks.assigned(input.swarmId, input.max), deps.agents.candidates(input.swarmId)]);
      const activeIds = new Set(active.map((agent) => agent.agentId));
      const inboxes = assignedTasks.flatMap((task) => (task.assignment && activeIds.has(task.agentId) ? [{ taskId: task.taskId, agentId: task.agentId, ...task.assignment }] : []));
      const overdue = overdueQueuedTasks(inboxes, Date.now(), input.graceMs);
      return { overdue: overdue.filter((task) => [...activeIds].some((agentId) => agentId !== task.agentId)) };
    },

    /** Rebalancing: tells each agent which attempts it should skip (they were moved away). */
    async withdrawTasks(input: { swarmId: string; tasks: Array<{ taskId: string; attempt: number; agentId: string; reason: string }> }): Promise<void> {
      await Promise.all(
        input.tasks.map((task) => {
          const message: TaskWithdrawalMessage = { type: 'task-withdrawn', taskId: task.taskId, attempt: task.attempt, reason: task.reason };
          return deps.messaging.publish(swarmTopics(input.swarmId).inbox(task.agentId), Buffer.from(JSON.stringify(message)), {
            key: task.taskId,
            properties: { type: 'task-withdrawn', taskId: task.taskId, attempt: String(task.attempt) },
          });
        }),
      );
    },

    async releaseTask(input: { swarmId: string; taskId: string; agentId: string }): Promise<void> {
      assigned.release(input.swarmId, input.agentId, input.taskId);
    },

    async dispatchTask(input: { spec: TaskSpec; attempt: number; agentId: string }): Promise<void> {
      const { spec } = input;
      const message: TaskAssignmentMessage = {
        type: 'task',
        taskId: spec.taskId,
        attempt: input.attempt,
        swarmId: spec.swarmId,
        kind: spec.kind,
        input: spec.input,
        deadlineMs: spec.deadlineMs,
        replyTopic: taskResultsTopic(spec.swarmId),
      };
      await deps.messaging.publish(swarmTopics(spec.swarmId).inbox(input.agentId), Buffer.from(JSON.stringify(message)), {
        key: spec.taskId,
        properties: { type: 'task', taskId: spec.taskId, attempt: String(input.attempt) },
      });
      // For the analytics (task latency and deadline misses per kind), which pair it with the agent's outcome.
      const dispatched: TaskDispatchedMessage = {
        type: 'task-dispatched',
        taskId: spec.taskId,
        attempt: input.attempt,
        kind: spec.kind,
        agentId: input.agentId,
        dispatchedAt: Date.now(),
        deadlineMs: spec.deadlineMs,
      };
      await deps.messaging.publish(swarmTopics(spec.swarmId).tasks, Buffer.from(JSON.stringify(dispatched)), {
        key: spec.taskId,
        properties: { type: 'task-dispatched', taskId: spec.taskId, attempt: String(input.attempt) },
      });
    },

    /**
     * Reads the swarm's task-results topic for one window. Each outcome is
     * acknowledged only after its workflow took it, so a crash redelivers it;
     * the workflow counts an outcome once per (taskId, attempt).
     */
    async collectTaskOutcomes(input: { swarmId: string; windowMs: number }): Promise<{ delivered: number; refused: number }> {
      const context = Context.current();
      const consumer = await deps.messaging.subscribe(taskResultsTopic(input.swarmId), TASK_RESULTS_SUBSCRIPTION, {
        type: 'shared',
        initialPosition: 'earliest',
      });
      let delivered = 0;
      let refused = 0;
      try {
        const until = Date.now() + input.windowMs;
        for (let left = input.windowMs; left > 0; left = until - Date.now()) {
          const message = await consumer.receive(Math.min(left, 1000));
          context.heartbeat({ delivered, refused });
          if (context.cancellationSignal.aborted) break;
          if (!message) continue;
          const outcome = await readOutcome(input.swarmId, message);
          if (typeof outcome === 'string') {
            refused++;
            context.log.warn('task outcome refused', { swarmId: input.swarmId, reason: outcome, agentId: message.properties.agentId });
          } else if ((await (outcome.type === 'task-bid' ? deps.outcomes.deliverBid(outcome) : deps.outcomes.deliver(outcome))) === 'delivered') {
            delivered++;
          }
          await consumer.ack(message);
        }
      } finally {
        await consumer.close();
      }
      return { delivered, refused };
    },
  };
}

export type TaskActivities = ReturnType<typeof createTaskActivities>;
