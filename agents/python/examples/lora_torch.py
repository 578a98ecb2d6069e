"""The LoRA example's adapter on a torch.nn.Linear: the same frozen base and adapters as examples/lora.py.

Optional (PyTorch's wheel is large): pip install -r examples/requirements-torch.txt. Use it in place of
LoraAdapter.train in examples/lora_agent.py; what travels is the same [A - A0, B] vector.
"""

from __future__ import annotations

import numpy as np
import torch

from digits import Digits
from lora import LoraAdapter


class LoraLinear(torch.nn.Module):
    """y = x W0^T + b0 + (alpha / rank) x A^T B^T, with W0 and b0 frozen."""

    def __init__(self, adapter: LoraAdapter, a: np.ndarray, b: np.ndarray) -> None:
        super().__init__()
        self.base = torch.nn.Linear(adapter.w0.shape[1], adapter.w0.shape[0], dtype=torch.float64)
        with torch.no_grad():
            self.base.weight.copy_(torch.from_numpy(adapter.w0))
            self.base.bias.copy_(torch.from_numpy(adapter.b0))
        self.base.requires_grad_(False)
        self.a = torch.nn.Parameter(torch.from_numpy(np.array(a, dtype=np.float64)))
        self.b = torch.nn.Parameter(torch.from_numpy(np.array(b, dtype=np.float64)))
        self.scale = adapter.alpha / adapter.rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.a.T) @ self.b.T


class TorchLoraAdapter:
    """LoraAdapter.train with torch's autograd and SGD."""

    def __init__(self, adapter: LoraAdapter) -> None:
        self.adapter = adapter

    def train(self, vector: np.ndarray, digits: Digits, examples: list[int], learning_rate: float, batch_size: int, steps: int, should_stop=lambda: False) -> tuple[np.ndarray, float, int]:
        model = LoraLinear(self.adapter, *self.adapter.unpack(vector))
        optimiser = torch.optim.SGD([model.a, model.b], lr=learning_rate)
        losses: list[float] = []
        start = 0
        while len(losses) < steps and examples and not should_stop():
            batch = examples[start : start + batch_size]
            x = torch.from_numpy(digits.features[batch].astype(np.float64))
            labels = torch.from_numpy(digits.labels[batch].astype(np.int64))
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), labels)
            loss.backward()
            optimiser.step()
            losses.append(float(loss))
            start = start + batch_size if start + batch_size < len(examples) else 0
        return self.adapter.pack(model.a.detach().numpy(), model.b.detach().numpy()), float(np.mean(losses)) if losses else 0.0, len(losses)
