package qp.analytics;

import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.cep.CEP;
import org.apache.flink.cep.functions.PatternProcessFunction;
import org.apache.flink.cep.nfa.aftermatch.AfterMatchSkipStrategy;
import org.apache.flink.cep.pattern.Pattern;
import org.apache.flink.cep.pattern.conditions.IterativeCondition;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.streaming.api.windowing.time.Time;
import org.apache.flink.util.Collector;

/**
 * Flapping detected with Flink CEP: the heartbeat-liveness record's published flapping flag
 * (Publish sets it on the window's record; core/analytics/signals.ts is the TypeScript twin):
 * 1. silences: per agent, two consecutive heartbeats in event time more than the grace period
 *    apart (one ACTIVE->LOST and one LOST->ACTIVE flip); the CEP operator orders each agent's
 *    heartbeats by event time, so the pairs are the same the window sees, across windows too;
 * 2. flapping: per agent, enough silences ending in one tumbling window that the flips exceed the
 *    threshold: floor(threshold / 2) + 1 silences, i.e. flips > threshold. The pattern is keyed by
 *    agent (not by agent and window): CEP keeps a key's NFA for good, so a key per window would
 *    grow with every window; a partial match expires (within) once its window is over.
 * Each flapping (agent, window) counts once in qpFlappingAgents and comes out as "agentId|windowStart".
 */
final class Flapping {
  private Flapping() {}

  /** Silences an agent's flips must exceed the threshold with: 2 flips per silence. */
  static int silencesToFlap(int flapThreshold) {
    return flapThreshold / 2 + 1;
  }

  static long windowStartOf(long at, long windowMs) {
    return at - (((at % windowMs) + windowMs) % windowMs);
  }

  static DataStream<String> detect(DataStream<SwarmEvent> heartbeats, long graceMs, long windowMs, int flapThreshold) {
    Pattern<SwarmEvent, SwarmEvent> silence = Pattern.<SwarmEvent>begin("beat")
        .next("back")
        .where(new IterativeCondition<SwarmEvent>() {
          @Override
          public boolean filter(SwarmEvent back, Context<SwarmEvent> ctx) throws Exception {
            for (SwarmEvent beat : ctx.getEventsForPattern("beat")) return back.at - beat.at > graceMs;
            return false;
          }
        });
    DataStream<SwarmEvent> silences = CEP.pattern(heartbeats.keyBy(e -> e.agentId), silence)
        .inEventTime()
        .process(new PatternProcessFunction<SwarmEvent, SwarmEvent>() {
          @Override
          public void processMatch(Map<String, List<SwarmEvent>> match, Context ctx, Collector<SwarmEvent> out) {
            out.collect(match.get("back").get(0));
          }
        })
        .name("silences").uid("silences");

    return flappingMatches(silences, windowMs, flapThreshold)
        .keyBy(k -> k)
        .process(new OncePerWindow(windowMs))
        .name("flapping-agents").uid("flapping-agents");
  }

  /**
   * "agentId|windowStart" for each run of silencesToFlap silences of one agent within one window
   * (the flapping-cep operator). Silences of the same window need not follow each other (relaxed
   * contiguity); the window's first silence starts the match, and it is dropped once windowMs passed.
   */
  static SingleOutputStreamOperator<String> flappingMatches(DataStream<SwarmEvent> silences, long windowMs, int flapThreshold) {
    Pattern<SwarmEvent, SwarmEvent> flapping = Pattern
        .<SwarmEvent>begin("silence", AfterMatchSkipStrategy.skipPastLastEvent())
        .where(new IterativeCondition<SwarmEvent>() {
          @Override
          public boolean filter(SwarmEvent silence, Context<SwarmEvent> ctx) throws Exception {
            for (SwarmEvent first : ctx.getEventsForPattern("silence")) return windowStartOf(first.at, windowMs) == windowStartOf(silence.at, windowMs);
            return true;
          }
        })
        .times(silencesToFlap(flapThreshold))
        .within(Time.milliseconds(windowMs));
    return CEP.pattern(silences.keyBy(e -> e.agentId), flapping)
        .inEventTime()
        .process(new PatternProcessFunction<SwarmEvent, String>() {
          @Override
          public void processMatch(Map<String, List<SwarmEvent>> match, Context ctx, Collector<String> out) {
            SwarmEvent last = match.get("silence").get(match.get("silence").size() - 1);
            out.collect(last.agentId + "|" + windowStartOf(last.at, windowMs));
          }
        })
        .name("flapping-cep").uid("flapping-cep");
  }

  /**
   * A window in which an agent flapped twice as much still counts once. Its mark is dropped at the
   * window's last ms of event time: CEP has matched every silence of the window by then.
   */
  static final class OncePerWindow extends KeyedProcessFunction<String, String, String> {
    private final long windowMs;
    private final ValueStateDescriptor<Boolean> seen = new ValueStateDescriptor<>("flapping-counted", Types.BOOLEAN);
    private transient Counter flappingAgents;

    OncePerWindow(long windowMs) {
      this.windowMs = windowMs;
    }

    @Override
    public void open(Configuration parameters) {
      flappingAgents = getRuntimeContext().getMetricGroup().counter("qpFlappingAgents");
    }

    @Override
    public void processElement(String agentWindow, Context ctx, Collector<String> out) throws Exception {
      ValueState<Boolean> state = getRuntimeContext().getState(seen);
      if (state.value() != null) return;
      state.update(true);
      flappingAgents.inc();
      out.collect(agentWindow);
      ctx.timerService().registerEventTimeTimer(Long.parseLong(agentWindow.substring(agentWindow.lastIndexOf('|') + 1)) + windowMs - 1);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<String> out) {
      getRuntimeContext().getState(seen).clear();
    }
  }

  /** "agentId|windowStart" of a heartbeat-liveness record (JSON). */
  static String agentWindowOf(String livenessJson) throws Exception {
    com.fasterxml.jackson.databind.JsonNode r = AnalyticsJob.JSON.readTree(livenessJson);
    return r.get("key").asText() + "|" + r.get("windowStart").asLong();
  }

  /**
   * Joins each heartbeat-liveness record (input 1) with CEP's flapping (agent, window) (input 2), keyed
   * by "agentId|windowStart", and publishes the record with flapping = whether CEP matched. Both
   * inputs come from the same heartbeats: once the watermark reaches the window's last ms, the window
   * has fired and CEP has matched every silence of the window (each operator emits before it
   * forwards the watermark), so an event-time timer there sees both.
   */
  static final class Publish extends KeyedCoProcessFunction<String, String, String, String> {
    private final long windowMs;
    private final ValueStateDescriptor<String> recordState = new ValueStateDescriptor<>("liveness-record", Types.STRING);
    private final ValueStateDescriptor<Boolean> flappingState = new ValueStateDescriptor<>("cep-flapping", Types.BOOLEAN);

    Publish(long windowMs) {
      this.windowMs = windowMs;
    }

    @Override
    public void processElement1(String record, Context ctx, Collector<String> out) throws Exception {
      getRuntimeContext().getState(recordState).update(record);
      ctx.timerService().registerEventTimeTimer(lastMsOf(ctx.getCurrentKey()));
    }

    @Override
    public void processElement2(String agentWindow, Context ctx, Collector<String> out) throws Exception {
      getRuntimeContext().getState(flappingState).update(true);
      ctx.timerService().registerEventTimeTimer(lastMsOf(ctx.getCurrentKey()));
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<String> out) throws Exception {
      ValueState<String> record = getRuntimeContext().getState(recordState);
      ValueState<Boolean> flapping = getRuntimeContext().getState(flappingState);
      if (record.value() != null) {
        ObjectNode r = (ObjectNode) AnalyticsJob.JSON.readTree(record.value());
        r.put("flapping", flapping.value() != null);
        out.collect(AnalyticsJob.JSON.writeValueAsString(r));
      }
      record.clear();
      flapping.clear();
    }

    /** The last ms of the window named by "agentId|windowStart". */
    private long lastMsOf(String agentWindow) {
      return Long.parseLong(agentWindow.substring(agentWindow.lastIndexOf('|') + 1)) + windowMs - 1;
    }
  }
}
