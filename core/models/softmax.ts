// Multinomial logistic (softmax) regression trained by mini-batch SGD: the
// reference agents' local model. Parameters are exchanged as float32
// [W (classes x features, row-major), b (classes)]; arithmetic is float64.

export interface Dataset {
  /** examples x features, row-major. */
  features: Float32Array;
  labels: Uint8Array;
  featureCount: number;
  classCount: number;
}

export interface LocalTraining {
  learningRate: number;
  /** Passes over the agent's examples; exclusive with localSteps (neither means one epoch). */
  epochs?: number;
  /** Mini-batch steps, cycling through the examples in order; exclusive with epochs. */
  localSteps?: number;
  batchSize: number;
  /** FedProx: pulls the local weights toward the round's global weights. */
  proximalMu?: number;
  /** Wall-clock milliseconds an agent may train for; the SDK stops its trainer then and sends the partial work. */
  timeBudgetMs?: number;
  /** Each agent's localSteps scaled by its declared cpu relative to the round's largest. */
  scaleByCapacity?: boolean;
}

/** Mini-batch steps one round's training plans: localSteps, or epochs × batches per epoch (count). */
export function plannedSteps(options: Pick<LocalTraining, 'epochs' | 'localSteps' | 'batchSize'>, examples: number): number {
  if (examples <= 0) return 0;
  if (options.localSteps !== undefined) return options.localSteps;
  return (options.epochs ?? 1) * Math.ceil(examples / options.batchSize);
}

export interface Evaluation {
  accuracy: number;
  /** Mean cross-entropy, nats. */
  loss: number;
  examples: number;
}

export function parameterCount(featureCount: number, classCount: number): number {
  return classCount * featureCount + classCount;
}

/** Class probabilities of one example into out (length classCount). */
function predict(params: Float64Array, data: Dataset, example: number, out: Float64Array): void {
  const { featureCount: f, classCount: k, features } = data;
  const bias = k * f;
  const row = example * f;
  let max = -Infinity;
  for (let c = 0; c < k; c++) {
    let z = params[bias + c];
    const w = c * f;
    for (let j = 0; j < f; j++) z += params[w + j] * features[row + j];
    out[c] = z;
    if (z > max) max = z;
  }
  let sum = 0;
  for (let c = 0; c < k; c++) {
    out[c] = Math.exp(out[c] - max);
    sum += out[c];
  }
  for (let c = 0; c < k; c++) out[c] /= sum;
}

/**
 * Trains from global on the given examples, visited in the given order each
 * epoch, in batches of batchSize (the last one may be smaller). Returns the
 * new parameters and the mean training loss of the last epoch.
 */
export function trainSoftmax(
  global: Float32Array,
  data: Dataset,
  examples: readonly number[],
  options: LocalTraining,
): { params: Float32Array; loss: number; accuracy: number } {
  const training = new SoftmaxTraining(global, data, examples, options);
  while (training.step());
  return training.result();
}

/**
 * The same training one mini-batch step at a time, so that a caller can stop
 * it between steps (a time budget spent, a round superseded) and keep the
 * partial work. Runs plannedSteps(options) steps unless `steps` says otherwise.
 */
export class SoftmaxTraining {
  readonly stepsPlanned: number;
  stepsCompleted = 0;
  private readonly params: Float64Array;
  private readonly anchor: Float64Array;
  private readonly grad: Float64Array;
  private readonly probs: Float64Array;
  private readonly mu: number;
  private start = 0;
  private loss = 0;
  private lossSquared = 0;
  private correct = 0;
  private seen = 0;
  private last?: { loss: number; lossSquared: number; accuracy: number };

  constructor(
    global: Float32Array,
    private readonly data: Dataset,
    private readonly examples: readonly number[],
    private readonly options: LocalTraining,
    steps = plannedSteps(options, examples.length),
  ) {
    this.stepsPlanned = examples.length > 0 ? steps : 0;
    this.params = Float64Array.from(global);
    this.anchor = Float64Array.from(global);
    this.grad = new Float64Array(this.params.length);
    this.probs = new Float64Array(data.classCount);
    this.mu = options.proximalMu ?? 0;
  }

  /** Runs the next mini-batch step; false once every planned step is done. */
  step(): boolean {
    if (this.stepsCompleted >= this.stepsPlanned) return false;
    const { data, examples, options, params, grad, probs } = this;
    const { featureCount: f, classCount: k, features, labels } = data;
    const bias = k * f;
    const end = Math.min(this.start + options.batchSize, examples.length);
    grad.fill(0);
    for (let e = this.start; e < end; e++) {
      const example = examples[e];
      predict(params, data, example, probs);
      const label = labels[example];
      const exampleLoss = -Math.log(Math.max(probs[label], 1e-12));
      this.loss += exampleLoss;
      this.lossSquared += exampleLoss * exampleLoss;
      let best = 0;
      for (let c = 1; c < k; c++) if (probs[c] > probs[best]) best = c;
      if (best === label) this.correct++;
      const row = example * f;
      for (let c = 0; c < k; c++) {
        const delta = probs[c] - (c === label ? 1 : 0);
        const w = c * f;
        for (let j = 0; j < f; j++) grad[w + j] += delta * features[row + j];
        grad[bias + c] += delta;
      }
    }
    const scale = options.learningRate / (end - this.start);
    for (let p = 0; p < params.length; p++) {
      params[p] -= scale * grad[p] + options.learningRate * this.mu * (params[p] - this.anchor[p]);
    }
    this.seen += end - this.start;
    this.start = end;
    this.stepsCompleted++;
    if (this.start >= examples.length) {
      // An epoch ends: its figures are the ones reported, and the next one starts afresh.
      const n = Math.max(examples.length, 1);
      this.last = { loss: this.loss / n, lossSquared: this.lossSquared / n, accuracy: this.correct / n };
      this.start = 0;
      this.loss = 0;
      this.lossSquared = 0;
      this.correct = 0;
      this.seen = 0;
    }
    return this.stepsCompleted < this.stepsPlanned;
  }

  /**
   * The parameters so far, with the last full epoch's mean loss, mean squared per-example loss
   * (Oort's statistical utility takes its root) and accuracy (or the partial epoch's, before one ends).
   */
  result(): { params: Float32Array; loss: number; lossSquared: number; accuracy: number } {
    const seen = Math.max(this.seen, 1);
    const figures =
      this.seen > 0 || !this.last
        ? { loss: this.loss / seen, lossSquared: this.lossSquared / seen, accuracy: this.correct / seen }
        : this.last;
    return { params: Float32Array.from(this.params), ...figures };
  }
}

/** Accuracy and mean cross-entropy of params on the given examples. */
export function evaluateSoftmax(params: Float32Array, data: Dataset, examples: readonly number[]): Evaluation {
  const weights = Float64Array.from(params);
  const probs = new Float64Array(data.classCount);
  let loss = 0;
  let correct = 0;
  for (const example of examples) {
    predict(weights, data, example, probs);
    const label = data.labels[example];
    loss -= Math.log(Math.max(probs[label], 1e-12));
    let best = 0;
    for (let c = 1; c < data.classCount; c++) if (probs[c] > probs[best]) best = c;
    if (best === label) correct++;
  }
  const n = Math.max(examples.length, 1);
  return { accuracy: correct / n, loss: loss / n, examples: examples.length };
}
