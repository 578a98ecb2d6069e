import { DigitsEvaluator } from '../../adapters/datasets/digits-evaluator';
import { digitsSplit, loadDigits } from '../../adapters/datasets/digits';
import { EvaluatorRegistry } from '../../adapters/evaluation/registry';
import { trainSoftmax, evaluateSoftmax } from '../../core/models/softmax';
import { DIGITS_DIMENSION } from '../../agents/trainers';
import { createEvaluators } from '../../workers/ports';
import { ReportedMetrics } from '../../activities/plain-collection';

describe('server-side evaluators registered by model kind', () => {
  const { train, test } = digitsSplit();
  const trained = trainSoftmax(new Float32Array(DIGITS_DIMENSION), loadDigits(), train, { learningRate: 0.1, epochs: 2, batchSize: 32 }).params;

  it('scores a kind with the evaluator registered for it, on that evaluator’s held-out data', async () => {
    const registry = new EvaluatorRegistry().register('softmax-digits', new DigitsEvaluator());
    const evaluation = await registry.evaluate('softmax-digits', trained);
    expect(evaluation).toEqual(evaluateSoftmax(trained, loadDigits(), test));
    expect(evaluation!.examples).toBe(test.length);
    expect(evaluation!.accuracy).toBeGreaterThan(0.8);
  });

  it('turns server-side evaluation off for a kind with no evaluator: no score, never one from another data set', async () => {
    expect(await new EvaluatorRegistry().evaluate('softmax-digits', trained)).toBeUndefined();
    const digitsOnly = new EvaluatorRegistry().register('softmax-digits', new DigitsEvaluator());
    expect(await digitsOnly.evaluate('vector', new Float32Array(8))).toBeUndefined();
  });

  it('the worker’s default registry scores softmax-digits only', () => {
    expect(createEvaluators().kinds()).toEqual(['softmax-digits']);
  });
});

describe('federated evaluation: the agents’ scores of the global model', () => {
  const header = (agentId: string, examples: number, evaluation?: { loss: number; accuracy: number; examples: number }) => ({
    jobId: 'j',
    round: 1,
    attempt: 1,
    agentId,
    examples,
    evalLoss: evaluation?.loss,
    evalAccuracy: evaluation?.accuracy,
    evalExamples: evaluation?.examples,
  });

  it('are averaged weighted by the examples each agent scored on, skipping agents that scored nothing', () => {
    const metrics = new ReportedMetrics();
    metrics.add(header('a', 100, { loss: 1.0, accuracy: 0.5, examples: 10 }));
    metrics.add(header('b', 100, { loss: 0.2, accuracy: 0.9, examples: 30 }));
    metrics.add(header('c', 100));
    metrics.add(header('d', 100, { loss: 9, accuracy: 0, examples: 0 }));
    const summary = metrics.summary();
    expect(summary.agentAccuracy).toBeCloseTo((0.5 * 10 + 0.9 * 30) / 40, 12);
    expect(summary.agentLoss).toBeCloseTo((1.0 * 10 + 0.2 * 30) / 40, 12);
    expect(summary.agentEvalExamples).toBe(40);
  });

  it('are absent when no agent scored the model', () => {
    const metrics = new ReportedMetrics();
    metrics.add(header('a', 5));
    expect(metrics.summary()).toMatchObject({ agentAccuracy: undefined, agentLoss: undefined, agentEvalExamples: undefined });
  });
});
