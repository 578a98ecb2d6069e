// Task delegation activities: place a task (core/allocation over the swarm's
// candidates and the work already placed on them), dispatch it to the chosen
// agent's inbox, and consume the swarm's task-results topic, handing each
// outcome with a valid proof by its agent to the task's workflow.
import { Context } from '@temporalio/activity';
import { allocate, durationS, type AllocationDecision } from '../core/allocation';
import { AssignedWork, taskResultsTopic, type TaskAssignmentMessage, type TaskOutcomeMessage, type TaskSpec } from '../core/tasks';
import { swarmTopics } from '../core/topics';
import type { AgentKeyDirectory, LpSolver, MessagingPort, ReceivedMessage, TaskAgentSource, TaskOutcomeSink } from '../adapters/ports';
import { MessageProofs } from './message-proofs';

export interface TaskDeps {
  messaging: MessagingPort;
  agents: TaskAgentSource;
  outcomes: TaskOutcomeSink;
  agentKeys: AgentKeyDirectory;
  credentialSecret: string;
  /** Exact placement for small candidate sets; the heuristic without it. */
  solver?: LpSolver;
  assigned?: AssignedWork;
}

export const TASK_RESULTS_SUBSCRIPTION = 'qp-manager-task-results';

export type Placement =
  | { agentId: string; expected: Pick<AllocationDecision, 'energyWh' | 'carbonG' | 'slackS'>; reason?: undefined }
  | { agentId?: undefined; reason: string };

export function createTaskActivities(deps: TaskDeps) {
  const proofs = new MessageProofs(deps.agentKeys, deps.credentialSecret);
  const assigned = deps.assigned ?? new AssignedWork();
  const solve = deps.solver ? (lp: string) => deps.solver!.solve(lp) : undefined;

  /** An outcome message's refusal reason, or the outcome. */
  async function readOutcome(swarmId: string, message: ReceivedMessage): Promise<TaskOutcomeMessage | string> {
    const sender = await proofs.sender(swarmId, taskResultsTopic(swarmId), message);
    if (!sender.ok) return sender.reason;
    try {
      const outcome = JSON.parse(Buffer.from(message.payload).toString('utf8')) as TaskOutcomeMessage;
      if (outcome.type !== 'task-outcome' || typeof outcome.taskId !== 'string' || !Number.isInteger(outcome.attempt)) return 'malformed';
      return outcome.agentId === sender.agentId ? outcome : 'sender-mismatch';
    } catch {
      return 'malformed';
    }
  }

  return {
    async placeTask(input: { spec: TaskSpec; exclude: string[] }): Promise<Placement> {
      const { spec } = input;
      const nowMs = Date.now();
      const candidates = (await deps.agents.candidates(spec.swarmId))
        .filter((agent) => !input.exclude.includes(agent.agentId))
        .map((agent) => ({ ...agent, availableAtMs: nowMs + assigned.queuedS(spec.swarmId, agent.agentId) * 1000 }));
      if (candidates.length === 0) return { reason: 'no ACTIVE agent left to try' };
      const task = {
        taskId: spec.taskId,
        requirements: spec.requirements,
        estimatedWork: spec.estimatedWork,
        deadlineMs: spec.deadlineMs,
        priority: spec.priority,
        deferrable: spec.deferrable,
      };
      const plan = await allocate([task], candidates, { objective: 'carbon', nowMs }, solve);
      const decision = plan.decisions[0];
      if (!decision) return { reason: plan.unassigned[0]?.reason ?? 'no-capable-agent' };
      const agent = candidates.find((a) => a.agentId === decision.agentId)!;
      assigned.assign(spec.swarmId, decision.agentId, spec.taskId, durationS(task, agent));
      return { agentId: decision.agentId, expected: { energyWh: decision.energyWh, carbonG: decision.carbonG, slackS: decision.slackS } };
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
          } else if ((await deps.outcomes.deliver(outcome)) === 'delivered') {
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
