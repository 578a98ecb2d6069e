import type { AnalyticsRecord } from '../../core/analytics/signals';

/** The analytics' newest windows, as read from the swarms' analytics topics. */
export interface AnalyticsWindowSource {
  /** The newest window of every series of the swarm (reading starts with the first call; none yet then). */
  latest(swarmId: string): Promise<AnalyticsRecord[]>;
  close(): Promise<void>;
}
