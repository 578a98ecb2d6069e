// What workflows report to the worker's metrics through a Temporal sink: plain
// values, never recorded in history and never replayed (see activities/metrics.ts).

export type RoundOutcome = 'completed' | 'quorum_not_met' | 'too_few_agents';

export interface RoundObservation {
  swarmId: string;
  strategy: string;
  outcome: RoundOutcome;
  /** From the round's first selection to its end, in seconds. */
  durationSeconds: number;
  participants: number;
  /** Test accuracy of the new global model (0..1), when the round evaluated it. */
  accuracy?: number;
  /** Cumulative central-DP epsilon after the round, when privacy is on. */
  epsilon?: number;
}

export interface SweepObservation {
  swarmId: string;
  /** From the sweep's start to its report, in seconds. */
  durationSeconds: number;
  strategies: number;
}

export interface TaskObservation {
  swarmId: string;
  /** SUCCEEDED, FAILED or CANCELLED. */
  status: string;
  /** Finished after its deadline. */
  late: boolean;
  /** Energy and carbon charged to the task (succeeded tasks only), Wh and grams. */
  energyWh?: number;
  carbonG?: number;
}

export interface DecisionObservation {
  swarmId: string;
  /** The decision's state when voting closed. */
  state: string;
  /** Power that voted over the electorate's total power (0..1); undefined for an empty electorate. */
  turnoutRatio?: number;
}

/** The workflow side of the `qpMetrics` sink (a type alias: sinks need an index signature). */
export type QpMetricsSink = {
  /** Challenge sent to credential issued, in seconds. */
  handshakeCompleted(seconds: number): void;
  roundObserved(round: RoundObservation): void;
  sweepObserved(sweep: SweepObservation): void;
  taskFinished(task: TaskObservation): void;
  decisionClosed(decision: DecisionObservation): void;
};

export type QpSinks = { qpMetrics: QpMetricsSink };
