package qp.analytics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;

class DuplicateFilterTest {
  static final long T0 = 1_700_000_000_000L;

  static SwarmEvent rejection(String json) {
    EventParser.Outcome o = EventParser.parse(EventParser.Source.ROUNDS, json);
    if (o.event == null) throw new IllegalArgumentException(o.reason + ": " + json);
    return o.event;
  }

  static String async(String agentId, String reason, long dt, String updateId) {
    return "{\"type\":\"update-rejected\",\"jobId\":\"j\",\"round\":3,\"agentId\":\"" + agentId + "\",\"reason\":\"" + reason
        + "\",\"rejectedAt\":" + (T0 + dt) + ",\"updateId\":\"" + updateId + "\"}";
  }

  @Test
  void passesAnAsynchronousJobsRefusalOnceWhenItsRedeliveredUpdateIsRefusedAgain() throws Exception {
    try (OneInputStreamOperatorTestHarness<SwarmEvent, SwarmEvent> h = ProcessFunctionTestHarnesses.forProcessFunction(new DuplicateFilter(DuplicateFilter.HORIZON_MS))) {
      List<String> in = List.of(
          async("a1", "stale", 0, "7:1:-1:-1"),
          async("a1", "norm", 1, "7:2:-1:-1"),
          // another message of the same agent and reason: another refusal
          async("a1", "norm", 2, "7:3:-1:-1"),
          // the retried collection refuses the redelivered messages again, later
          async("a1", "stale", 700, "7:1:-1:-1"),
          async("a1", "norm", 701, "7:2:-1:-1"),
          // without attempt, seq or message id: no name, always passes
          "{\"type\":\"update-rejected\",\"jobId\":\"j\",\"round\":3,\"agentId\":\"a1\",\"reason\":\"norm\",\"rejectedAt\":" + T0 + "}",
          "{\"type\":\"update-rejected\",\"jobId\":\"j\",\"round\":3,\"agentId\":\"a1\",\"reason\":\"norm\",\"rejectedAt\":" + T0 + "}");
      for (String json : in) h.processElement(new StreamRecord<>(rejection(json), 0));
      List<String> passed = new ArrayList<>();
      for (SwarmEvent e : h.extractOutputValues()) passed.add(e.reason + "|" + e.updateId);
      assertEquals(List.of("stale|7:1:-1:-1", "norm|7:2:-1:-1", "norm|7:3:-1:-1", "norm|null", "norm|null"), passed);
    }
  }

  @Test
  void namesAnAsynchronousRefusalByJobAndMessageIdAndRefusesABadMessageId() {
    assertEquals("update-rejected|j|update|7:2:-1:-1", DuplicateFilter.eventKey(rejection(async("a1", "norm", 0, "7:2:-1:-1"))));
    String base = "{\"type\":\"update-rejected\",\"jobId\":\"j\",\"round\":3,\"agentId\":\"a1\",\"reason\":\"norm\",\"rejectedAt\":5";
    for (String bad : List.of("\"\"", "42", "null", "\"" + "x".repeat(257) + "\"")) {
      EventParser.Outcome o = EventParser.parse(EventParser.Source.ROUNDS, base + ",\"updateId\":" + bad + "}");
      assertNull(o.event, bad);
      assertEquals("invalid", o.reason, bad);
    }
  }
}
