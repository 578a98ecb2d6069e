// The UCI digits data set shipped beside this file (see README.md here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Dataset } from '../../core/models/softmax';
import { seededRandom, shuffle } from '../../core/random';

export const DIGITS_FEATURES = 64;
export const DIGITS_CLASSES = 10;

let cached: Dataset | undefined;

/** All 1,797 examples; pixels (0..16) standardised per pixel with the training split's mean and deviation. */
export function loadDigits(): Dataset {
  if (cached) return cached;
  const text = gunzipSync(readFileSync(join(__dirname, 'digits.csv.gz'))).toString('utf8').trim();
  const rows = text.split('\n');
  const raw = new Float64Array(rows.length * DIGITS_FEATURES);
  const labels = new Uint8Array(rows.length);
  rows.forEach((row, i) => {
    const values = row.split(',').map(Number);
    for (let j = 0; j < DIGITS_FEATURES; j++) raw[i * DIGITS_FEATURES + j] = values[j];
    labels[i] = values[DIGITS_FEATURES];
  });
  const { train } = splitIndices(rows.length, 42, 0.2);
  const mean = new Float64Array(DIGITS_FEATURES);
  const variance = new Float64Array(DIGITS_FEATURES);
  for (const i of train) for (let j = 0; j < DIGITS_FEATURES; j++) mean[j] += raw[i * DIGITS_FEATURES + j] / train.length;
  for (const i of train) {
    for (let j = 0; j < DIGITS_FEATURES; j++) variance[j] += (raw[i * DIGITS_FEATURES + j] - mean[j]) ** 2 / train.length;
  }
  const features = Float32Array.from(raw, (value, k) => {
    const j = k % DIGITS_FEATURES;
    const deviation = Math.sqrt(variance[j]);
    return deviation > 0 ? (value - mean[j]) / deviation : 0;
  });
  cached = { features, labels, featureCount: DIGITS_FEATURES, classCount: DIGITS_CLASSES };
  return cached;
}

function splitIndices(count: number, seed: number, testFraction: number): { train: number[]; test: number[] } {
  const order = shuffle(
    Array.from({ length: count }, (_, i) => i),
    seededRandom(seed),
  );
  const testCount = Math.round(order.length * testFraction);
  return {
    test: order.slice(0, testCount).sort((a, b) => a - b),
    train: order.slice(testCount).sort((a, b) => a - b),
  };
}

/** The fixed train/test split (seed 42, 20% held out) the standardisation was fitted on. */
export function digitsSplit(): { train: number[]; test: number[] } {
  return splitIndices(loadDigits().labels.length, 42, 0.2);
}
