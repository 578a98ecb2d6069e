"""Exponential backoff with jitter, shared by the HTTP and broker clients."""

from __future__ import annotations

import random


def backoff_s(attempt: int, initial_s: float = 0.1, max_s: float = 5.0) -> float:
    """Delay before retry number ``attempt`` (0-based), seconds: doubling, capped, half of it jittered."""
    base = min(max_s, initial_s * 2 ** min(attempt, 16))
    return base / 2 + random.random() * base / 2
