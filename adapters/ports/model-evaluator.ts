// The model evaluator port: scores a global model on held-out data the worker has.
import type { Evaluation } from '../../core/models/softmax';
import type { ModelKind } from '../../core/tuning';

/** Scores a global model on held-out data the worker has; undefined when it has none for the model's kind. */
export interface ModelEvaluator {
  evaluate(kind: ModelKind, params: Float32Array): Promise<Evaluation | undefined>;
}

/** Scores models of one kind on one held-out data set; registered with the worker by kind. */
export interface KindEvaluator {
  evaluate(params: Float32Array): Promise<Evaluation>;
}
