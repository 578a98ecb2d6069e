// The latest windows of each signal series (signal, key) of each swarm, as a consumer of the
// analytics topic keeps them: the first record of a window name wins (the Flink sink is
// at-least-once, so a window may arrive twice), and older windows age out.
import { windowKey, type AnalyticsRecord, type AnalyticsSignal } from './signals';

export interface LatestWindowsStats {
  windows: number;
  duplicates: number;
  /** Records older than every window kept for their series. */
  stale: number;
  /** End of the newest window received, ms since the epoch (0: none). */
  lastWindowEnd: number;
}

export class LatestWindows {
  /** swarm -> "signal|key" -> windows by start, newest last. */
  private readonly series = new Map<string, Map<string, AnalyticsRecord[]>>();
  private readonly stats = new Map<string, LatestWindowsStats>();

  /** keep: windows kept per series. */
  constructor(private readonly keep = 5) {}

  /** Adds a record; false when its window was already there (a duplicate) or has aged out. */
  add(record: AnalyticsRecord): boolean {
    const stats = this.statsOf(record.swarmId);
    let bySeries = this.series.get(record.swarmId);
    if (!bySeries) this.series.set(record.swarmId, (bySeries = new Map()));
    const name = `${record.signal}|${record.key}`;
    const windows = bySeries.get(name) ?? [];
    if (windows.some((w) => w.windowStart === record.windowStart)) {
      stats.duplicates++;
      return false;
    }
    if (windows.length >= this.keep && record.windowStart < windows[0].windowStart) {
      stats.stale++;
      return false;
    }
    windows.push(record);
    windows.sort((a, b) => a.windowStart - b.windowStart);
    if (windows.length > this.keep) windows.shift();
    bySeries.set(name, windows);
    stats.windows++;
    stats.lastWindowEnd = Math.max(stats.lastWindowEnd, record.windowEnd);
    return true;
  }

  /** The newest window of every series of the swarm (optionally one signal), ordered by signal and key. */
  latest(swarmId: string, signal?: AnalyticsSignal): AnalyticsRecord[] {
    const bySeries = this.series.get(swarmId);
    if (!bySeries) return [];
    return [...bySeries.values()]
      .map((windows) => windows[windows.length - 1])
      .filter((r) => signal === undefined || r.signal === signal)
      .sort((a, b) => windowKey(a).localeCompare(windowKey(b)));
  }

  statsOf(swarmId: string): LatestWindowsStats {
    let s = this.stats.get(swarmId);
    if (!s) this.stats.set(swarmId, (s = { windows: 0, duplicates: 0, stale: 0, lastWindowEnd: 0 }));
    return s;
  }

  swarms(): string[] {
    return [...this.stats.keys()].sort();
  }
}
