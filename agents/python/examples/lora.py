"""LoRA-style fine-tuning in numpy: a frozen base classifier, and low-rank adapters that alone travel.

The base is a softmax classifier of the digits (W0: classes x features, b0) pretrained on digits 0-4
only, so it cannot tell 5-9 apart; each agent fine-tunes it on its own shard of all ten digits by
training the adapters of W = W0 + (alpha / rank) B A, with A: rank x features and B: classes x rank,
while W0 and b0 stay frozen. Only the adapters leave the agent: the federated job's model is the
vector [A - A0 (row-major), B (row-major)], rank x (features + classes) floats (296 at rank 4,
against 650 for the whole classifier). It starts at zero, so B = 0 (the base model unchanged) and
A = A0, a random matrix every agent draws from the same seed, as LoRA initialises A randomly and
B at zero. This is the shape federated instruction tuning takes (FlowerTune, FedIT) at toy scale;
examples/lora_torch.py is the same adapter on a torch.nn.Linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digits import CLASSES, FEATURES, Digits, SoftmaxTraining

BASE_CLASSES = 5


def pretrained_base(digits: Digits, epochs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(W0, b0): softmax SGD from zero on the training split's digits 0-4 only (float64)."""
    examples = [i for i in digits.train if digits.labels[i] < BASE_CLASSES]
    steps = epochs * -(-len(examples) // 32)
    training = SoftmaxTraining(np.zeros(CLASSES * FEATURES + CLASSES, dtype=np.float32), digits, examples, 0.1, 32, steps)
    while training.step():
        pass
    params = training.result()[0].astype(np.float64)
    return params[: CLASSES * FEATURES].reshape(CLASSES, FEATURES), params[CLASSES * FEATURES :]


@dataclass
class LoraAdapter:
    """Rank-`rank` adapters on a frozen (W0, b0); the travelling vector is [A - A0, B]."""

    w0: np.ndarray
    b0: np.ndarray
    rank: int = 4
    alpha: float = 4.0
    seed: int = 1

    def __post_init__(self) -> None:
        self.a0 = np.random.default_rng(self.seed).standard_normal((self.rank, self.w0.shape[1])) / np.sqrt(self.w0.shape[1])

    @property
    def dimension(self) -> int:
        return self.rank * (self.w0.shape[1] + self.w0.shape[0])

    def unpack(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) from the travelling vector."""
        vector = np.asarray(vector, dtype=np.float64)
        split = self.rank * self.w0.shape[1]
        return self.a0 + vector[:split].reshape(self.a0.shape), vector[split:].reshape(self.w0.shape[0], self.rank)

    def pack(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The travelling vector (float32) of adapters (A, B)."""
        return np.concatenate([(a - self.a0).reshape(-1), b.reshape(-1)]).astype(np.float32)

    def logits(self, a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
        return x @ (self.w0 + (self.alpha / self.rank) * b @ a).T + self.b0

    def loss_and_gradients(self, a: np.ndarray, b: np.ndarray, x: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Mean cross-entropy of the batch and its gradients with respect to A and B (W0, b0 frozen)."""
        z = self.logits(a, b, x)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        rows = np.arange(len(labels))
        loss = float(-np.mean(np.log(np.maximum(p[rows, labels], 1e-12))))
        p[rows, labels] -= 1
        grad_w = p.T @ x / len(labels)  # d loss / d W, classes x features
        scale = self.alpha / self.rank
        return loss, scale * b.T @ grad_w, scale * grad_w @ a.T

    def train(self, vector: np.ndarray, digits: Digits, examples: list[int], learning_rate: float, batch_size: int, steps: int, should_stop=lambda: False) -> tuple[np.ndarray, float, int]:
        """Mini-batch SGD of the adapters over the examples in order: (new vector, mean loss of the steps, steps done)."""
        a, b = self.unpack(vector)
        losses: list[float] = []
        start = 0
        while len(losses) < steps and examples and not should_stop():
            batch = examples[start : start + batch_size]
            loss, grad_a, grad_b = self.loss_and_gradients(a, b, digits.features[batch].astype(np.float64), digits.labels[batch].astype(np.int64))
            a, b = a - learning_rate * grad_a, b - learning_rate * grad_b
            losses.append(loss)
            start = start + batch_size if start + batch_size < len(examples) else 0
        return self.pack(a, b), float(np.mean(losses)) if losses else 0.0, len(losses)

    def evaluate(self, vector: np.ndarray, digits: Digits, examples: list[int]) -> tuple[float, float]:
        """(accuracy, mean cross-entropy in nats) of the base model with these adapters on the examples."""
        if not examples:
            return 0.0, 0.0
        a, b = self.unpack(vector)
        labels = digits.labels[examples].astype(np.int64)
        loss, _, _ = self.loss_and_gradients(a, b, digits.features[examples].astype(np.float64), labels)
        predicted = np.argmax(self.logits(a, b, digits.features[examples].astype(np.float64)), axis=1)
        return float(np.mean(predicted == labels)), loss
