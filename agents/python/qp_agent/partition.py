"""Splitting a labelled data set across agents, as core/partition.ts and core/random.ts do.

A line-by-line port: the same seed gives the same shards as the TypeScript simulator and examples
(Mulberry32, Box-Muller, Marsaglia-Tsang, Fisher-Yates, JavaScript's Math.round), so a Python agent
and a TypeScript one of the same swarm train on the same examples. test/fixtures/partition-vectors.json,
computed by the TypeScript functions, holds both sides to it. Not for secrets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Random = Callable[[], float]
_M = 0xFFFFFFFF
_MIN_VALUE = 5e-324  # JavaScript's Number.MIN_VALUE


def seeded_random(seed: int) -> Random:
    """Mulberry32, uniform in [0, 1) (core/random.ts seededRandom)."""
    state = seed & _M

    def draw() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & _M
        t = state
        t = ((t ^ (t >> 15)) * (t | 1)) & _M
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & _M)) & _M)) & _M
        return ((t ^ (t >> 14)) & _M) / 4294967296

    return draw


def gaussian(random: Random) -> float:
    """Standard normal by Box-Muller (core/random.ts gaussian)."""
    u = 0.0
    while u == 0:
        u = random()
    return math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * random())


def gamma(random: Random, shape: float) -> float:
    """Gamma(shape, 1) by Marsaglia-Tsang, shape < 1 boosted (core/random.ts gamma)."""
    if shape < 1:
        boosted = gamma(random, shape + 1)
        return boosted * math.pow(random() or _MIN_VALUE, 1 / shape)
    d = shape - 1 / 3
    c = 1 / math.sqrt(9 * d)
    while True:
        while True:
            x = gaussian(random)
            v = 1 + c * x
            if v > 0:
                break
        v = v * v * v
        u = random()
        if u < 1 - 0.0331 * x**4:
            return d * v
        if math.log(u) < 0.5 * x * x + d * (1 - v + math.log(v)):
            return d * v


def shuffle(items: list[int], random: Random) -> list[int]:
    """Fisher-Yates in place (core/random.ts shuffle)."""
    for i in range(len(items) - 1, 0, -1):
        j = math.floor(random() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items


def js_round(x: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() takes them to even)."""
    down = math.floor(x)
    return down + 1 if x - down >= 0.5 else down


def dirichlet_partition(labels: Sequence[int], agents: int, alpha: float, seed: int, min_per_agent: int = 1) -> list[list[int]]:
    """Non-IID split (core/partition.ts dirichletPartition): per class, Dirichlet(alpha) proportions over the
    agents deal its examples (smaller alpha, more skew). Redraws until every agent holds at least
    min_per_agent examples; where the data cannot serve that, the last draw is kept and each agent short
    of it topped up with examples sampled with replacement. Returns, per agent, example indices ascending."""
    if len(labels) == 0 and min_per_agent > 0:
        raise ValueError("no examples to split")
    random = seeded_random(seed)
    classes: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        classes.setdefault(int(label), []).append(i)
    sorted_classes = sorted(classes)
    possible = agents * min_per_agent <= len(labels)
    attempts = min(1000, max(3, math.floor(2e5 / (agents * max(1, len(sorted_classes)))))) if possible else 1
    parts: list[list[int]] = []
    for _ in range(attempts):
        parts = [[] for _ in range(agents)]
        for label in sorted_classes:
            indices = shuffle(list(classes[label]), random)
            draws = [gamma(random, alpha) for _ in range(agents)]
            total = 0.0
            for draw in draws:  # summed in order, as reduce does
                total += draw
            start = 0
            cumulative = 0.0
            for agent in range(agents):
                cumulative += draws[agent] / total
                end = len(indices) if agent == agents - 1 else js_round(cumulative * len(indices))
                parts[agent].extend(indices[start:end])
                start = end
        if all(len(part) >= min_per_agent for part in parts):
            return [sorted(part) for part in parts]
    for part in parts:
        while len(part) < min_per_agent:
            part.append(math.floor(random() * len(labels)))
    return [sorted(part) for part in parts]


def iid_partition(count: int, agents: int, seed: int) -> list[list[int]]:
    """IID split: a seeded shuffle dealt round-robin (core/partition.ts iidPartition)."""
    order = shuffle(list(range(count)), seeded_random(seed))
    parts: list[list[int]] = [[] for _ in range(agents)]
    for i, index in enumerate(order):
        parts[i % agents].append(index)
    return [sorted(part) for part in parts]
