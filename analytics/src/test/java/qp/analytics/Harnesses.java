package qp.analytics;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.SimpleOperatorFactory;
import org.apache.flink.streaming.api.transformations.OneInputTransformation;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;

/** The job's own operators (as AnalyticsJob builds them) in Flink's one-operator test harness. */
final class Harnesses {
  private Harnesses() {}

  interface Build<T> {
    SingleOutputStreamOperator<T> apply(DataStream<SwarmEvent> in);
  }

  /** The operator that build puts on a stream of swarm events, keyed by key, opened. */
  static <T> KeyedOneInputStreamOperatorTestHarness<String, SwarmEvent, T> keyed(Build<T> build, KeySelector<SwarmEvent, String> key) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    SingleOutputStreamOperator<T> stream = build.apply(env.fromElements(SwarmEvent.class, new SwarmEvent()));
    @SuppressWarnings("unchecked")
    OneInputTransformation<SwarmEvent, T> t = (OneInputTransformation<SwarmEvent, T>) stream.getTransformation();
    @SuppressWarnings("unchecked")
    OneInputStreamOperator<SwarmEvent, T> operator = (OneInputStreamOperator<SwarmEvent, T>) ((SimpleOperatorFactory<T>) t.getOperatorFactory()).getOperator();
    KeyedOneInputStreamOperatorTestHarness<String, SwarmEvent, T> h = new KeyedOneInputStreamOperatorTestHarness<>(operator, key, Types.STRING);
    h.open();
    return h;
  }

  static StreamRecord<SwarmEvent> at(SwarmEvent e) {
    return new StreamRecord<>(e, e.at);
  }

  static SwarmEvent event(String kind, String agentId, long at) {
    SwarmEvent e = new SwarmEvent();
    e.kind = kind;
    e.agentId = agentId;
    e.at = at;
    return e;
  }
}
