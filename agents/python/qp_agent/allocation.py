"""Contract Net bids from an agent's declared profile, as core/allocation/contract-net.ts profileBid computes them.

Times are ms since the epoch, durations seconds, power W, energy Wh, carbon g CO2, intensity gCO2/kWh.
The arithmetic follows the TypeScript operation for operation, so the same inputs give the same doubles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# core/tasks.ts DEFAULT_AGENT_POWER: 1 work unit/s, 20 W idle, 100 W busy, 400 gCO2/kWh.
DEFAULT_AGENT_POWER = {"speed": 1, "idleWatts": 20, "busyWatts": 100, "carbonGPerKWh": 400}


@dataclass
class TaskBid:
    """An agent's offer for one task: finish_at_ms (ms since the epoch), energy_wh (Wh), carbon_g (g CO2)."""

    finish_at_ms: float
    energy_wh: float
    carbon_g: float


def _given(value: Any, default: Any) -> Any:
    """JavaScript's value ?? default."""
    return default if value is None else value


def allocation_agent(agent_id: str, capabilities: list[str], resources: dict[str, Any] | None) -> dict[str, Any]:
    """The allocation view of a registered agent from its declared resources (core/tasks.ts allocationAgent)."""
    resources = resources or {}
    energy = resources.get("energy") or {}
    return {
        "agentId": agent_id,
        "capabilities": list(capabilities),
        "capacity": {"cpu": _given(resources.get("cpu"), 1), "memoryMb": _given(resources.get("memoryMb"), 1024), "gpu": resources.get("gpu")},
        "speed": _given(energy.get("speed"), DEFAULT_AGENT_POWER["speed"]),
        "energy": {
            "idleWatts": _given(energy.get("idleWatts"), DEFAULT_AGENT_POWER["idleWatts"]),
            "busyWatts": _given(energy.get("busyWatts"), DEFAULT_AGENT_POWER["busyWatts"]),
            "source": _given(energy.get("source"), "grid"),
            "carbonGPerKWh": _given(energy.get("carbonGPerKWh"), DEFAULT_AGENT_POWER["carbonGPerKWh"]),
            "forecast": energy.get("forecast"),
            "budgetWh": energy.get("budgetWh"),
        },
    }


def incapable(task: dict[str, Any], agent: dict[str, Any]) -> bool:
    """True when the agent lacks a capability, cores, memory or GPUs the task requires."""
    needs = task.get("requirements") or {}
    for capability in needs.get("capabilities") or []:
        if capability not in agent["capabilities"]:
            return True
    capacity = agent["capacity"]
    if _given(needs.get("cpu"), 0) > capacity["cpu"]:
        return True
    if _given(needs.get("memoryMb"), 0) > capacity["memoryMb"]:
        return True
    return bool(_given(needs.get("gpu"), 0) > _given(capacity.get("gpu"), 0))


def duration_s(task: dict[str, Any], agent: dict[str, Any]) -> float:
    """Running time of the task on the agent, seconds."""
    return task["estimatedWork"] / agent["speed"]


def energy_wh(task: dict[str, Any], agent: dict[str, Any]) -> float:
    """Energy of the task on the agent, Wh (busy power over its running time)."""
    return (agent["energy"]["busyWatts"] * duration_s(task, agent)) / 3600


def intensity_at(profile: dict[str, Any], t_ms: float) -> float:
    """Carbon intensity at instant t_ms, gCO2/kWh."""
    value = profile["carbonGPerKWh"]
    for point in profile.get("forecast") or []:
        if point["atMs"] > t_ms:
            break
        value = point["gPerKWh"]
    return value


def mean_intensity(profile: dict[str, Any], start_ms: float, end_ms: float) -> float:
    """Mean carbon intensity over [start_ms, end_ms), gCO2/kWh."""
    if end_ms <= start_ms:
        return intensity_at(profile, start_ms)
    total = 0.0
    t = start_ms
    value = intensity_at(profile, start_ms)
    for point in profile.get("forecast") or []:
        if point["atMs"] <= start_ms:
            continue
        if point["atMs"] >= end_ms:
            break
        total += value * (point["atMs"] - t)
        t = point["atMs"]
        value = point["gPerKWh"]
    total += value * (end_ms - t)
    return total / (end_ms - start_ms)


def carbon_g(task: dict[str, Any], agent: dict[str, Any], start_ms: float) -> float:
    """Carbon of running the task on the agent from start_ms, g CO2."""
    finish_ms = start_ms + duration_s(task, agent) * 1000
    return (energy_wh(task, agent) / 1000) * mean_intensity(agent["energy"], start_ms, finish_ms)


def lowest_carbon_start(profile: dict[str, Any], earliest_ms: float, latest_ms: float, duration_ms: float) -> float:
    """Start in [earliest_ms, latest_ms] with the least carbon for a run of duration_ms; earliest wins ties."""
    if latest_ms <= earliest_ms:
        return earliest_ms
    candidates = [earliest_ms, latest_ms]
    for point in profile.get("forecast") or []:
        for start in (point["atMs"], point["atMs"] - duration_ms):
            if earliest_ms < start < latest_ms:
                candidates.append(start)
    candidates.sort()
    best = earliest_ms
    best_value = mean_intensity(profile, earliest_ms, earliest_ms + duration_ms)
    for start in candidates:
        value = mean_intensity(profile, start, start + duration_ms)
        if value < best_value - 1e-9:
            best, best_value = start, value
    return best


def profile_bid(task: dict[str, Any], agent: dict[str, Any], now_ms: float, busy_until_ms: float | None = None) -> TaskBid | None:
    """The bid from the agent's declared profile (contract-net.ts profileBid); None when it cannot run the task.

    task: requirements, estimatedWork (work units), deadlineMs, deferrable. It starts once its queue
    drains (busy_until_ms), a deferrable task in its lowest-carbon window that still meets the deadline.
    """
    if incapable(task, agent):
        return None
    run_ms = duration_s(task, agent) * 1000
    earliest = max(now_ms, now_ms if busy_until_ms is None else busy_until_ms)
    if task.get("deferrable"):
        start = lowest_carbon_start(agent["energy"], earliest, max(earliest, task["deadlineMs"] - run_ms), run_ms)
    else:
        start = earliest
    energy = energy_wh(task, agent)
    budget = agent["energy"].get("budgetWh")
    if budget is not None and energy > budget:
        return None
    return TaskBid(finish_at_ms=start + run_ms, energy_wh=energy, carbon_g=carbon_g(task, agent, start))
