// Server-side evaluators by model kind: the worker registers one per kind whose
// held-out data it has. A kind with none registered is not scored, so a job
// whose agents hold other data never reads an accuracy measured on the wrong set.
import type { Evaluation } from '../../core/models/softmax';
import type { ModelKind } from '../../core/tuning';
import type { KindEvaluator, ModelEvaluator } from '../ports';

export class EvaluatorRegistry implements ModelEvaluator {
  private readonly evaluators = new Map<ModelKind, KindEvaluator>();

  /** Scores models of kind with evaluator from now on, replacing any earlier registration. */
  register(kind: ModelKind, evaluator: KindEvaluator): this {
    this.evaluators.set(kind, evaluator);
    return this;
  }

  /** The kinds scored server-side. */
  kinds(): ModelKind[] {
    return [...this.evaluators.keys()].sort();
  }

  async evaluate(kind: ModelKind, params: Float32Array): Promise<Evaluation | undefined> {
    return this.evaluators.get(kind)?.evaluate(params);
  }
}
