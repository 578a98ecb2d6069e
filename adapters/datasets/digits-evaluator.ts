// Scores softmax-digits models on the held-out split of the digits data set.
import type { KindEvaluator } from '../ports';
import { evaluateSoftmax, type Evaluation } from '../../core/models/softmax';
import { digitsSplit, loadDigits } from './digits';

export class DigitsEvaluator implements KindEvaluator {
  async evaluate(params: Float32Array): Promise<Evaluation> {
    return evaluateSoftmax(params, loadDigits(), digitsSplit().test);
  }
}
