"""The data split is the TypeScript one: shared vectors computed by core/partition.ts and core/random.ts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from qp_agent.partition import dirichlet_partition, gamma, iid_partition, js_round, seeded_random

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

from digits import agent_data, load_digits  # noqa: E402

VECTORS = Path(
    os.environ.get("QP_PARTITION_VECTORS", Path(__file__).resolve().parents[3] / "test" / "fixtures" / "partition-vectors.json")
)


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


def test_gamma_draws_are_the_typescript_ones_bit_for_bit(vectors: dict[str, Any]) -> None:
    case = vectors["gamma"]
    random = seeded_random(case["seed"])
    assert [gamma(random, shape) for shape in case["shapes"]] == case["draws"]


def test_halves_round_up_as_in_javascript() -> None:
    assert [js_round(x) for x in (0.5, 1.5, 2.5, 2.4999999999999996, 0.49999999999999994, 3.0)] == [1, 2, 3, 2, 0, 3]


def test_every_dirichlet_split_is_the_typescript_one(vectors: dict[str, Any]) -> None:
    cases = vectors["dirichlet"]
    assert len(cases) >= 5
    for case in cases:
        parts = dirichlet_partition(case["labels"], case["agents"], case["alpha"], case["seed"], case["minPerAgent"])
        assert parts == case["parts"], case["name"]
        assert all(len(part) >= case["minPerAgent"] for part in parts), case["name"]


def test_a_dirichlet_half_split_of_digits_is_skewed_and_covers_every_example_once(vectors: dict[str, Any]) -> None:
    case = vectors["dirichlet"][0]
    labels, parts = case["labels"], dirichlet_partition(case["labels"], 3, 0.5, 11)
    assert sorted(i for part in parts for i in part) == list(range(len(labels)))
    # Skew: some agent holds most of some class (an even split would give each a third).
    shares = [sum(1 for i in part if labels[i] == c) / labels.count(c) for part in parts for c in range(10)]
    assert max(shares) > 0.6


def test_the_iid_split_is_the_typescript_one(vectors: dict[str, Any]) -> None:
    for case in vectors["iid"]:
        assert iid_partition(case["count"], case["agents"], case["seed"]) == case["parts"]


def test_the_digits_example_gives_each_agent_the_typescript_agents_shard(vectors: dict[str, Any]) -> None:
    digits = load_digits()
    for case in vectors["digits"]:
        shards = agent_data(digits, case["agents"], case["seed"], case["alpha"])
        assert [{"train": train, "heldOut": held_out} for train, held_out in shards] == case["shards"]
