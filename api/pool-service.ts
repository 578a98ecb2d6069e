// Agent pools: what the cluster runs, each pool's autoscaling policy and carbon
// input (its agentPool workflow), and the Schedule that autoscales it.
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import type { AutoscalingPolicy, CarbonInputRequest, PoolRecord, ScalingDecision } from '../core/autoscaling';
import { newPoolRecord } from '../core/autoscaling/pool';
import { DomainError } from '../core/errors';
import { temporalUnavailable } from './temporal-errors';
import type { AgentPool, ClusterPort } from '../adapters/ports';
import {
  AGENT_POOL_WORKFLOW,
  AUTOSCALE_POOL_WORKFLOW,
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

  async list(): Promise<PoolView[]> {
    const pools = await this.cluster.listPools();
    const names = new Set(pools.map((p) => p.name));
    for await (const execution of this.client.workflow.list({
      query: `WorkflowType = '${AGENT_POOL_WORKFLOW}' AND ExecutionStatus = 'Running'`,
    })) {
      names.add(execution.workflowId.replace(/^pool-/, ''));
    }
    // One pool whose record cannot be read (its worker busy or gone) does not fail the listing:
    // it is listed without its autoscaling record, and GET /pools/:name reports the error.
    const views = await Promise.all(
      [...names].sort().map(async (name) => {
        const pool = pools.find((p) => p.name === name);
        const record = await this.record(name).catch(() => undefined);
        return toView(name, pool, record);
      }),
    );
    return views;
  }

  async get(name: string): Promise<PoolView> {
    const [pool, record] = await Promise.all([this.cluster.getPool(name), this.record(name)]);
    if (!pool && !record) throw new DomainError('NOT_FOUND', `no pool ${name}`, { pool: name });
    return toView(name, pool, record);
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
    return toView(name, await this.cluster.getPool(name), record);
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
    return toView(name, await this.cluster.getPool(name), record);
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

function toView(name: string, pool: AgentPool | undefined, record: PoolRecord | undefined): PoolView {
  return {
    name,
    replicas: pool && { desired: pool.desired, ready: pool.ready },
    labels: pool?.labels ?? {},
    autoscaling: record && {
      policy: record.policy,
      backlogTopic: record.backlogTopic,
      carbon: record.carbon,
      energyUsedWh: Math.round(record.energy.usedWh * 1000) / 1000,
      decisions: record.decisions,
    },
  };
}
