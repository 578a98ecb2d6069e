package qp.analytics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** Parses a swarm topic's payload by the rules of core/analytics/events.ts. */
public final class EventParser {
  public enum Source { HEARTBEATS, TASKS, TASK_RESULTS, ROUNDS, ROSTER, CONTROL, BALLOTS }

  /** Either an event, or why there is none: malformed, invalid (bad events) or ignored (another message type). */
  public static final class Outcome {
    public final SwarmEvent event;
    public final String reason;
    private Outcome(SwarmEvent event, String reason) { this.event = event; this.reason = reason; }
    static Outcome of(SwarmEvent e) { return e == null ? new Outcome(null, "invalid") : new Outcome(e, null); }
    static Outcome not(String reason) { return new Outcome(null, reason); }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern ID = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
  private static final Pattern TASK_ID = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
  private static final Pattern DIGITS = Pattern.compile("^[0-9]{1,16}$");
  private static final long MAX_TIME = 8_640_000_000_000_000L;

  private EventParser() {}

  /** The source a topic name belongs to (persistent://tenant/swarm/<name>[-partition-N]), or null. */
  public static Source sourceOf(String topic) {
    String name = topic.replaceAll("-partition-\\d+$", "");
    name = name.substring(name.lastIndexOf('/') + 1);
    switch (name) {
      case "heartbeats": return Source.HEARTBEATS;
      case "tasks": return Source.TASKS;
      case "task-results": return Source.TASK_RESULTS;
      case "rounds": return Source.ROUNDS;
      case "roster": return Source.ROSTER;
      case "control": return Source.CONTROL;
      default: return name.startsWith("decision-") ? Source.BALLOTS : null;
    }
  }

  public static Outcome parse(Source source, String text) {
    return parse(source, text, null);
  }

  /** sentAt: the message's sentAt property (a task outcome's event time), or null. */
  public static Outcome parse(Source source, String text, String sentAt) {
    JsonNode j;
    try {
      j = JSON.readTree(text);
    } catch (Exception e) {
      return Outcome.not("malformed");
    }
    if (j == null || !j.isObject()) return Outcome.not("malformed");
    switch (source) {
      case HEARTBEATS: return Outcome.of(heartbeat(j));
      case TASKS:
        if (!"task-dispatched".equals(text(j, "type"))) return Outcome.not("ignored");
        return Outcome.of(taskDispatched(j));
      case ROSTER: {
        if (!"agent-registered".equals(text(j, "type"))) return Outcome.not("ignored");
        SwarmEvent e = new SwarmEvent();
        e.kind = SwarmEvent.AGENT_REGISTERED;
        e.agentId = id(j, "agentId");
        Long at = time(j, "registeredAt");
        if (e.agentId == null || at == null) return Outcome.of(null);
        e.at = at;
        return Outcome.of(e);
      }
      case CONTROL:
        if ("decision-proposal".equals(text(j, "type"))) return Outcome.of(decisionOpened(j));
        if ("decision-outcome".equals(text(j, "type"))) return Outcome.of(decisionClosed(j));
        return Outcome.not("ignored");
      case BALLOTS:
        return Outcome.of(ballot(j));
      case TASK_RESULTS: {
        String outcome = text(j, "outcome");
        if (!"task-outcome".equals(text(j, "type")) || "declined".equals(outcome) || "progress".equals(outcome)) return Outcome.not("ignored");
        return Outcome.of(taskOutcome(j, sentAt));
      }
      default:
        String type = text(j, "type");
        if ("round-closed".equals(type)) return Outcome.of(roundClosed(j));
        if ("update-rejected".equals(type)) return Outcome.of(updateRejected(j));
        return Outcome.not("ignored");
    }
  }

  private static String text(JsonNode j, String field) {
    JsonNode v = j.get(field);
    return v != null && v.isTextual() ? v.asText() : null;
  }

  private static String id(JsonNode j, String field) {
    String s = text(j, field);
    return s != null && ID.matcher(s).matches() ? s : null;
  }

  private static boolean absent(JsonNode j, String field) {
    return !j.has(field);
  }

  /** An integer ms time in range, or null. JSON numbers like 5.0 count as integers, as in JavaScript. */
  private static Long time(JsonNode j, String field) {
    JsonNode v = j.get(field);
    if (v == null || !v.isNumber()) return null;
    double d = v.asDouble();
    if (d != Math.rint(d) || d < 0 || d > MAX_TIME) return null;
    return (long) d;
  }

  private static Double nonNegative(JsonNode j, String field) {
    JsonNode v = j.get(field);
    if (v == null || !v.isNumber()) return null;
    double d = v.asDouble();
    return Double.isFinite(d) && d >= 0 ? d : null;
  }

  private static Integer positiveInt(JsonNode j, String field) {
    JsonNode v = j.get(field);
    if (v == null || !v.isNumber()) return null;
    double d = v.asDouble();
    return d == Math.rint(d) && d >= 1 && d <= Integer.MAX_VALUE ? (int) d : null;
  }

  private static List<String> ids(JsonNode j, String field) {
    JsonNode v = j.get(field);
    if (v == null || !v.isArray()) return null;
    List<String> out = new ArrayList<>();
    for (JsonNode x : v) {
      if (!x.isTextual() || !ID.matcher(x.asText()).matches()) return null;
      out.add(x.asText());
    }
    return out;
  }

  private static SwarmEvent heartbeat(JsonNode j) {
    SwarmEvent e = new SwarmEvent();
    e.kind = SwarmEvent.HEARTBEAT;
    e.agentId = id(j, "agentId");
    Long at = time(j, "sentAt");
    if (e.agentId == null || at == null) return null;
    e.at = at;
    if (!absent(j, "load")) {
      e.load = nonNegative(j, "load");
      if (e.load == null || e.load > 1) return null;
    }
    if (!absent(j, "energyUsedWh") && (e.energyUsedWh = nonNegative(j, "energyUsedWh")) == null) return null;
    if (!absent(j, "carbonIntensityGPerKWh") && (e.carbonIntensityGPerKWh = nonNegative(j, "carbonIntensityGPerKWh")) == null) return null;
    return e;
  }

  private static String taskId(JsonNode j) {
    String s = text(j, "taskId");
    return s != null && TASK_ID.matcher(s).matches() ? s : null;
  }

  private static SwarmEvent taskDispatched(JsonNode j) {
    SwarmEvent e = new SwarmEvent();
    e.kind = SwarmEvent.TASK_DISPATCHED;
    e.taskId = taskId(j);
    e.attempt = positiveInt(j, "attempt");
    e.taskKind = text(j, "kind");
    e.agentId = id(j, "agentId");
    Long at = time(j, "dispatchedAt");
    e.deadlineAt = time(j, "deadlineMs");
    if (e.taskId == null || e.attempt == null || e.taskKind == null || e.agentId == null || at == null || e.deadlineAt == null) return null;
    // JavaScript string length: UTF-16 code units, as Java's
    if (e.taskKind.isEmpty() || e.taskKind.length() > 128) return null;
    e.at = at;
    return e;
  }

  private static SwarmEvent taskOutcome(JsonNode j, String sentAt) {
    SwarmEvent e = new SwarmEvent();
    e.kind = SwarmEvent.TASK_OUTCOME;
    e.taskId = taskId(j);
    e.attempt = positiveInt(j, "attempt");
    e.agentId = id(j, "agentId");
    e.outcome = text(j, "outcome");
    if (e.taskId == null || e.attempt == null || e.agentId == null || sentAt == null || !DIGITS.matcher(sentAt).matches()) return null;
    long at = Long.parseLong(sentAt);
    if (at > MAX_TIME) return null;
    if (!"succeeded".equals(e.outcome) && !"failed".equals(e.outcome)) return null;
    e.at = at;
    return e;
  }

  private static SwarmEvent decisionOpened(JsonNode j) {
    SwarmEvent e = new SwarmEvent();
    e.kind = SwarmEvent.DECISION_OPENED;
    e.decisionId = id(j, "decisionId");
    Long at = time(j, "opensAt");
    JsonNode voters = j.get("voters");
    if (e.decisionId == null || at == null || voters == null || !voters.isNumber()) return null;
    double d = voters.asDouble();
    if (d != Math.rint(d) || d < 0 || d > Integer.MAX_VALUE) return null;
    e.eligible = (int) d;
    e.at = at;
    return e;
  }

  private static SwarmEvent decisionClosed(JsonNode j) {
    SwarmEvent e = new SwarmEvent();
    e.kind = SwarmEvent.DECISION_CLOSED;
    e.decisionId = id(j, "decisionId");
    Long at = time(j, "closedAt");
    if (e.decisionId == null || at == null) return null;
    e.at = at;
    return e;
  }

  private static SwarmEvent ballot(JsonNode j) {
    SwarmEvent e = new SwarmEvent();
    e.kind = SwarmEvent.BALLOT;
    e.decisionId = id(j, "decisionId");
    e.agentId = id(j, "agentId");
    Long at = time(j, "castAt");
    if (e.decisionId == null || e.agentId == null || at == null) return null;
    e.at = at;
    return e;
  }

  private static SwarmEvent roundClosed(JsonNode j) {
    SwarmEvent e = new SwarmEvent();
    e.kind = SwarmEvent.ROUND_CLOSED;
    e.jobId = id(j, "jobId");
    e.round = positiveInt(j, "round");
    e.attempt = positiveInt(j, "attempt");
    Long at = time(j, "closedAt");
    e.participants = ids(j, "participants");
    e.stragglers = ids(j, "stragglers");
    if (e.jobId == null || e.round == null || e.attempt == null || at == null || e.participants == null || e.stragglers == null) return null;
    e.at = at;
    return e;
  }

  private static SwarmEvent updateRejected(JsonNode j) {
    SwarmEvent e = new SwarmEvent();
    e.kind = SwarmEvent.UPDATE_REJECTED;
    e.jobId = id(j, "jobId");
    e.round = positiveInt(j, "round");
    e.agentId = id(j, "agentId");
    e.reason = text(j, "reason");
    Long at = time(j, "rejectedAt");
    if (e.jobId == null || e.round == null || e.agentId == null || at == null) return null;
    if (e.reason == null || e.reason.isEmpty() || e.reason.length() > 64) return null;
    if (!absent(j, "attempt") && (e.attempt = positiveInt(j, "attempt")) == null) return null;
    if (!absent(j, "seq") && (e.seq = positiveInt(j, "seq")) == null) return null;
    if (!absent(j, "updateId")) {
      e.updateId = text(j, "updateId");
      if (e.updateId == null || e.updateId.isEmpty() || e.updateId.length() > 256) return null;
    }
    e.at = at;
    return e;
  }
}
