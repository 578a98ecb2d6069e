"""The TypeScript reference agents' digits task in numpy: data, split and softmax regression.

A line-by-line port of adapters/datasets/digits.ts (standardised pixels, the seed-42 train/test
split), agents/trainers.ts (each agent's shard of an IID or Dirichlet split, core/partition.ts as
ported in qp_agent.partition, a fifth held out)
and core/models/softmax.ts (mini-batch SGD, float64 arithmetic, float32 parameters). Every sum runs
in the TypeScript loops' order, vectorised only across independent elements (the examples of a
batch, the classes), so the same seeds give the same parameters bit for bit as far as the platform's
exp and log agree with JavaScript's Math.exp and Math.log (the one place where the arithmetic may
differ, by an ulp now and then).
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
import numpy as np

from qp_agent.partition import dirichlet_partition, iid_partition, seeded_random, shuffle

FEATURES = 64
CLASSES = 10
DIMENSION = CLASSES * FEATURES + CLASSES
# The data set shipped with the repository (adapters/datasets/digits.csv.gz, CC BY 4.0).
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "adapters", "datasets", "digits.csv.gz")
HELD_OUT_FRACTION = 0.2
def split_indices(count: int, seed: int, test_fraction: float) -> tuple[list[int], list[int]]:
    """(train, test) example indices, each ascending."""
    order = shuffle(list(range(count)), seeded_random(seed))
    test_count = math.floor(len(order) * test_fraction + 0.5)  # Math.round
    return sorted(order[test_count:]), sorted(order[:test_count])


@dataclass
class Digits:
    features: np.ndarray  # examples x FEATURES, float32, standardised
    labels: np.ndarray  # uint8
    train: list[int]
    test: list[int]


def load_digits(path: str = DEFAULT_DATA) -> Digits:
    """All 1,797 examples, pixels standardised per pixel with the training split's mean and deviation."""
    with gzip.open(path, "rt", encoding="utf-8") as data:
        rows = [[float(value) for value in line.split(",")] for line in data.read().strip().split("\n")]
    table = np.array(rows, dtype=np.float64)
    raw, labels = table[:, :FEATURES], table[:, FEATURES].astype(np.uint8)
    train, test = split_indices(len(rows), 42, 0.2)
    mean = np.zeros(FEATURES)
    variance = np.zeros(FEATURES)
    for i in train:
        mean += raw[i] / len(train)
    for i in train:
        variance += (raw[i] - mean) ** 2 / len(train)
    deviation = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        features = np.where(deviation > 0, (raw - mean) / deviation, 0.0).astype(np.float32)
    return Digits(features=features, labels=labels, train=train, test=test)


def split_held_out(examples: list[int], fraction: float) -> tuple[list[int], list[int]]:
    """(train, held out): position i is held out when floor((i + 1) f) > floor(i f) (agents/trainers.ts splitHeldOut)."""
    train: list[int] = []
    held_out: list[int] = []
    for i, example in enumerate(examples):
        (held_out if math.floor((i + 1) * fraction) > math.floor(i * fraction) else train).append(example)
    return train, held_out


def agent_data(digits: Digits, agents: int, seed: int, alpha: float | None = None) -> list[tuple[list[int], list[int]]]:
    """Each agent's (training, held-out) examples, as agents/trainers.ts digitsAgentData: an IID split, or
    with alpha a Dirichlet(alpha) one over the classes (qp_agent.partition, the TypeScript draws)."""
    if alpha is None:
        parts = iid_partition(len(digits.train), agents, seed)
    else:
        parts = dirichlet_partition([int(digits.labels[i]) for i in digits.train], agents, alpha, seed)
    return [split_held_out([digits.train[i] for i in part], HELD_OUT_FRACTION) for part in parts]


def _probabilities(params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Class probabilities of a batch (rows of x), each logit summed feature by feature in order."""
    weights = params[: CLASSES * FEATURES].reshape(CLASSES, FEATURES)
    z = np.tile(params[CLASSES * FEATURES :], (x.shape[0], 1))
    for j in range(FEATURES):
        z += weights[:, j][None, :] * x[:, j][:, None]
    top = z[:, 0].copy()
    for c in range(1, CLASSES):
        top = np.maximum(top, z[:, c])
    exp = np.exp(z - top[:, None])
    total = np.zeros(x.shape[0])
    for c in range(CLASSES):
        total += exp[:, c]
    return exp / total[:, None]


def _best(probs: np.ndarray) -> np.ndarray:
    return np.argmax(probs, axis=1)  # the first of equal maxima, as the TypeScript loop picks


class SoftmaxTraining:
    """core/models/softmax.ts SoftmaxTraining: one mini-batch step at a time over the examples in order."""

    def __init__(self, global_params: np.ndarray, digits: Digits, examples: list[int], learning_rate: float, batch_size: int, steps: int, proximal_mu: float = 0.0) -> None:
        self.digits, self.examples = digits, examples
        self.learning_rate, self.batch_size, self.mu = float(learning_rate), int(batch_size), float(proximal_mu)
        self.steps_planned = steps if examples else 0
        self.steps_completed = 0
        self.params = np.asarray(global_params, dtype=np.float32).astype(np.float64)
        self.anchor = self.params.copy()
        self._start = 0
        self._loss = self._loss_squared = 0.0
        self._correct = self._seen = 0
        self._last: tuple[float, float, float] | None = None

    def step(self) -> bool:
        """The next mini-batch step; False once every planned step is done."""
        if self.steps_completed >= self.steps_planned:
            return False
        end = min(self._start + self.batch_size, len(self.examples))
        batch = self.examples[self._start : end]
        x = self.digits.features[batch].astype(np.float64)
        labels = self.digits.labels[batch].astype(np.int64)
        probs = _probabilities(self.params, x)
        rows = np.arange(len(batch))
        for loss in -np.log(np.maximum(probs[rows, labels], 1e-12)):
            self._loss += float(loss)
            self._loss_squared += float(loss) * float(loss)
        self._correct += int(np.sum(_best(probs) == labels))
        delta = probs.copy()
        delta[rows, labels] -= 1
        grad_w = np.zeros((CLASSES, FEATURES))
        grad_b = np.zeros(CLASSES)
        for e in range(len(batch)):  # examples accumulate in order, as the TypeScript loop adds them
            grad_w += delta[e][:, None] * x[e][None, :]
            grad_b += delta[e]
        grad = np.concatenate([grad_w.reshape(-1), grad_b])
        scale = self.learning_rate / (end - self._start)
        self.params -= scale * grad + self.learning_rate * self.mu * (self.params - self.anchor)
        self._seen += end - self._start
        self._start = end
        self.steps_completed += 1
        if self._start >= len(self.examples):
            n = max(len(self.examples), 1)
            self._last = (self._loss / n, self._loss_squared / n, self._correct / n)
            self._start, self._loss, self._loss_squared, self._correct, self._seen = 0, 0.0, 0.0, 0, 0
        return self.steps_completed < self.steps_planned

    def result(self) -> tuple[np.ndarray, float, float, float]:
        """(float32 parameters, mean loss, mean squared loss, accuracy) of the last full epoch (or the partial one before)."""
        if self._seen > 0 or self._last is None:
            seen = max(self._seen, 1)
            figures = (self._loss / seen, self._loss_squared / seen, self._correct / seen)
        else:
            figures = self._last
        return (self.params.astype(np.float32), *figures)


def evaluate(params: np.ndarray, digits: Digits, examples: list[int]) -> tuple[float, float]:
    """(accuracy, mean cross-entropy in nats) of params on the examples (core/models/softmax.ts evaluateSoftmax)."""
    if not examples:
        return 0.0, 0.0
    x = digits.features[examples].astype(np.float64)
    labels = digits.labels[examples].astype(np.int64)
    probs = _probabilities(np.asarray(params, dtype=np.float32).astype(np.float64), x)
    loss = 0.0
    for value in -np.log(np.maximum(probs[np.arange(len(examples)), labels], 1e-12)):
        loss += float(value)
    return float(np.sum(_best(probs) == labels)) / len(examples), loss / len(examples)
