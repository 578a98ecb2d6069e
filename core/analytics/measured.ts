// Measured signals for task placement: when the analytics have recent windows for an agent, the
// allocator plans with what the agent drew and how often it straggled rather than only what it
// declared (README "Analytics", "Measured placement").
import type { AllocationAgent } from '../allocation';
import type { AgentEnergy, AnalyticsRecord, StragglerRate } from './signals';

/** Below this mean load a window says little about busy power: it only raises the declared figure. */
const MIN_LOAD_FOR_BUSY_POWER = 0.1;
/** A straggler never slows an agent's planned speed below this share of the declared one. */
const MIN_SPEED_SHARE = 0.1;

/** What placement took from the analytics for one agent. */
export interface AgentMeasurement {
  /** Mean power the agent drew over its newest agent-energy window, W. */
  meanPowerW?: number;
  /** Its mean reported load (0..1) over that window; null when it reported none. */
  meanLoad?: number | null;
  /** Carbon intensity of the energy it reported, g CO2e/kWh. */
  carbonGPerKWh?: number;
  /** Share (0..1) of its recent rounds it straggled in. */
  stragglerRate?: number;
}

/**
 * The newest window (by windowEnd) per agent of the agent-energy and stragglers signals among
 * `windows`, ignoring windows that ended before nowMs - maxAgeMs.
 */
export function measurementsByAgent(windows: readonly AnalyticsRecord[], nowMs: number, maxAgeMs: number): Map<string, AgentMeasurement> {
  const energy = new Map<string, AgentEnergy>();
  const stragglers = new Map<string, StragglerRate>();
  for (const w of windows) {
    if (w.windowEnd < nowMs - maxAgeMs) continue;
    if (w.signal === 'agent-energy' && (energy.get(w.key)?.windowEnd ?? -Infinity) < w.windowEnd) energy.set(w.key, w);
    if (w.signal === 'stragglers' && (stragglers.get(w.key)?.windowEnd ?? -Infinity) < w.windowEnd) stragglers.set(w.key, w);
  }
  const out = new Map<string, AgentMeasurement>();
  for (const [agentId, w] of energy) {
    if (w.energyWh <= 0) continue;
    out.set(agentId, {
      meanPowerW: (w.energyWh * 3_600_000) / (w.windowEnd - w.windowStart),
      meanLoad: w.meanLoad,
      ...(w.carbonG > 0 ? { carbonGPerKWh: (w.carbonG * 1000) / w.energyWh } : {}),
    });
  }
  for (const [agentId, w] of stragglers) out.set(agentId, { ...out.get(agentId), stragglerRate: w.stragglerRate });
  return out;
}

/**
 * The agent as placement should see it. Busy power (W): with a mean load m of at least 10 %, the
 * mean draw P = (1 - m) idle + m busy gives busy = (P - (1 - m) idle) / m (never below P); at a
 * lower load P only raises the declared busy power. Carbon intensity (g/kWh): the measured one.
 * Speed (work units/s): scaled by 1 - stragglerRate, to at least a tenth of the declared speed.
 */
export function withMeasurement(agent: AllocationAgent, m: AgentMeasurement | undefined): AllocationAgent {
  if (!m) return agent;
  let busyWatts = agent.energy.busyWatts;
  if (m.meanPowerW !== undefined) {
    const p = m.meanPowerW;
    const load = m.meanLoad ?? 0;
    busyWatts = load >= MIN_LOAD_FOR_BUSY_POWER ? Math.max(p, (p - (1 - load) * agent.energy.idleWatts) / load) : Math.max(busyWatts, p);
  }
  return {
    ...agent,
    speed: m.stragglerRate !== undefined ? agent.speed * Math.max(MIN_SPEED_SHARE, 1 - m.stragglerRate) : agent.speed,
    energy: {
      ...agent.energy,
      busyWatts,
      ...(m.carbonGPerKWh !== undefined ? { carbonGPerKWh: m.carbonGPerKWh } : {}),
    },
  };
}
