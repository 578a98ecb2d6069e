package qp.analytics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Drops repeats of an at-least-once event by its key, by the rules of core/analytics/dedup.ts:
 * round-closed is named by (jobId, round, attempt) and only its first copy passes (a retried tuning
 * activity publishes it again, with a later closedAt); update-rejected by (jobId, round, attempt,
 * agentId, reason, seq) when it carries attempt and seq, else by (jobId, updateId) (an asynchronous job's refusal:
 * its update's message id, the same when a redelivered update is refused again), else it passes; other events pass in order. A key is
 * remembered until the newest round-closed time is the horizon past its first copy. Not keyed, for
 * the same reason as TaskJoin (order); the remembered keys are checkpointed operator state.
 */
final class DuplicateFilter extends ProcessFunction<SwarmEvent, SwarmEvent> implements CheckpointedFunction {
  /** core/analytics/dedup.ts DEDUP_HORIZON_MS. */
  static final long HORIZON_MS = 3_600_000L;

  private final long horizonMs;
  private final Map<String, Long> seen = new LinkedHashMap<>();
  private long newest = Long.MIN_VALUE;
  private long lastSweep = Long.MIN_VALUE;
  private transient ListState<Tuple2<String, Long>> checkpointed;
  private transient ListState<Long> clocks;
  private transient Counter duplicates;

  DuplicateFilter(long horizonMs) {
    this.horizonMs = horizonMs;
  }

  /** The name two copies share, or null for an event without one. */
  static String eventKey(SwarmEvent e) {
    if (SwarmEvent.ROUND_CLOSED.equals(e.kind)) return "round-closed|" + e.jobId + "|" + e.round + "|" + e.attempt;
    if (!SwarmEvent.UPDATE_REJECTED.equals(e.kind)) return null;
    if (e.attempt == null || e.seq == null) return e.updateId == null ? null : "update-rejected|" + e.jobId + "|update|" + e.updateId;
    return "update-rejected|" + e.jobId + "|" + e.round + "|" + e.attempt + "|" + e.agentId + "|" + e.reason + "|" + e.seq;
  }

  @Override
  public void open(Configuration parameters) {
    duplicates = getRuntimeContext().getMetricGroup().counter("qpDuplicateEvents");
  }

  @Override
  public void processElement(SwarmEvent e, Context ctx, Collector<SwarmEvent> out) {
    String key = eventKey(e);
    if (key == null) {
      out.collect(e);
      return;
    }
    sweep(e.at);
    if (seen.putIfAbsent(key, e.at) != null) {
      duplicates.inc();
      return;
    }
    out.collect(e);
  }

  private void sweep(long at) {
    if (at > newest) newest = at;
    if (lastSweep != Long.MIN_VALUE && newest - lastSweep < horizonMs / 10) return;
    lastSweep = newest;
    long cutoff = newest - horizonMs;
    seen.values().removeIf(firstAt -> firstAt < cutoff);
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    List<Tuple2<String, Long>> all = new ArrayList<>();
    for (Map.Entry<String, Long> k : seen.entrySet()) all.add(Tuple2.of(k.getKey(), k.getValue()));
    checkpointed.update(all);
    clocks.update(List.of(newest, lastSweep));
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    checkpointed = context.getOperatorStateStore().getListState(
        new ListStateDescriptor<>("seen-event-keys", TypeInformation.of(new TypeHint<Tuple2<String, Long>>() {})));
    clocks = context.getOperatorStateStore().getListState(new ListStateDescriptor<>("dedup-clocks", Types.LONG));
    for (Tuple2<String, Long> k : checkpointed.get()) seen.put(k.f0, k.f1);
    List<Long> c = new ArrayList<>();
    for (Long x : clocks.get()) c.add(x);
    if (c.size() == 2) {
      newest = c.get(0);
      lastSweep = c.get(1);
    }
  }
}
