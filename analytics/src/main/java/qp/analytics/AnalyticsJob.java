package qp.analytics;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.common.state.KeyedStateStore;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.utils.ParameterTool;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.pulsar.sink.PulsarSink;
import org.apache.flink.connector.pulsar.source.PulsarSource;
import org.apache.flink.connector.pulsar.source.PulsarSourceOptions;
import org.apache.flink.connector.pulsar.source.enumerator.cursor.StartCursor;
import org.apache.flink.connector.pulsar.source.reader.deserializer.PulsarDeserializationSchema;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.CheckpointingMode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.time.Time;
import org.apache.flink.streaming.api.windowing.triggers.EventTimeTrigger;
import org.apache.flink.streaming.api.windowing.triggers.PurgingTrigger;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;
import org.apache.pulsar.client.api.Message;

/**
 * The swarm analytics job: one swarm's heartbeats, tasks, task-results, rounds, roster and control
 * topics and its decisions' ballot topics (one subscription, a topic pattern: ballot topics are found
 * every discovery-ms)
 * -> named event-time streams over tumbling windows -> the swarm's analytics topic (JSON, schema
 * qp-analytics/1). Round-closed events (at least once: published by retried activities) are
 * deduplicated by key before windowing. Checkpointed; the sink is at-least-once, so a window can be written twice
 * after a restore and consumers keep the first of each (signal, key, windowStart).
 */
public final class AnalyticsJob {
  static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    ParameterTool p = ParameterTool.fromArgs(args);
    String swarmId = p.getRequired("swarm");
    String tenant = p.get("tenant", "public");
    String base = "persistent://" + tenant + "/" + swarmId + "/";
    long windowMs = p.getLong("window-ms", 60_000);
    long latenessMs = p.getLong("lateness-ms", 5_000);
    long graceMs = p.getLong("grace-ms", 30_000);
    int flapThreshold = p.getInt("flap-threshold", 4);
    int burstThreshold = p.getInt("burst-threshold", 5);
    long decisionIdleMs = p.getLong("decision-idle-ms", TurnoutWindow.IDLE_MS);
    String jobName = p.get("job-name", "qp-analytics/" + swarmId);

    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.enableCheckpointing(p.getLong("checkpoint-ms", 5_000), CheckpointingMode.EXACTLY_ONCE);

    PulsarSource<RawMessage> source = PulsarSource.builder()
        .setServiceUrl(p.get("service-url", "pulsar://127.0.0.1:6650"))
        .setAdminUrl(p.get("admin-url", "http://127.0.0.1:8090"))
        // the fixed topics and one ballot topic per decision, found while the job runs
        .setTopicPattern(base + "(heartbeats|tasks|task-results|rounds|roster|control|decision-[A-Za-z0-9._-]+)(-partition-[0-9]+)?")
        .setConfig(PulsarSourceOptions.PULSAR_PARTITION_DISCOVERY_INTERVAL_MS, p.getLong("discovery-ms", 10_000))
        .setSubscriptionName(p.get("subscription", "qp-analytics"))
        .setStartCursor(StartCursor.earliest())
        .setDeserializationSchema(new RawMessageSchema())
        .build();

    DataStream<SwarmEvent> events = env
        .fromSource(source, WatermarkStrategy.noWatermarks(), "swarm-topics").uid("swarm-topics")
        .process(new ParseEvents()).name("parse-events").uid("parse-events")
        .process(new RosterFilter()).name("roster").uid("roster")
        .process(new DuplicateFilter(DuplicateFilter.HORIZON_MS)).name("dedup").uid("dedup")
        .process(new TaskJoin(TaskJoin.HORIZON_MS)).name("task-join").uid("task-join")
        .process(new LateEventFilter(windowMs, latenessMs)).name("late-events").uid("late-events")
        .assignTimestampsAndWatermarks(WatermarkStrategy
            .<SwarmEvent>forGenerator(ctx -> new EveryEventWatermarks(latenessMs))
            .withTimestampAssigner((e, ts) -> e.at))
        .name("event-time").uid("event-time");

    TumblingEventTimeWindows windows = TumblingEventTimeWindows.of(Time.milliseconds(windowMs));
    DataStream<SwarmEvent> heartbeats = events.filter(e -> SwarmEvent.HEARTBEAT.equals(e.kind)).name("heartbeats");

    DataStream<String> agentEnergy = heartbeats.keyBy(e -> e.agentId).window(windows)
        .process(new Window(swarmId, "agent-energy", (r, list, w) -> Signals.agentEnergy(r, list)))
        .name("agent-energy").uid("agent-energy");
    DataStream<String> swarmPower = heartbeats.keyBy(e -> "swarm").window(windows)
        .process(new Window(swarmId, "swarm-power", (r, list, w) -> Signals.swarmPower(r, list, w.getEnd() - w.getStart())))
        .name("swarm-power").uid("swarm-power");
    DataStream<String> livenessWindows = heartbeats.keyBy(e -> e.agentId).window(windows)
        .process(new LivenessWindow(swarmId, graceMs, flapThreshold))
        .name("heartbeat-liveness").uid("heartbeat-liveness");
    // flapping with Flink CEP (counted in qpFlappingAgents) is the published flapping flag
    DataStream<String> flapping = Flapping.detect(heartbeats, graceMs, windowMs, flapThreshold);
    DataStream<String> liveness = livenessWindows.keyBy(Flapping::agentWindowOf)
        .connect(flapping.keyBy(k -> k))
        .process(new Flapping.Publish(windowMs))
        .name("liveness-flapping").uid("liveness-flapping");
    DataStream<String> taskLatency = events.filter(e -> SwarmEvent.TASK_COMPLETED.equals(e.kind)).name("tasks")
        .keyBy(e -> e.taskKind).window(windows)
        .process(new Window(swarmId, "task-latency", (r, list, w) -> Signals.taskLatency(r, list)))
        .name("task-latency").uid("task-latency");
    DataStream<String> stragglers = events.filter(e -> SwarmEvent.ROUND_CLOSED.equals(e.kind)).name("rounds")
        .flatMap(AnalyticsJob::participation).returns(SwarmEvent.class).name("round-participation")
        .keyBy(e -> e.agentId).window(windows)
        .process(new Window(swarmId, "stragglers", (r, list, w) -> {
          int straggled = 0;
          for (SwarmEvent e : list) if (e.round == 1) straggled++;
          return Signals.stragglers(r, list.size(), straggled);
        }))
        .name("stragglers").uid("stragglers");
    DataStream<String> rejections = events.filter(e -> SwarmEvent.UPDATE_REJECTED.equals(e.kind)).name("rejections")
        .keyBy(e -> e.jobId).window(windows)
        .process(new Window(swarmId, "update-rejections", (r, list, w) -> Signals.updateRejections(r, list, burstThreshold)))
        .name("update-rejections").uid("update-rejections");

    DataStream<String> turnout = turnout(events
        .filter(e -> SwarmEvent.DECISION_OPENED.equals(e.kind) || SwarmEvent.DECISION_CLOSED.equals(e.kind) || SwarmEvent.BALLOT.equals(e.kind)).name("ballots"),
        swarmId, windowMs, decisionIdleMs);


    PulsarSink<String> sink = PulsarSink.builder()
        .setServiceUrl(p.get("service-url", "pulsar://127.0.0.1:6650"))
        .setAdminUrl(p.get("admin-url", "http://127.0.0.1:8090"))
        .setTopics(base + "analytics")
        .setSerializationSchema(new SimpleStringSchema())
        .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        .build();
    agentEnergy.union(swarmPower, liveness, taskLatency, stragglers, rejections, turnout)
        .sinkTo(sink).name("analytics-topic").uid("analytics-topic");
    env.execute(jobName);
  }

  /** A round's participants, one event each: round = 1 when the agent straggled, 0 when not. */
  static void participation(SwarmEvent round, Collector<SwarmEvent> out) {
    Set<String> seen = new HashSet<>();
    Set<String> stragglers = new HashSet<>(round.stragglers);
    for (List<String> list : List.of(round.participants, round.stragglers)) {
      for (String agentId : list) {
        if (!seen.add(agentId)) continue;
        SwarmEvent e = new SwarmEvent();
        e.kind = "participation";
        e.agentId = agentId;
        e.at = round.at;
        e.round = stragglers.contains(agentId) ? 1 : 0;
        out.collect(e);
      }
    }
  }

  /**
   * Each decision's ballot-turnout windows. Their allowed lateness is the decision idle time, only so
   * that each window is cleaned up that long after it fired (TurnoutWindow.clear drops an idle
   * decision's state there): no late event reaches a window (LateEventFilter drops them before, by
   * the same watermark), and each window's events are purged as it fires.
   */
  static SingleOutputStreamOperator<String> turnout(DataStream<SwarmEvent> votes, String swarmId, long windowMs, long idleMs) {
    return votes.keyBy(e -> e.decisionId)
        .window(TumblingEventTimeWindows.of(Time.milliseconds(windowMs)))
        .trigger(PurgingTrigger.of(EventTimeTrigger.create()))
        .allowedLateness(Time.milliseconds(idleMs))
        .process(new TurnoutWindow(swarmId, idleMs))
        .name("ballot-turnout").uid("ballot-turnout");
  }

  /** A Pulsar message's topic, payload and sentAt property (the agent's proof header, on task outcomes). */
  public static class RawMessage {
    public String topic;
    public String payload;
    public String sentAt;
    public RawMessage() {}
  }

  static final class RawMessageSchema implements PulsarDeserializationSchema<RawMessage> {
    @Override
    public void deserialize(Message<byte[]> message, Collector<RawMessage> out) {
      RawMessage m = new RawMessage();
      m.topic = message.getTopicName();
      m.payload = new String(message.getValue(), StandardCharsets.UTF_8);
      m.sentAt = message.getProperty("sentAt");
      out.collect(m);
    }

    @Override
    public TypeInformation<RawMessage> getProducedType() {
      return TypeInformation.of(RawMessage.class);
    }
  }

  /** Parses; bad events (malformed, invalid) and other message types are counted and skipped. */
  static final class ParseEvents extends ProcessFunction<RawMessage, SwarmEvent> {
    private transient Counter malformed;
    private transient Counter invalid;
    private transient Counter ignored;

    @Override
    public void open(Configuration parameters) {
      malformed = getRuntimeContext().getMetricGroup().counter("qpMalformedEvents");
      invalid = getRuntimeContext().getMetricGroup().counter("qpInvalidEvents");
      ignored = getRuntimeContext().getMetricGroup().counter("qpIgnoredEvents");
    }

    @Override
    public void processElement(RawMessage m, Context ctx, Collector<SwarmEvent> out) {
      EventParser.Source source = EventParser.sourceOf(m.topic);
      if (source == null) { ignored.inc(); return; }
      EventParser.Outcome o = EventParser.parse(source, m.payload, m.sentAt);
      if (o.event != null) out.collect(o.event);
      else if ("malformed".equals(o.reason)) malformed.inc();
      else if ("invalid".equals(o.reason)) invalid.inc();
      else ignored.inc();
    }
  }

  /**
   * Watermark = largest event time - lateness - 1, advanced with every event (not on a timer), so a
   * given order of events yields the same late events here as in core/analytics/engine.ts.
   */
  static final class EveryEventWatermarks implements WatermarkGenerator<SwarmEvent> {
    private final long latenessMs;
    private long maxTs = Long.MIN_VALUE;

    EveryEventWatermarks(long latenessMs) { this.latenessMs = latenessMs; }

    @Override
    public void onEvent(SwarmEvent event, long ts, WatermarkOutput output) {
      if (ts > maxTs) {
        maxTs = ts;
        output.emitWatermark(new Watermark(maxTs - latenessMs - 1));
      }
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {}
  }

  interface Compute extends java.io.Serializable {
    Map<String, Object> apply(Map<String, Object> header, List<SwarmEvent> inOrder, TimeWindow window);
  }

  static String toJson(Map<String, Object> record) {
    try {
      return JSON.writeValueAsString(record);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** A window of one key -> one record. */
  static final class Window extends ProcessWindowFunction<SwarmEvent, String, String, TimeWindow> {
    private final String swarmId;
    private final String signal;
    private final Compute compute;

    Window(String swarmId, String signal, Compute compute) {
      this.swarmId = swarmId;
      this.signal = signal;
      this.compute = compute;
    }

    @Override
    public void process(String key, Context ctx, Iterable<SwarmEvent> in, Collector<String> out) {
      TimeWindow w = ctx.window();
      Map<String, Object> header = Signals.header(swarmId, signal, key, w.getStart(), w.getEnd());
      out.collect(toJson(compute.apply(header, Signals.inEventTimeOrder(in), w)));
    }
  }

  /** Heartbeat gaps and flips; each agent's last heartbeat is kept across windows (keyed, checkpointed). */
  static final class LivenessWindow extends ProcessWindowFunction<SwarmEvent, String, String, TimeWindow> {
    private final String swarmId;
    private final long graceMs;
    private final int flapThreshold;
    private final ValueStateDescriptor<Long> lastSeen = new ValueStateDescriptor<>("last-heartbeat", Types.LONG);

    LivenessWindow(String swarmId, long graceMs, int flapThreshold) {
      this.swarmId = swarmId;
      this.graceMs = graceMs;
      this.flapThreshold = flapThreshold;
    }

    @Override
    public void process(String agentId, Context ctx, Iterable<SwarmEvent> in, Collector<String> out) throws Exception {
      TimeWindow w = ctx.window();
      ValueState<Long> state = ctx.globalState().getState(lastSeen);
      Map<String, Object> r = Signals.header(swarmId, "heartbeat-liveness", agentId, w.getStart(), w.getEnd());
      Long last = Signals.heartbeatLiveness(r, Signals.inEventTimeOrder(in), state.value(), graceMs, flapThreshold);
      if (last != null) state.update(last);
      out.collect(toJson(r));
    }
  }

  /**
   * A decision's ballots and turnout; its eligible voters and the agents that voted are kept across
   * windows (keyed, checkpointed) until the window holding its decision-outcome fires, then cleared
   * (a key's windows fire in time order, and a ballot cast before the closing falls in a window no later).
   * A decision without a proposal read keeps no state: its windows stand alone. A decision whose
   * outcome never comes is dropped once idleMs of event time passed after the end of its last window
   * (core/analytics/engine.ts decisionIdleMs): by that window's clean-up (clear), or, should its next
   * window fire at the same time, by that window (process), so the order of the two timers does not matter.
   */
  static final class TurnoutWindow extends ProcessWindowFunction<SwarmEvent, String, String, TimeWindow> {
    /** core/analytics/engine.ts DECISION_IDLE_MS: 7 days. */
    static final long IDLE_MS = 604_800_000L;

    private final String swarmId;
    private final long idleMs;
    private final ValueStateDescriptor<Integer> eligibleState = new ValueStateDescriptor<>("eligible-voters", Types.INT);
    private final MapStateDescriptor<String, Boolean> votersState = new MapStateDescriptor<>("voted", Types.STRING, Types.BOOLEAN);
    /** The end of the decision's last fired window, ms. */
    private final ValueStateDescriptor<Long> lastEndState = new ValueStateDescriptor<>("last-window-end", Types.LONG);

    private transient Counter closedDecisions;
    private transient Counter expiredDecisions;

    TurnoutWindow(String swarmId, long idleMs) {
      this.swarmId = swarmId;
      this.idleMs = idleMs;
    }

    @Override
    public void open(Configuration parameters) {
      closedDecisions = getRuntimeContext().getMetricGroup().counter("qpClosedDecisions");
      expiredDecisions = getRuntimeContext().getMetricGroup().counter("qpExpiredDecisions");
    }

    /** Drops the decision's state; true when there was some. */
    private boolean drop(KeyedStateStore state) throws Exception {
      ValueState<Long> lastEnd = state.getState(lastEndState);
      boolean had = lastEnd.value() != null;
      state.getState(eligibleState).clear();
      state.getMapState(votersState).clear();
      lastEnd.clear();
      return had;
    }

    @Override
    public void process(String decisionId, Context ctx, Iterable<SwarmEvent> in, Collector<String> out) throws Exception {
      TimeWindow w = ctx.window();
      Long lastEnd = ctx.globalState().getState(lastEndState).value();
      if (lastEnd != null && w.getEnd() - lastEnd >= idleMs && drop(ctx.globalState())) expiredDecisions.inc();
      ValueState<Integer> eligible = ctx.globalState().getState(eligibleState);
      MapState<String, Boolean> voted = ctx.globalState().getMapState(votersState);
      Set<String> voters = new HashSet<>();
      for (String agentId : voted.keys()) voters.add(agentId);
      int before = voters.size();
      Integer[] e = { eligible.value() };
      Map<String, Object> r = Signals.header(swarmId, "ballot-turnout", decisionId, w.getStart(), w.getEnd());
      List<SwarmEvent> inOrder = Signals.inEventTimeOrder(in);
      Signals.ballotTurnout(r, inOrder, e, voters);
      boolean closed = inOrder.stream().anyMatch(x -> SwarmEvent.DECISION_CLOSED.equals(x.kind));
      if (closed) closedDecisions.inc();
      // only an opened decision carries state: ballots of one closed (or never announced) stand alone
      if (closed || e[0] == null) {
        drop(ctx.globalState());
      } else {
        eligible.update(e[0]);
        if (voters.size() > before) for (String agentId : voters) voted.put(agentId, true);
        ctx.globalState().getState(lastEndState).update(w.getEnd());
      }
      out.collect(toJson(r));
    }

    /** The window's clean-up, idleMs after it fired: the decision is idle if no later window of it fired. */
    @Override
    public void clear(Context ctx) throws Exception {
      Long lastEnd = ctx.globalState().getState(lastEndState).value();
      if (lastEnd != null && lastEnd == ctx.window().getEnd() && drop(ctx.globalState())) expiredDecisions.inc();
    }
  }
}
