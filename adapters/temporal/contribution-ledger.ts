// The contribution ledger as one reputationLedger workflow per swarm: a round is signalled with
// start (the first round of a swarm starts its ledger), the counts are its query.
import { WorkflowNotFoundError, type Client, type QueryDefinition } from '@temporalio/client';
import type { AcceptedRoundUpdates, DecayingScore } from '../../core/decisions/reputation';
import type { ContributionLedger } from '../ports';
import {
  REPUTATION_LEDGER_WORKFLOW,
  acceptedRoundSignal,
  contributionCountsQuery,
  contributionScoresQuery,
  reputationLedgerWorkflowId,
  type ReputationLedgerInput,
} from '../../workflows/definitions-reputation';

export class TemporalContributionLedger implements ContributionLedger {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** QP_REPUTATION_HALF_LIFE_MS, sent with each round so that the ledger's scores decay with it; 0: none. */
    private readonly halfLifeMs = 0,
  ) {}

  async record(round: AcceptedRoundUpdates): Promise<void> {
    const input: ReputationLedgerInput = { swarmId: round.swarmId };
    await this.client.workflow.signalWithStart(REPUTATION_LEDGER_WORKFLOW, {
      workflowId: reputationLedgerWorkflowId(round.swarmId),
      taskQueue: this.taskQueue,
      args: [input],
      signal: acceptedRoundSignal,
      signalArgs: [{ at: Date.now(), halfLifeMs: this.halfLifeMs, ...round }],
    });
  }

  async counts(swarmId: string): Promise<Record<string, number>> {
    return this.query(swarmId, contributionCountsQuery);
  }

  async scores(swarmId: string): Promise<Record<string, DecayingScore>> {
    return this.query(swarmId, contributionScoresQuery);
  }

  private async query<T>(swarmId: string, query: QueryDefinition<Record<string, T>>): Promise<Record<string, T>> {
    try {
      return await this.client.workflow.getHandle(reputationLedgerWorkflowId(swarmId)).query(query);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return {}; // no round of this swarm was aggregated yet
      throw error;
    }
  }
}
