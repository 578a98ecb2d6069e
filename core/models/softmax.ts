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
  epochs: number;
  batchSize: number;
  /** FedProx: pulls the local weights toward the round's global weights. */
  proximalMu?: number;
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
  const { featureCount: f, classCount: k, features, labels } = data;
  const params = Float64Array.from(global);
  const anchor = Float64Array.from(global);
  const grad = new Float64Array(params.length);
  const probs = new Float64Array(k);
  const bias = k * f;
  const mu = options.proximalMu ?? 0;
  let loss = 0;
  let correct = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    loss = 0;
    correct = 0;
    for (let start = 0; start < examples.length; start += options.batchSize) {
      const end = Math.min(start + options.batchSize, examples.length);
      grad.fill(0);
      for (let e = start; e < end; e++) {
        const example = examples[e];
        predict(params, data, example, probs);
        const label = labels[example];
        loss -= Math.log(Math.max(probs[label], 1e-12));
        let best = 0;
        for (let c = 1; c < k; c++) if (probs[c] > probs[best]) best = c;
        if (best === label) correct++;
        const row = example * f;
        for (let c = 0; c < k; c++) {
          const delta = probs[c] - (c === label ? 1 : 0);
          const w = c * f;
          for (let j = 0; j < f; j++) grad[w + j] += delta * features[row + j];
          grad[bias + c] += delta;
        }
      }
      const scale = options.learningRate / (end - start);
      for (let p = 0; p < params.length; p++) {
        params[p] -= scale * grad[p] + options.learningRate * mu * (params[p] - anchor[p]);
      }
    }
  }
  const n = Math.max(examples.length, 1);
  return { params: Float32Array.from(params), loss: loss / n, accuracy: correct / n };
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
