// swarmGovernance (id governance-<swarmId>): a swarm's own governance settings
// (today its proposal threshold), changed by update and read by query. Runs as
// long as the swarm; continue-as-new keeps its history bounded.
import { allHandlersFinished, condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import { applyGovernanceChange, type SwarmGovernance } from '../core/decisions/governance';
import { governanceQuery, setGovernanceUpdate, type SwarmGovernanceInput } from './definitions-reputation';

/** Changes handled before continuing as new, besides the server's suggestion. */
const CHANGES_PER_RUN = 500;

export async function swarmGovernance(input: SwarmGovernanceInput): Promise<void> {
  let settings: SwarmGovernance | undefined = input.carry;
  let changes = 0;
  setHandler(governanceQuery, () => settings);
  setHandler(setGovernanceUpdate, (change) => {
    changes++;
    settings = applyGovernanceChange(input.swarmId, change, Date.now());
    return settings;
  });
  await condition(() => changes >= CHANGES_PER_RUN || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  await continueAsNew<typeof swarmGovernance>({ swarmId: input.swarmId, carry: settings });
}
