package qp.analytics;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Pairs a task attempt's dispatch (tasks topic) with its agent's outcome (task-results topic) into
 * one task-completed event, by the rules of core/analytics/task-join.ts; other events pass through
 * in order. Not keyed: a keyed join would reorder joined tasks against the other events, and the
 * late-event rule depends on the order (the job runs with parallelism 1). The waiting halves are
 * checkpointed operator state.
 */
final class TaskJoin extends ProcessFunction<SwarmEvent, SwarmEvent> implements CheckpointedFunction {
  /** core/analytics/task-join.ts TASK_JOIN_HORIZON_MS. */
  static final long HORIZON_MS = 3_600_000L;

  private final long horizonMs;
  private final Map<String, SwarmEvent> dispatches = new LinkedHashMap<>();
  private final Map<String, SwarmEvent> outcomes = new LinkedHashMap<>();
  private long newest = Long.MIN_VALUE;
  private long lastSweep = Long.MIN_VALUE;
  private transient ListState<SwarmEvent> waiting;
  private transient ListState<Long> clocks;
  private transient Counter unmatched;

  TaskJoin(long horizonMs) {
    this.horizonMs = horizonMs;
  }

  @Override
  public void open(Configuration parameters) {
    unmatched = getRuntimeContext().getMetricGroup().counter("qpUnmatchedOutcomes");
  }

  @Override
  public void processElement(SwarmEvent e, Context ctx, Collector<SwarmEvent> out) {
    boolean dispatch = SwarmEvent.TASK_DISPATCHED.equals(e.kind);
    if (!dispatch && !SwarmEvent.TASK_OUTCOME.equals(e.kind)) {
      out.collect(e);
      return;
    }
    sweep(e.at);
    String key = e.taskId + "#" + e.attempt;
    SwarmEvent d;
    SwarmEvent o;
    if (dispatch) {
      if (dispatches.containsKey(key)) return;
      d = e;
      o = outcomes.get(key);
      if (o == null) dispatches.put(key, e);
    } else {
      if (outcomes.containsKey(key)) {
        unmatched.inc();
        return;
      }
      o = e;
      d = dispatches.get(key);
      if (d == null) outcomes.put(key, e);
    }
    if (d == null || o == null) return;
    dispatches.remove(key);
    outcomes.remove(key);
    if (!o.agentId.equals(d.agentId)) {
      unmatched.inc();
      return;
    }
    SwarmEvent t = new SwarmEvent();
    t.kind = SwarmEvent.TASK_COMPLETED;
    t.taskId = d.taskId;
    t.attempt = d.attempt;
    t.taskKind = d.taskKind;
    t.agentId = d.agentId;
    t.dispatchedAt = d.at;
    t.at = Math.max(o.at, d.at);
    t.deadlineAt = d.deadlineAt;
    t.outcome = o.outcome;
    out.collect(t);
  }

  private void sweep(long at) {
    if (at > newest) newest = at;
    if (lastSweep != Long.MIN_VALUE && newest - lastSweep < horizonMs / 10) return;
    lastSweep = newest;
    long cutoff = newest - horizonMs;
    dispatches.values().removeIf(d -> d.at < cutoff);
    for (Iterator<SwarmEvent> it = outcomes.values().iterator(); it.hasNext(); ) {
      if (it.next().at < cutoff) {
        it.remove();
        unmatched.inc();
      }
    }
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    List<SwarmEvent> all = new ArrayList<>(dispatches.values());
    all.addAll(outcomes.values());
    waiting.update(all);
    clocks.update(List.of(newest, lastSweep));
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    waiting = context.getOperatorStateStore().getListState(new ListStateDescriptor<>("waiting-task-halves", TypeInformation.of(SwarmEvent.class)));
    clocks = context.getOperatorStateStore().getListState(new ListStateDescriptor<>("task-join-clocks", Long.class));
    for (SwarmEvent e : waiting.get()) {
      (SwarmEvent.TASK_DISPATCHED.equals(e.kind) ? dispatches : outcomes).put(e.taskId + "#" + e.attempt, e);
    }
    List<Long> c = new ArrayList<>();
    for (Long x : clocks.get()) c.add(x);
    if (c.size() == 2) {
      newest = c.get(0);
      lastSweep = c.get(1);
    }
  }
}
