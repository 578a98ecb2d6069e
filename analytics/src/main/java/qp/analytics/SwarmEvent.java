package qp.analytics;

import java.util.List;

/**
 * One event of a swarm's topics, parsed (the TypeScript twin: core/analytics/events.ts).
 * A Flink POJO: public fields, a no-argument constructor; fields a kind does not use stay null.
 */
public class SwarmEvent {
  public static final String HEARTBEAT = "heartbeat";
  public static final String AGENT_REGISTERED = "agent-registered";
  public static final String TASK_DISPATCHED = "task-dispatched";
  public static final String TASK_OUTCOME = "task-outcome";
  public static final String TASK_COMPLETED = "task-completed";
  public static final String ROUND_CLOSED = "round-closed";
  public static final String UPDATE_REJECTED = "update-rejected";
  public static final String DECISION_OPENED = "decision-opened";
  public static final String DECISION_CLOSED = "decision-closed";
  public static final String BALLOT = "ballot";

  public String kind;
  /** Event time, ms since the epoch. */
  public long at;
  public String agentId;
  // heartbeat
  public Double load;
  public Double energyUsedWh;
  public Double carbonIntensityGPerKWh;
  // task-dispatched, task-outcome (the halves TaskJoin pairs), task-completed
  public String taskId;
  public Integer attempt;
  public String taskKind;
  public Long dispatchedAt;
  public Long deadlineAt;
  public String outcome;
  // round-closed, update-rejected
  public String jobId;
  public Integer round;
  public List<String> participants;
  public List<String> stragglers;
  public String reason;
  /** update-rejected: rank among its collection attempt's refusals of the agent for the reason (with attempt, its name). */
  public Integer seq;
  /** update-rejected of an asynchronous job: the refused update's message id (without attempt and seq, its name). */
  public String updateId;
  // decision-opened, decision-closed, ballot
  public String decisionId;
  public Integer eligible;

  public SwarmEvent() {}
}
