"""Plain federated rounds (core/tuning.ts): the round start an agent reads and the update it sends.

Parameters travel as float32 little-endian bytes; an update's properties are the UpdateHeader
(``type=update``, jobId, round, attempt, agentId, examples, optional metrics), signed like every
message an agent publishes.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np


@dataclass
class RoundTask:
    """What a round asks of the agent (the round start's fields the trainer needs)."""

    job_id: str
    round: int
    attempt: int
    training: dict[str, Any]
    """learningRate, batchSize, and epochs or localSteps, as the job sent them."""
    budget: dict[str, Any]
    """This agent's work: localSteps or epochs, and timeBudgetMs when the job sets one."""
    deadline_at_ms: int
    evaluate: bool = True
    evaluate_only: bool = False
    """The evaluation-only round after a job's last: the budget is 0 steps and should_stop() is true; only the eval_* fields are read."""
    started_at: float = field(default_factory=time.monotonic)
    stopped: threading.Event = field(default_factory=threading.Event)
    """Set when a later round of the job arrives or the agent closes: the work can no longer count."""

    def should_stop(self) -> bool:
        """True once the round's time budget is spent or the round is superseded: return what you have."""
        if self.stopped.is_set():
            return True
        budget_ms = self.budget.get("timeBudgetMs")
        return budget_ms is not None and (time.monotonic() - self.started_at) * 1000 >= budget_ms

    def steps_planned(self, steps_per_epoch: int = 1) -> int:
        """Mini-batch steps the budget asks for: localSteps, or epochs x steps_per_epoch."""
        if self.budget.get("localSteps") is not None:
            return int(self.budget["localSteps"])
        return int(math.ceil(float(self.budget.get("epochs", 1)) * steps_per_epoch))


@dataclass
class Update:
    """What a training function returns: its parameters and the metrics the manager aggregates."""

    params: np.ndarray
    examples: int
    loss: float | None = None
    loss_squared: float | None = None
    accuracy: float | None = None
    steps_completed: int | None = None
    steps_planned: int | None = None
    eval_loss: float | None = None
    eval_accuracy: float | None = None
    eval_examples: int | None = None


def params_to_bytes(params: np.ndarray) -> bytes:
    """Float32 little-endian bytes of the parameters (core/tuning.ts paramsToBytes)."""
    return np.ascontiguousarray(params, dtype="<f4").tobytes()


def bytes_to_params(data: bytes) -> np.ndarray:
    """Float32 parameters from little-endian bytes (a writable copy)."""
    if len(data) % 4 != 0:
        raise ValueError(f"parameter bytes must be a multiple of 4, got {len(data)}")
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def js_number(value: float | int) -> str:
    """A finite number as JavaScript's String(number) writes it (shortest round-trip digits, JS exponent rules)."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number here")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric must be finite, got {value}")
    if number == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(number)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    k = len(digits)
    n = int(exponent) + len(digit_tuple)  # the decimal point sits after n digits
    prefix = "-" if sign else ""
    if k <= n <= 21:
        return prefix + digits + "0" * (n - k)
    if 0 < n <= 21:
        return prefix + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return prefix + "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{prefix}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def update_properties(job_id: str, round_: int, attempt: int, agent_id: str, update: Update) -> dict[str, str]:
    """The update's properties (core/tuning.ts encodeUpdateHeader), before the proof is added."""
    properties = {
        "type": "update",
        "jobId": job_id,
        "round": str(round_),
        "attempt": str(attempt),
        "agentId": agent_id,
        "examples": js_number(update.examples),
    }
    optional = {
        "trainLoss": update.loss,
        "trainLossSquared": update.loss_squared,
        "trainAccuracy": update.accuracy,
        "evalLoss": update.eval_loss,
        "evalAccuracy": update.eval_accuracy,
        "evalExamples": update.eval_examples,
        "stepsCompleted": update.steps_completed,
        "stepsPlanned": update.steps_planned,
    }
    for name, value in optional.items():
        if value is not None:
            properties[name] = js_number(value)
    return properties


def secagg_properties(job_id: str, round_: int, attempt: int, agent_id: str) -> dict[str, str]:
    """The properties of a secure-aggregation protocol message (core/tuning.ts encodeSecAggHeader), before the proof."""
    return {"type": "secagg", "jobId": job_id, "round": str(round_), "attempt": str(attempt), "agentId": agent_id}


def agent_budget(training: dict[str, Any]) -> dict[str, Any]:
    """The budget when the round start names none (core/tuning.ts agentBudget, full capacity)."""
    budget: dict[str, Any] = (
        {"localSteps": max(1, math.floor(training["localSteps"] + 0.5))}
        if training.get("localSteps") is not None
        else {"epochs": training.get("epochs", 1)}
    )
    if training.get("timeBudgetMs") is not None:
        budget["timeBudgetMs"] = training["timeBudgetMs"]
    return budget


def global_params_inline(start: dict[str, Any]) -> np.ndarray | None:
    """The global model carried in the round start, or None when it must be downloaded by digest."""
    inline = start.get("globalParams")
    return bytes_to_params(base64.b64decode(inline)) if inline else None


def evaluation_properties(job_id: str, round_: int, attempt: int, agent_id: str, update: Update) -> dict[str, str] | None:
    """An evaluation-only round's answer (core/tuning.ts encodeUpdateHeader with evalOnly): examples 0 and the
    scores, sent with an empty payload; None when the trainer scored nothing."""
    if update.eval_loss is None or update.eval_accuracy is None or update.eval_examples is None:
        return None
    properties = update_properties(
        job_id,
        round_,
        attempt,
        agent_id,
        Update(params=np.zeros(0, dtype=np.float32), examples=0, eval_loss=update.eval_loss, eval_accuracy=update.eval_accuracy, eval_examples=update.eval_examples),
    )
    return {**properties, "evalOnly": "true"}
