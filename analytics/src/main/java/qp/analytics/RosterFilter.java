package qp.analytics;

import java.util.HashSet;
import java.util.Set;
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
 * Keeps the agent ids the swarm's roster named (agent-registered) and drops the heartbeats, task
 * outcomes and ballots of any other id, counted as unknown agents (the rule of core/analytics/engine.ts).
 * The manager's own events (dispatches, rounds) pass. Operator state, checkpointed; union state so
 * that every instance restores every id.
 */
final class RosterFilter extends ProcessFunction<SwarmEvent, SwarmEvent> implements CheckpointedFunction {
  private final Set<String> known = new HashSet<>();
  private transient ListState<String> checkpointed;
  private transient Counter unknown;

  @Override
  public void open(Configuration parameters) {
    unknown = getRuntimeContext().getMetricGroup().counter("qpUnknownAgents");
  }

  @Override
  public void processElement(SwarmEvent e, Context ctx, Collector<SwarmEvent> out) {
    if (SwarmEvent.AGENT_REGISTERED.equals(e.kind)) {
      known.add(e.agentId);
      return;
    }
    boolean fromAgent = SwarmEvent.HEARTBEAT.equals(e.kind) || SwarmEvent.TASK_OUTCOME.equals(e.kind) || SwarmEvent.BALLOT.equals(e.kind);
    if (fromAgent && !known.contains(e.agentId)) {
      unknown.inc();
      return;
    }
    out.collect(e);
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    checkpointed.update(new java.util.ArrayList<>(known));
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    checkpointed = context.getOperatorStateStore().getUnionListState(new ListStateDescriptor<>("roster", Types.STRING));
    for (String id : checkpointed.get()) known.add(id);
  }
}
