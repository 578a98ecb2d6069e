"""The examples' training code: the LoRA adapter's gradients, and that only the adapters change."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

from digits import CLASSES, FEATURES, agent_data, load_digits  # noqa: E402
from lora import LoraAdapter, pretrained_base  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def adapter(digits) -> LoraAdapter:
    return LoraAdapter(*pretrained_base(digits), rank=4, alpha=4.0)


def test_the_adapter_gradients_match_finite_differences(digits, adapter: LoraAdapter) -> None:
    rng = np.random.default_rng(3)
    vector = rng.standard_normal(adapter.dimension) * 0.1
    a, b = adapter.unpack(vector)
    batch = digits.train[:16]
    x, labels = digits.features[batch].astype(np.float64), digits.labels[batch].astype(np.int64)
    _, grad_a, grad_b = adapter.loss_and_gradients(a, b, x, labels)
    h = 1e-6
    for matrix, grad in ((a, grad_a), (b, grad_b)):
        for index in [(0, 0), (1, 2), (matrix.shape[0] - 1, matrix.shape[1] - 1)]:
            matrix[index] += h
            up = adapter.loss_and_gradients(a, b, x, labels)[0]
            matrix[index] -= 2 * h
            down = adapter.loss_and_gradients(a, b, x, labels)[0]
            matrix[index] += h
            assert grad[index] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-8)


def test_only_the_adapters_travel_and_zero_adapters_are_the_frozen_base(digits, adapter: LoraAdapter) -> None:
    assert adapter.dimension == 4 * (FEATURES + CLASSES) == 296
    w0, b0 = adapter.w0.copy(), adapter.b0.copy()
    zero = np.zeros(adapter.dimension, dtype=np.float32)
    a, b = adapter.unpack(zero)
    assert np.array_equal(a, adapter.a0) and not b.any()
    x = digits.features[digits.test].astype(np.float64)
    assert np.array_equal(adapter.logits(a, b, x), x @ w0.T + b0)
    base_accuracy, _ = adapter.evaluate(zero, digits, digits.test)
    assert base_accuracy < 0.6  # the base never saw digits 5-9

    examples, _ = agent_data(digits, 2, 11)[0]
    vector, loss, steps = adapter.train(zero, digits, examples, 0.5, 32, 2 * -(-len(examples) // 32))
    assert vector.dtype == np.float32 and vector.shape == (296,) and steps == 2 * -(-len(examples) // 32)
    assert np.array_equal(adapter.w0, w0) and np.array_equal(adapter.b0, b0)  # frozen
    assert adapter.evaluate(vector, digits, digits.test)[0] > base_accuracy + 0.3
    assert np.isfinite(loss)


def test_the_torch_variant_takes_the_same_step(digits, adapter: LoraAdapter) -> None:
    pytest.importorskip("torch", reason="the PyTorch variant is optional (pip install -r examples/requirements-torch.txt)")
    from lora_torch import TorchLoraAdapter

    vector = np.random.default_rng(5).standard_normal(adapter.dimension).astype(np.float32) * 0.1
    examples = digits.train[:64]
    numpy_vector, _, _ = adapter.train(vector, digits, examples, 0.5, 32, 2)
    torch_vector, _, _ = TorchLoraAdapter(adapter).train(vector, digits, examples, 0.5, 32, 2)
    assert np.allclose(torch_vector, numpy_vector, atol=1e-5)
