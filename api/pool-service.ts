// Agent pools: what the cluster runs, each pool's autoscaling policy and carbon
// input (its agentPool workflow), and the Schedule that autoscales it.
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import type { AutoscalingPolicy, CarbonInputRequest, PoolRecord, ScalingDecision } from '../core/autoscaling';
import { newPoolRecord, poolSummary, type PoolSummary } from '../core/autoscaling/pool';
import { DomainError } from '../core/errors';
import { temporalUnavailable } from './temporal-errors';
import { queryString } from '../adapters/temporal/visibility';
import type { AgentPool, ClusterPort } from '../adapters/ports';
import {
  AGENT_POOL_WORKFLOW,
  AUTOSCALE_POOL_WORKFLOW,
  POOL_SUMMARY_MEMO,
  agentPoolWorkflowId,
  autoscaleScheduleId,
  poolRecordQuery,
  setPoolCarbonUpdate,
  setPoolPolicyUpdate,
} from '../workflows/definitions';

export interface PoolView {
  name: string;
  /** undefined when the cluster runs no such pool yet. */
  replicas?: { desired: number; ready: number };
  labels: Record<string, string>;
  autoscaling?: {
    policy: AutoscalingPolicy;
    backlogTopic?: string;
    carbon?: PoolRecord['carbon'];
    energyUsedWh: number;
    decisions: ScalingDecision[];
  };
}

export class PoolService {
  constructor(
    private readonly client: Client,
    private readonly cluster: ClusterPort,
    private readonly taskQueue: string,
    private readonly intervalSeconds: number,
  ) {}

  /**
   * Every pool the cluster runs or that has a record. Records come from visibility (the summary each
   * pool's workflow keeps in its memo), so the listing asks no worker anything: a pool whose workflow
   * has published no summary yet is listed without it, and GET /pools/:name reads the record itself.
   */
  async list(): Promise<PoolView[]> {
    const pools = await this.cluster.listPools();
    const summaries = new Map<string, PoolSummary | undefined>(pools.map((p) => [p.name, undefined]));
    for await (const execution of this.client.workflow.list({
      query: `WorkflowType = '${AGENT_POOL_WORKFLOW}' AND ExecutionStatus = 'Running'`,
    })) {
      summaries.set(execution.workflowId.replace(/^pool-/, ''), execution.memo?.[POOL_SUMMARY_MEMO] as PoolSummary | undefined);
    }
    return [...summaries.keys()].sort().map((name) =>
      toView(
        name,
        pools.find((p) => p.name === name),
        summaries.get(name),
      ),
    );
  }

  /**
   * The policy and carbon input of every pool of this task queue whose policy has an energy budget,
   * from the summaries in visibility (no worker asked).
   */
  async budgetedPools(): Promise<Array<Pick<PoolSummary, 'policy' | 'carbon'>>> {
    const pools: Array<Pick<PoolSummary, 'policy' | 'carbon'>> = [];
    for await (const execution of this.client.workflow.list({
      query: `WorkflowType = '${AGENT_POOL_WORKFLOW}' AND ExecutionStatus = 'Running' AND TaskQueue = ${queryString(this.taskQueue)}`,
    })) {
      const summary = execution.memo?.[POOL_SUMMARY_MEMO] as PoolSummary | undefined;
      if (summary?.policy?.energy) pools.push({ policy: summary.policy, carbon: summary.carbon });
    }
    return pools;
  }

  async get(name: string): Promise<PoolView> {
    const [pool, record] = await Promise.all([this.cluster.getPool(name), this.record(name)]);
    if (!pool && !record) throw new DomainError('NOT_FOUND', `no pool ${name}`, { pool: name });
    return toView(name, pool, record && poolSummary(record));
  }

  /** Sets the policy (creating the pool's record and its Schedule when new); the Schedule applies it. */
  async setPolicy(name: string, policy: AutoscalingPolicy, backlogTopic?: string): Promise<PoolView> {
    const handle = await this.client.workflow.start(AGENT_POOL_WORKFLOW, {
      workflowId: agentPoolWorkflowId(name),
      taskQueue: this.taskQueue,
      args: [{ record: newPoolRecord(name, policy, Date.now(), backlogTopic) }],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    const record = await handle.executeUpdate(setPoolPolicyUpdate, { args: [{ policy, backlogTopic }] });
    await this.ensureSchedule(name);
    return toView(name, await this.cluster.getPool(name), poolSummary(record));
  }

  async setCarbon(name: string, input: CarbonInputRequest): Promise<PoolView> {
    if (!(await this.record(name))) throw new DomainError('NOT_FOUND', `pool ${name} has no autoscaling policy`, { pool: name });
    const record = await this.client.workflow.getHandle(agentPoolWorkflowId(name)).executeUpdate(setPoolCarbonUpdate, {
      args: [
        {
          intensity: input.intensity,
          at: Date.now(),
          forecast: input.forecast.map((p) => ({ at: typeof p.at === 'number' ? p.at : Date.parse(p.at), intensity: p.intensity })),
        },
      ],
    });
    return toView(name, await this.cluster.getPool(name), poolSummary(record));
  }

  private async ensureSchedule(name: string): Promise<void> {
    try {
      await this.client.schedule.create({
        scheduleId: autoscaleScheduleId(name),
        spec: { intervals: [{ every: `${this.intervalSeconds}s` }] },
        action: {
          type: 'startWorkflow',
          workflowType: AUTOSCALE_POOL_WORKFLOW,
          workflowId: autoscaleScheduleId(name),
          taskQueue: this.taskQueue,
          args: [{ pool: name }],
          workflowExecutionTimeout: '5 minutes',
        },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      });
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    }
  }

  private async record(name: string): Promise<PoolRecord | undefined> {
    try {
      return await this.client.workflow.getHandle(agentPoolWorkflowId(name)).query(poolRecordQuery);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw temporalUnavailable(error) ?? error;
    }
  }
}

function toView(name: string, pool: AgentPool | undefined, summary: PoolSummary | undefined): PoolView {
  return {
    name,
    replicas: pool && { desired: pool.desired, ready: pool.ready },
    labels: pool?.labels ?? {},
    autoscaling: summary && {
      policy: summary.policy,
      backlogTopic: summary.backlogTopic,
      carbon: summary.carbon,
      energyUsedWh: summary.energyUsedWh,
      decisions: summary.decisions,
    },
  };
}
