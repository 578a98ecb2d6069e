// Evaluates global models of simulated digits jobs on the held-out split.
import type { ModelEvaluator } from '../ports';
import { evaluateSoftmax, type Evaluation } from '../../core/models/softmax';
import type { ModelKind } from '../../core/tuning';
import { digitsSplit, loadDigits } from './digits';

export class DigitsEvaluator implements ModelEvaluator {
  async evaluate(kind: ModelKind, params: Float32Array): Promise<Evaluation | undefined> {
    if (kind !== 'softmax-digits') return undefined;
    return evaluateSoftmax(params, loadDigits(), digitsSplit().test);
  }
}
