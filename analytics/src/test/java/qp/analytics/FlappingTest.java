package qp.analytics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static qp.analytics.Harnesses.at;
import static qp.analytics.Harnesses.event;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

class FlappingTest {
  static final long WINDOW_MS = 10_000;
  /** threshold 2: two silences (4 flips) in one window flap. */
  static final int THRESHOLD = 2;

  static KeyedOneInputStreamOperatorTestHarness<String, SwarmEvent, String> flappingCep() throws Exception {
    return Harnesses.keyed(in -> Flapping.flappingMatches(in, WINDOW_MS, THRESHOLD), e -> e.agentId);
  }

  /** A silence of the agent ending at t (the heartbeat that came back). */
  static SwarmEvent silence(String agentId, long t) {
    return event(SwarmEvent.HEARTBEAT, agentId, t);
  }

  @Test
  void flagsAnAgentWhoseSilencesInOneWindowExceedTheThresholdAndNotSilencesSplitOverTwoWindows() throws Exception {
    try (var h = flappingCep()) {
      h.processElement(at(silence("a1", 1_000)));
      h.processElement(at(silence("a1", 5_000)));
      // one silence late in window 1 and one early in window 2: 2 flips in each, not flapping
      h.processElement(at(silence("a2", 19_000)));
      h.processElement(at(silence("a2", 21_000)));
      // three in window 3 (the third starts no second match: past the last event)
      h.processElement(at(silence("a1", 31_000)));
      h.processElement(at(silence("a1", 32_000)));
      h.processElement(at(silence("a1", 33_000)));
      h.processWatermark(new Watermark(60_000));
      assertEquals(List.of("a1|0", "a1|30000"), h.extractOutputValues());
    }
  }

  @Test
  void keepsStateThatDoesNotGrowWithTheNumberOfWindows() throws Exception {
    try (var h = flappingCep()) {
      List<Integer> entries = new ArrayList<>();
      List<Integer> timers = new ArrayList<>();
      int flapped = 0;
      for (int w = 0; w < 300; w++) {
        long start = w * WINDOW_MS;
        for (String agentId : List.of("a1", "a2", "a3")) {
          // a1 flaps every other window; a2 once in each window (a match that never completes); a3 every window
          h.processElement(at(silence(agentId, start + 1_000)));
          if (agentId.equals("a3") || (agentId.equals("a1") && w % 2 == 0)) h.processElement(at(silence(agentId, start + 6_000)));
        }
        h.processWatermark(new Watermark(start + WINDOW_MS - 1));
        if (w == 10 || w == 11 || w == 298 || w == 299) {
          entries.add(h.numKeyedStateEntries());
          timers.add(h.numEventTimeTimers());
        }
      }
      flapped = h.extractOutputValues().size();
      assertEquals(150 + 300, flapped);
      // the same keyed state and timers after windows 10 and 11 as after windows 298 and 299 (a1 alternates)
      assertEquals(entries.subList(0, 2), entries.subList(2, 4), "keyed state entries after windows 10, 11, 298, 299");
      assertEquals(timers.subList(0, 2), timers.subList(2, 4), "event-time timers after windows 10, 11, 298, 299");
    }
  }
}
