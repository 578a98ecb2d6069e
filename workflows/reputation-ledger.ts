// reputationLedger (id reputation-<swarmId>): counts, per agent, the federated round updates the
// swarm's tuning jobs accepted, for the "reputation" voting power and the proposal threshold.
// Signalled with start after each aggregated round (by the collecting activity; by the asynchronous
// job after each version it makes); a round recorded twice counts once. Runs as long as the swarm; continue-as-new keeps its history bounded.
import { allHandlersFinished, condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import { EMPTY_CONTRIBUTIONS, recordAcceptedRound, type ContributionCounts } from '../core/decisions/reputation';
import { acceptedRoundSignal, contributionCountsQuery, contributionScoresQuery, type ReputationLedgerInput } from './definitions-reputation';

export async function reputationLedger(input: ReputationLedgerInput): Promise<void> {
  const record: ContributionCounts = input.carry ?? { counts: { ...EMPTY_CONTRIBUTIONS.counts }, jobs: [] };
  setHandler(acceptedRoundSignal, (round) => {
    if (round.swarmId === input.swarmId) recordAcceptedRound(record, round);
  });
  setHandler(contributionCountsQuery, () => record.counts);
  setHandler(contributionScoresQuery, () => record.scores ?? {});
  await condition(() => workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  await continueAsNew<typeof reputationLedger>({ swarmId: input.swarmId, carry: record });
}
