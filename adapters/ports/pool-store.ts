// Where each autoscaled pool's durable record lives (Temporal: the pool's agentPool workflow).
import type { EnergyAccount, PoolRecord, ScalingDecision, ScalingState } from '../../core/autoscaling';

export interface PoolStore {
  /** The pool's record, or undefined when the pool is not autoscaled. */
  get(pool: string): Promise<PoolRecord | undefined>;
  /** Appends a decision and stores the policy history and energy account it left. */
  record(pool: string, entry: { decision: ScalingDecision; scaling: ScalingState; energy: EnergyAccount }): Promise<PoolRecord>;
}
