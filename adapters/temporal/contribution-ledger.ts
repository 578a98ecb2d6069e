// The contribution ledger as one reputationLedger workflow per swarm: a round is signalled with
// start (the first round of a swarm starts its ledger), the counts are its query.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AcceptedRoundUpdates } from '../../core/decisions/reputation';
import type { ContributionLedger } from '../ports';
import {
  REPUTATION_LEDGER_WORKFLOW,
  acceptedRoundSignal,
  contributionCountsQuery,
  reputationLedgerWorkflowId,
  type ReputationLedgerInput,
} from '../../workflows/definitions-reputation';

export class TemporalContributionLedger implements ContributionLedger {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async record(round: AcceptedRoundUpdates): Promise<void> {
    const input: ReputationLedgerInput = { swarmId: round.swarmId };
    await this.client.workflow.signalWithStart(REPUTATION_LEDGER_WORKFLOW, {
      workflowId: reputationLedgerWorkflowId(round.swarmId),
      taskQueue: this.taskQueue,
      args: [input],
      signal: acceptedRoundSignal,
      signalArgs: [round],
    });
  }

  async counts(swarmId: string): Promise<Record<string, number>> {
    try {
      return await this.client.workflow.getHandle(reputationLedgerWorkflowId(swarmId)).query(contributionCountsQuery);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return {}; // no round of this swarm was aggregated yet
      throw error;
    }
  }
}
