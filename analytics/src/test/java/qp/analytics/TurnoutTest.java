package qp.analytics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static qp.analytics.Harnesses.at;
import static qp.analytics.Harnesses.event;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

class TurnoutTest {
  static final long WINDOW_MS = 10_000;
  static final long IDLE_MS = 30_000;

  static KeyedOneInputStreamOperatorTestHarness<String, SwarmEvent, String> turnout() throws Exception {
    return Harnesses.keyed(in -> AnalyticsJob.turnout(in, "s", WINDOW_MS, IDLE_MS), e -> e.decisionId);
  }

  static SwarmEvent proposal(String decisionId, long at, int eligible) {
    SwarmEvent e = event(SwarmEvent.DECISION_OPENED, null, at);
    e.decisionId = decisionId;
    e.eligible = eligible;
    return e;
  }

  static SwarmEvent ballot(String decisionId, String agentId, long at) {
    SwarmEvent e = event(SwarmEvent.BALLOT, agentId, at);
    e.decisionId = decisionId;
    return e;
  }

  /** "decisionId@windowStart voters/eligible" of each record emitted since the last call, sorted (keys fire in no set order). */
  static List<String> records(KeyedOneInputStreamOperatorTestHarness<String, SwarmEvent, String> h) throws Exception {
    List<String> out = new ArrayList<>();
    for (String json : h.extractOutputValues()) {
      JsonNode r = AnalyticsJob.JSON.readTree(json);
      out.add(r.get("key").asText() + "@" + r.get("windowStart").asLong() + " " + r.get("voters").asInt() + "/" + r.get("eligible").asText());
    }
    h.getOutput().clear();
    out.sort(null);
    return out;
  }

  @Test
  void dropsTheStateOfADecisionWithoutOutcomeOnceIdleForTheIdleTimeAndKeepsAnActiveOnes() throws Exception {
    try (var h = turnout()) {
      // d1 falls silent after window 0; d2 has a ballot every 20 s (under the idle time)
      h.processElement(at(proposal("d1", 1_000, 3)));
      h.processElement(at(ballot("d1", "a1", 2_000)));
      h.processElement(at(proposal("d2", 1_000, 3)));
      h.processElement(at(ballot("d2", "a1", 2_000)));
      h.processWatermark(new Watermark(9_999));
      assertEquals(List.of("d1@0 1/3", "d2@0 1/3"), records(h));
      long withBoth = h.numKeyedStateEntries();
      h.processElement(at(ballot("d2", "a2", 21_000)));
      // d1's window 0 is cleaned up at 9 999 + 30 000: d1 had no later window, its state goes
      h.processWatermark(new Watermark(39_999));
      assertEquals(List.of("d2@20000 2/3"), records(h));
      h.processElement(at(ballot("d2", "a3", 41_000)));
      h.processElement(at(ballot("d1", "a2", 45_000)));
      h.processWatermark(new Watermark(49_999));
      // d1 starts over, as a decision whose proposal was not read; d2 kept its voters and eligible
      assertEquals(List.of("d1@40000 1/null", "d2@40000 3/3"), records(h));
      // and once d2 too is silent for the idle time, nothing is left of either
      h.processWatermark(new Watermark(49_999 + IDLE_MS));
      assertEquals(0, h.numKeyedStateEntries(), "keyed state entries left (" + withBoth + " with both open)");
      assertEquals(0, h.numEventTimeTimers());
    }
  }

  @Test
  void dropsAnIdleDecisionWhoseNextWindowFiresAtItsCleanUpTimeToo() throws Exception {
    try (var h = turnout()) {
      h.processElement(at(proposal("d1", 1_000, 2)));
      h.processElement(at(ballot("d1", "a1", 2_000)));
      h.processWatermark(new Watermark(9_999));
      records(h);
      // window [30 000, 40 000) fires at 39 999, window 0's clean-up is at 39 999 as well
      h.processElement(at(ballot("d1", "a2", 35_000)));
      h.processWatermark(new Watermark(39_999));
      assertEquals(List.of("d1@30000 1/null"), records(h));
    }
  }
}
