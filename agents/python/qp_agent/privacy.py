"""Clipping and Gaussian noise as core/privacy (gaussian.ts, local.ts) computes them, bit for bit given the same uniforms.

Norms accumulate in float64 element by element, vectors are float32, noise is Box-Muller in float64
with both outputs used; the uniforms carry 53 bits (27 + 26 of two little-endian words).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

UniformSource = Callable[[], float]
"""Uniform numbers in [0, 1)."""


def _uniform_from(read: Callable[[int], bytes]) -> UniformSource:
    buffer, offset = b"", 0

    def next_uniform() -> float:
        nonlocal buffer, offset
        if offset + 8 > len(buffer):
            buffer, offset = read(64 * 1024), 0
        hi = int.from_bytes(buffer[offset : offset + 4], "little") >> 5  # 27 bits
        lo = int.from_bytes(buffer[offset + 4 : offset + 8], "little") >> 6  # 26 bits
        offset += 8
        return (hi * 67108864 + lo) / 9007199254740992

    return next_uniform


def crypto_uniform() -> UniformSource:
    """Uniform [0, 1) with 53 bits from the OS CSPRNG: the production noise source (cryptoUniform)."""
    return _uniform_from(os.urandom)


def keyed_uniform(key: bytes) -> UniformSource:
    """Uniform [0, 1) from AES-256-CTR keyed by a 32-byte secret (keyedUniform): the same key gives the same stream."""
    if len(key) != 32:
        raise ValueError("keyed_uniform needs a 32-byte key")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()
    return _uniform_from(lambda n: encryptor.update(b"\x00" * n))


def normal_sampler(random: UniformSource) -> Callable[[], float]:
    """Standard normals by Box-Muller, both outputs used (normalSampler)."""
    spare: list[float] = []

    def next_normal() -> float:
        if spare:
            return spare.pop()
        u = 0.0
        while u == 0.0:
            u = random()
        radius = math.sqrt(-2 * math.log(u))
        angle = 2 * math.pi * random()
        spare.append(radius * math.sin(angle))
        return radius * math.cos(angle)

    return next_normal


def l2_norm(v: np.ndarray) -> float:
    """L2 norm with float64 accumulation in element order, as l2Norm sums."""
    values = np.asarray(v, dtype=np.float64).reshape(-1)
    if values.size == 0:
        return 0.0
    return math.sqrt(float(np.cumsum(values * values)[-1]))


def clip_l2(v: np.ndarray, clip_norm: float) -> tuple[np.ndarray, float, bool]:
    """v scaled by min(1, clip_norm/||v||) in float32 (clipL2): the clipped vector, the norm before, whether it was scaled."""
    if not clip_norm > 0:
        raise ValueError(f"clip norm must be positive, got {clip_norm}")
    x = np.asarray(v, dtype=np.float32).reshape(-1)
    norm = l2_norm(x)
    if not math.isfinite(norm):
        raise ValueError("vector has a non-finite element")
    if norm <= clip_norm:
        return x.copy(), norm, False
    wide = x.astype(np.float64)
    scale = clip_norm / norm
    out = (wide * scale).astype(np.float32)
    # Float32 rounding can leave the norm a hair above the bound: shrink until it is not.
    while l2_norm(out) > clip_norm:
        scale *= 1 - 2**-23
        out = (wide * scale).astype(np.float32)
    return out, norm, True


def gaussian_noise(v: np.ndarray, std: float, random: UniformSource) -> np.ndarray:
    """v plus i.i.d. N(0, std^2) per element, added in float64 and stored in float32 (gaussianNoise)."""
    if not (std >= 0 and math.isfinite(std)):
        raise ValueError(f"noise std must be finite and non-negative, got {std}")
    out = np.asarray(v, dtype=np.float32).reshape(-1).copy()
    if std == 0:
        return out
    normal = normal_sampler(random)
    noise = np.array([std * normal() for _ in range(out.size)], dtype=np.float64)
    return (out.astype(np.float64) + noise).astype(np.float32)


def local_dp_std(privacy: dict[str, Any]) -> float:
    """Noise std of one local release with a noise multiplier: noiseMultiplier x sensitivity (default clipNorm)."""
    clip_norm = float(privacy["clipNorm"])
    sensitivity = float(privacy.get("sensitivity", clip_norm))
    multiplier = float(privacy["noiseMultiplier"])
    if not clip_norm > 0:
        raise ValueError("clip norm must be positive")
    if not multiplier >= 0:
        raise ValueError("noise multiplier must be non-negative")
    return multiplier * sensitivity


def apply_local_dp(update: np.ndarray, privacy: dict[str, Any], random: UniformSource) -> np.ndarray:
    """An agent's change clipped to clipNorm with the local noise added (applyLocalDp)."""
    clipped, _, _ = clip_l2(update, float(privacy["clipNorm"]))
    return gaussian_noise(clipped, local_dp_std(privacy), random)


def with_local_privacy(global_params: np.ndarray, params: np.ndarray, privacy: dict[str, Any], random: UniformSource | None = None) -> np.ndarray:
    """The parameters whose change from the global model is clipped and noised, as the TypeScript SDK sends them under local DP."""
    g = np.asarray(global_params, dtype=np.float32)
    delta = np.asarray(params, dtype=np.float32) - g
    released = apply_local_dp(delta, privacy, random or crypto_uniform())
    return (released + g).astype(np.float32)
