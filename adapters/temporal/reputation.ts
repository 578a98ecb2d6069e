// Reputation from Temporal: the swarm's task workflows whose TaskStatus is SUCCEEDED, counted per
// AgentId (the agent of the latest attempt) from visibility, plus the federated round updates of the
// swarm's tuning jobs that were accepted (the contribution ledger), as core/decisions/reputation.ts defines.
// With a half-life (QP_REPUTATION_HALF_LIFE_MS), each task counts from when it closed and each round
// from when it was recorded, halving every half-life since.
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { addScores, contributionReputation, decayedReputation, reputationFromTasks } from '../../core/decisions/reputation';
import { AgentIdKey } from '../../core/search-attributes';
import type { ContributionLedger, ReputationSource } from '../ports';
import { TASK_DELEGATION_WORKFLOW } from '../../workflows/definitions-tasks';
import { keywordAttribute, matchingExecutions } from './visibility';

export class TemporalTaskReputation implements ReputationSource {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    /** Accepted round updates; without it reputation is succeeded tasks only. */
    private readonly contributions?: ContributionLedger,
    /** Reputation half-life, ms; 0: no decay (every task and round counts 1 for ever). */
    private readonly halfLifeMs = 0,
  ) {}

  async scores(swarmId: string): Promise<Record<string, number>> {
    // Swarm ids are validated against ID_PATTERN before they reach a decision.
    return this.reputation(`WorkflowType = '${TASK_DELEGATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND TaskStatus = 'SUCCEEDED'`, swarmId);
  }

  async scoreOf(swarmId: string, agentId: string): Promise<number> {
    // Both ids are validated against ID_PATTERN before they reach here.
    const query = `WorkflowType = '${TASK_DELEGATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND TaskStatus = 'SUCCEEDED' AND AgentId = '${agentId}'`;
    if (this.halfLifeMs <= 0) {
      const tasks = (await this.client.workflow.count(query)).count;
      return tasks + (this.contributions ? ((await this.contributions.counts(swarmId))[agentId] ?? 0) : 0);
    }
    return (await this.reputation(query, swarmId))[agentId] ?? 0;
  }

  private async reputation(tasksQuery: string, swarmId: string): Promise<Record<string, number>> {
    const now = Date.now();
    const succeeded: Array<{ agentId: string; at: number }> = [];
    for await (const execution of matchingExecutions(this.client, this.namespace, tasksQuery)) {
      // A task SUCCEEDED counts from when its workflow closed (still open: from now).
      succeeded.push({ agentId: keywordAttribute(execution, AgentIdKey.name), at: optionalTsToMs(execution.closeTime) ?? now });
    }
    if (this.halfLifeMs <= 0) {
      const tasks = reputationFromTasks(succeeded.map((task) => task.agentId));
      return this.contributions ? addScores(tasks, await this.contributions.counts(swarmId)) : tasks;
    }
    const tasks = decayedReputation(succeeded, now, this.halfLifeMs);
    if (!this.contributions) return tasks;
    const [counts, scores] = await Promise.all([this.contributions.counts(swarmId), this.contributions.scores(swarmId)]);
    return addScores(tasks, contributionReputation(counts, scores, now, this.halfLifeMs));
  }
}
