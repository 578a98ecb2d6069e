// The model evaluator port: scores a global model on held-out data the worker has.
import type { Evaluation } from '../../core/models/softmax';
import type { ModelKind } from '../../core/tuning';

/** Scores a global model on held-out data the worker has (simulated swarms). */
export interface ModelEvaluator {
  evaluate(kind: ModelKind, params: Float32Array): Promise<Evaluation | undefined>;
}
