// A swarm's governance settings behind GET/PUT /api/v1/governance/{swarmId}: its own proposal
// threshold, kept by the swarm's swarmGovernance workflow, or the manager's default.
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { effectiveProposalThreshold, type GovernanceChange, type SwarmGovernance } from '../core/decisions/governance';
import {
  SWARM_GOVERNANCE_WORKFLOW,
  governanceQuery,
  setGovernanceUpdate,
  swarmGovernanceWorkflowId,
  type SwarmGovernanceInput,
} from '../workflows/definitions-reputation';
import { temporalUnavailable } from './temporal-errors';

export interface GovernanceView {
  swarmId: string;
  /** The threshold that holds in the swarm. */
  proposalThreshold: number;
  /** Whether the swarm set it, or it is the manager's default (QP_DECISION_PROPOSAL_THRESHOLD). */
  source: 'swarm' | 'default';
  defaultProposalThreshold: number;
  /** When the swarm last changed a setting, ms since the epoch; absent if it never did. */
  updatedAt?: number;
}

export class GovernanceService {
  constructor(
    private readonly client: Client,
    private readonly options: { taskQueue: string; defaultProposalThreshold: number },
  ) {}

  async view(swarmId: string): Promise<GovernanceView> {
    return this.toView(swarmId, await this.settings(swarmId));
  }

  /** Sets (or, with null, returns to the default) the swarm's proposal threshold; starts its record when new. */
  async set(swarmId: string, change: GovernanceChange): Promise<GovernanceView> {
    const input: SwarmGovernanceInput = { swarmId };
    try {
      const settings = await this.client.workflow.executeUpdateWithStart(setGovernanceUpdate, {
        args: [change],
        startWorkflowOperation: new WithStartWorkflowOperation(SWARM_GOVERNANCE_WORKFLOW, {
          workflowId: swarmGovernanceWorkflowId(swarmId),
          taskQueue: this.options.taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
      return this.toView(swarmId, settings);
    } catch (error) {
      throw temporalUnavailable(error) ?? error;
    }
  }

  /** The threshold an agent of the swarm must reach to propose. */
  async proposalThreshold(swarmId: string): Promise<number> {
    return effectiveProposalThreshold(await this.settings(swarmId), this.options.defaultProposalThreshold).threshold;
  }

  private async settings(swarmId: string): Promise<SwarmGovernance | undefined> {
    try {
      return await this.client.workflow.getHandle(swarmGovernanceWorkflowId(swarmId)).query(governanceQuery);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined; // the swarm never changed a setting
      throw temporalUnavailable(error) ?? error;
    }
  }

  private toView(swarmId: string, settings: SwarmGovernance | undefined): GovernanceView {
    const { threshold, source } = effectiveProposalThreshold(settings, this.options.defaultProposalThreshold);
    return {
      swarmId,
      proposalThreshold: threshold,
      source,
      defaultProposalThreshold: this.options.defaultProposalThreshold,
      ...(settings ? { updatedAt: settings.updatedAt } : {}),
    };
  }
}
