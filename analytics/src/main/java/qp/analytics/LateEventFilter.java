package qp.analytics;

import java.util.Collections;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Drops events whose window the watermark has passed (the rule of core/analytics/engine.ts) and
 * counts them. Flink does not checkpoint watermarks: after a restore the watermark starts over,
 * and a late event replayed from the source would open its fired window a second time. The
 * largest event time seen is checkpointed here, so late stays late across restores.
 */
final class LateEventFilter extends ProcessFunction<SwarmEvent, SwarmEvent> implements CheckpointedFunction {
  private final long windowMs;
  private final long latenessMs;
  private long maxTs = Long.MIN_VALUE;
  private transient ListState<Long> checkpointed;
  private transient Counter late;

  LateEventFilter(long windowMs, long latenessMs) {
    this.windowMs = windowMs;
    this.latenessMs = latenessMs;
  }

  @Override
  public void open(Configuration parameters) {
    late = getRuntimeContext().getMetricGroup().counter("qpLateEvents");
  }

  @Override
  public void processElement(SwarmEvent e, Context ctx, Collector<SwarmEvent> out) {
    long windowStart = e.at - Math.floorMod(e.at, windowMs);
    if (maxTs != Long.MIN_VALUE && windowStart + windowMs - 1 <= maxTs - latenessMs - 1) {
      late.inc();
      return;
    }
    if (e.at > maxTs) maxTs = e.at;
    out.collect(e);
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    checkpointed.update(Collections.singletonList(maxTs));
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    // Union state: with parallelism above 1 every instance restores the largest of all.
    checkpointed = context.getOperatorStateStore().getUnionListState(new ListStateDescriptor<>("max-event-time", Types.LONG));
    for (Long ts : checkpointed.get()) maxTs = Math.max(maxTs, ts);
  }
}
