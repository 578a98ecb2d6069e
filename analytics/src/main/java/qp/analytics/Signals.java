package qp.analytics;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What one tumbling window yields per signal: the same numbers as core/analytics/signals.ts,
 * computed over the window's events in event-time order (stable: ties keep arrival order).
 */
public final class Signals {
  public static final String SCHEMA = "qp-analytics/1";

  private Signals() {}

  /** Rounds to 6 decimals, as the TypeScript does (Math.round rounds halves up in both). */
  public static double round6(double x) {
    return Math.round(x * 1e6) / 1e6;
  }

  public static long nearestRank(List<Long> sortedAscending, int p) {
    int rank = Math.max(1, (int) Math.ceil((p / 100.0) * sortedAscending.size()));
    return sortedAscending.get(rank - 1);
  }

  public static List<SwarmEvent> inEventTimeOrder(Iterable<SwarmEvent> events) {
    List<SwarmEvent> list = new ArrayList<>();
    for (SwarmEvent e : events) list.add(e);
    list.sort(Comparator.comparingLong(e -> e.at));
    return list;
  }

  public static Map<String, Object> header(String swarmId, String signal, String key, long windowStart, long windowEnd) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("schema", SCHEMA);
    r.put("swarmId", swarmId);
    r.put("signal", signal);
    r.put("key", key);
    r.put("windowStart", windowStart);
    r.put("windowEnd", windowEnd);
    return r;
  }

  public static Map<String, Object> agentEnergy(Map<String, Object> r, List<SwarmEvent> beats) {
    double energyWh = 0, carbonG = 0, loadSum = 0;
    int loads = 0;
    for (SwarmEvent b : beats) {
      double wh = b.energyUsedWh == null ? 0 : b.energyUsedWh;
      energyWh += wh;
      if (b.carbonIntensityGPerKWh != null) carbonG += (wh * b.carbonIntensityGPerKWh) / 1000;
      if (b.load != null) { loadSum += b.load; loads++; }
    }
    r.put("heartbeats", beats.size());
    r.put("energyWh", round6(energyWh));
    r.put("carbonG", round6(carbonG));
    r.put("meanLoad", loads == 0 ? null : round6(loadSum / loads));
    return r;
  }

  public static Map<String, Object> swarmPower(Map<String, Object> r, List<SwarmEvent> beats, long windowMs) {
    double energyWh = 0, carbonG = 0;
    Set<String> agents = new HashSet<>();
    for (SwarmEvent b : beats) {
      agents.add(b.agentId);
      double wh = b.energyUsedWh == null ? 0 : b.energyUsedWh;
      energyWh += wh;
      if (b.carbonIntensityGPerKWh != null) carbonG += (wh * b.carbonIntensityGPerKWh) / 1000;
    }
    r.put("agents", agents.size());
    r.put("energyWh", round6(energyWh));
    r.put("carbonG", round6(carbonG));
    r.put("meanPowerW", round6((energyWh * 3_600_000) / windowMs));
    r.put("carbonIntensityGPerKWh", energyWh > 0 ? round6((carbonG * 1000) / energyWh) : null);
    return r;
  }

  /** Fills r and returns the agent's last heartbeat time to carry to its next window. */
  public static Long heartbeatLiveness(Map<String, Object> r, List<SwarmEvent> beats, Long previousAt, long graceMs, int flapThreshold) {
    Long prev = previousAt;
    Long maxGapMs = null;
    int gapsOverGrace = 0;
    for (SwarmEvent b : beats) {
      if (prev != null) {
        long gap = b.at - prev;
        if (maxGapMs == null || gap > maxGapMs) maxGapMs = gap;
        if (gap > graceMs) gapsOverGrace++;
      }
      prev = b.at;
    }
    int flips = 2 * gapsOverGrace;
    r.put("heartbeats", beats.size());
    r.put("maxGapMs", maxGapMs);
    r.put("gapsOverGrace", gapsOverGrace);
    r.put("flips", flips);
    r.put("flapping", flips > flapThreshold);
    return prev;
  }

  public static Map<String, Object> taskLatency(Map<String, Object> r, List<SwarmEvent> tasks) {
    List<Long> latencies = new ArrayList<>();
    int misses = 0, failed = 0;
    for (SwarmEvent t : tasks) {
      latencies.add(t.at - t.dispatchedAt);
      if (t.deadlineAt != null && t.at > t.deadlineAt) misses++;
      if ("failed".equals(t.outcome)) failed++;
    }
    latencies.sort(Comparator.naturalOrder());
    r.put("tasks", tasks.size());
    r.put("failed", failed);
    r.put("p50Ms", nearestRank(latencies, 50));
    r.put("p95Ms", nearestRank(latencies, 95));
    r.put("p99Ms", nearestRank(latencies, 99));
    r.put("deadlineMisses", misses);
    r.put("deadlineMissRate", round6((double) misses / tasks.size()));
    return r;
  }

  public static Map<String, Object> stragglers(Map<String, Object> r, int rounds, int straggled) {
    r.put("rounds", rounds);
    r.put("straggled", straggled);
    r.put("stragglerRate", round6((double) straggled / rounds));
    return r;
  }

  public static Map<String, Object> updateRejections(Map<String, Object> r, List<SwarmEvent> rejected, int burstThreshold) {
    Map<String, Integer> reasons = new TreeMap<>();
    Set<String> agents = new HashSet<>();
    for (SwarmEvent e : rejected) {
      reasons.merge(e.reason, 1, Integer::sum);
      agents.add(e.agentId);
    }
    r.put("rejections", rejected.size());
    r.put("agents", agents.size());
    r.put("reasons", reasons);
    r.put("burst", rejected.size() >= burstThreshold);
    return r;
  }

  /**
   * A decision's ballots in a window and its turnout so far (core/analytics/signals.ts ballotTurnout):
   * voters = distinct agents that voted by the window's end, over the eligible agents of its proposal.
   * eligible and voters are the decision's state before the window; both are updated in place.
   */
  public static Map<String, Object> ballotTurnout(Map<String, Object> r, List<SwarmEvent> events, Integer[] eligible, Set<String> voters) {
    int ballots = 0;
    for (SwarmEvent e : events) {
      if (SwarmEvent.DECISION_OPENED.equals(e.kind)) eligible[0] = e.eligible;
      else if (SwarmEvent.DECISION_CLOSED.equals(e.kind)) continue;
      else {
        ballots++;
        voters.add(e.agentId);
      }
    }
    r.put("ballots", ballots);
    r.put("voters", voters.size());
    r.put("eligible", eligible[0]);
    r.put("turnout", eligible[0] == null || eligible[0] == 0 ? null : round6((double) voters.size() / eligible[0]));
    return r;
  }
}
