"""Delegated tasks from the agent's side: the messages it answers with (core/tasks.ts) and its default Contract Net bid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .allocation import TaskBid, allocation_agent, profile_bid

TaskMessage = dict[str, Any]


class TaskDeclined(Exception):
    """Raised by TaskContext.decline: reported to the manager as a decline (it reallocates the task), not a failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"declined: {reason}")
        self.reason = reason


class TaskContext:
    """What a task handler can do besides returning a result or raising."""

    def __init__(self, report_progress: Callable[[float], None]) -> None:
        self._report_progress = report_progress

    def decline(self, reason: str) -> None:
        """Refuses the task: the manager gives it to another agent."""
        raise TaskDeclined(reason)

    def progress(self, fraction: float) -> None:
        """Reports progress, 0..1 (informational: the manager does not count it as an answer)."""
        self._report_progress(fraction)


# handler(task, context) -> small JSON result; task is the 'task' message (taskId, attempt, kind, input, deadlineMs, ...).
TaskHandler = Callable[[TaskMessage, TaskContext], Any]
# bid(announcement, own) -> TaskBid or None (no bid); own() is the bid from the agent's declared profile.
TaskBidder = Callable[[TaskMessage, Callable[[], "TaskBid | None"]], "TaskBid | None"]


def own_bid(announcement: TaskMessage, agent_id: str, capabilities: list[str], resources: dict[str, Any] | None, now_ms: float) -> TaskBid | None:
    """The bid the agent's declared profile gives for an announced task (the TypeScript SDK's default bidder)."""
    task = {
        "taskId": announcement["taskId"],
        "requirements": announcement.get("requirements") or {},
        "estimatedWork": announcement["estimatedWork"],
        "deadlineMs": announcement["deadlineMs"],
        "deferrable": announcement.get("deferrable"),
    }
    return profile_bid(task, allocation_agent(agent_id, capabilities, resources), now_ms)


def bid_message(announcement: TaskMessage, agent_id: str, bid: TaskBid) -> dict[str, Any]:
    """The 'task-bid' message (core/tasks.ts TaskBidMessage), fields in the TypeScript SDK's order."""
    return {
        "type": "task-bid",
        "taskId": announcement["taskId"],
        "attempt": announcement["attempt"],
        "agentId": agent_id,
        "finishAtMs": bid.finish_at_ms,
        "energyWh": bid.energy_wh,
        "carbonG": bid.carbon_g,
    }


def outcome_message(task: TaskMessage, agent_id: str, outcome: str, **fields: Any) -> dict[str, Any]:
    """The 'task-outcome' message (core/tasks.ts TaskOutcomeMessage): outcome succeeded (result), failed or declined
    (reason), or progress (progress, 0..1)."""
    if outcome not in ("succeeded", "failed", "declined", "progress"):
        raise ValueError(f"unknown task outcome {outcome!r}")
    message: dict[str, Any] = {"type": "task-outcome", "taskId": task["taskId"], "attempt": task["attempt"], "agentId": agent_id, "outcome": outcome}
    if outcome == "succeeded":
        message["result"] = fields.get("result")
    for name in ("reason", "progress"):
        if name in fields:
            message[name] = fields[name]
    return message
