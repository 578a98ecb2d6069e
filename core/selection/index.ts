// Participant selection for a round of federated tuning: which of the eligible
// agents are asked. Every strategy is a pure function of its request; all
// randomness comes from the job's seed, the round and the attempt, so a job
// selects the same agents whenever it runs on the same eligible agents.
import type { AgentResources, EnergyProfile } from '../agents';
import { mixSeed, seededRandom, shuffle } from '../random';
import type { AgentFeedback, Selection, SelectionCandidate, SelectionOptions, SelectionRequest } from './types';

export * from './types';

/** Chooses request.wanted agents (or all, if fewer) of request.candidates with the request's strategy. */
export function selectParticipants(request: SelectionRequest): Selection {
  const candidates = [...request.candidates].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
  const wanted = Math.max(0, Math.min(request.wanted, candidates.length));
  const random = seededRandom(mixSeed(request.seed, request.round, request.attempt));
  const sorted = (ids: string[]) => [...ids].sort();
  switch (request.strategy) {
    case 'uniform':
      return { participants: sorted(uniform(candidates, wanted, random)) };
    case 'longest-waiting':
      return { participants: sorted(longestWaiting(candidates, wanted, random, request.lastParticipation)) };
    case 'resource-aware':
      return { participants: sorted(weightedSample(candidates, wanted, random, (c) => declaredCapacity(c.resources))) };
    case 'carbon-aware': {
      if (request.preferLowCarbon === false) return { participants: sorted(uniform(candidates, wanted, random)), lowCarbon: false };
      const at = request.atMs ?? 0;
      const order = shuffle(candidates.slice(), random);
      // Stable: agents with the same intensity keep the seeded order.
      order.sort((a, b) => carbonIntensity(a.resources?.energy, at) - carbonIntensity(b.resources?.energy, at));
      return { participants: sorted(order.slice(0, wanted).map((c) => c.agentId)), lowCarbon: true };
    }
    case 'oort': {
      const chosen = oort(candidates, wanted, random, request);
      return { participants: sorted(chosen.participants), exploring: chosen.exploring };
    }
  }
}

function uniform(candidates: SelectionCandidate[], wanted: number, random: () => number): string[] {
  return shuffle(candidates.map((c) => c.agentId), random).slice(0, wanted);
}

/** Those that took part least recently first; never-selected agents before all others; ties in seeded order. */
function longestWaiting(
  candidates: SelectionCandidate[],
  wanted: number,
  random: () => number,
  lastParticipation: Record<string, number>,
): string[] {
  const order = shuffle(candidates.map((c) => c.agentId), random);
  const waited = (agentId: string) => lastParticipation[agentId] ?? -1;
  order.sort((a, b) => waited(a) - waited(b)); // stable: ties keep the seeded order
  return order.slice(0, wanted);
}

/**
 * Weighted sampling without replacement (Efraimidis and Spirakis 2006): each
 * candidate draws u^(1/w); the largest keys win. Weight 0 is chosen only when
 * nothing else is left.
 */
function weightedSample<T extends { agentId: string }>(
  items: T[],
  wanted: number,
  random: () => number,
  weight: (item: T) => number,
): string[] {
  const keyed = items.map((item, index) => {
    const w = weight(item);
    const u = random();
    return { agentId: item.agentId, index, key: w > 0 && u > 0 ? Math.log(u) / w : -Infinity };
  });
  keyed.sort((a, b) => b.key - a.key || a.index - b.index);
  return keyed.slice(0, wanted).map((k) => k.agentId);
}

/**
 * An agent's declared capacity relative to a reference agent: its declared
 * speed (work units per second) when it gives one, else its cores times one
 * plus its GPUs; 1 when it declares nothing.
 */
export function declaredCapacity(resources: AgentResources | undefined): number {
  if (!resources) return 1;
  if (resources.energy?.speed !== undefined) return Math.max(0, resources.energy.speed);
  return Math.max(0, resources.cpu) * (1 + Math.max(0, resources.gpu ?? 0));
}

/**
 * Life-cycle carbon intensity by power source when an agent declares a source
 * but no figure, gCO2/kWh (IPCC AR5 medians; grid: the world average).
 */
const TYPICAL_INTENSITY: Partial<Record<EnergyProfile['source'], number>> = { wind: 11, solar: 48, grid: 475 };

/**
 * Carbon intensity of an agent's supply at atMs, gCO2/kWh: its forecast there,
 * else its declared figure, else its source's typical one; Infinity when unknown.
 */
export function carbonIntensity(energy: EnergyProfile | undefined, atMs: number): number {
  if (!energy) return Infinity;
  let value = energy.carbonGPerKWh ?? TYPICAL_INTENSITY[energy.source] ?? Infinity;
  for (const point of energy.forecast ?? []) {
    if (point.atMs > atMs) break;
    value = point.gPerKWh;
  }
  return value;
}

/**
 * Whether accuracy allows the carbon preference this round: not when the
 * latest measured accuracy fell more than maxDrop below the best so far
 * (accuracies are fractions 0..1, oldest first; undefined ones are skipped).
 */
export function accuracyAllowsLowCarbon(accuracies: (number | undefined)[], maxDrop = 0.01): boolean {
  const measured = accuracies.filter((a): a is number => a !== undefined && Number.isFinite(a));
  if (measured.length < 2) return true;
  const best = Math.max(...measured);
  return measured[measured.length - 1] >= best - maxDrop;
}

/** Oort's exploration fraction at round (1-based): 0.9 × 0.98^(round-1), at least 0.3, unless fixed. */
export function oortExploration(round: number, fixed?: number): number {
  if (fixed !== undefined) return Math.min(1, Math.max(0, fixed));
  return Math.max(0.3, 0.9 * Math.pow(0.98, Math.max(0, round - 1)));
}

/**
 * Oort's utility of an agent it has tried (Lai et al., OSDI 2021, Algorithm 1):
 * statistical utility normalised by the largest among those tried, plus a
 * staleness bonus sqrt(0.1 ln(round) / last round it took part), times
 * (preferred / duration)^alpha when it was slower than the preferred duration.
 */
export function oortUtility(
  feedback: AgentFeedback,
  round: number,
  context: { maxUtility: number; preferredDurationMs: number; penaltyExponent: number },
): number {
  const statistical = context.maxUtility > 0 ? feedback.utility / context.maxUtility : 0;
  const staleness = Math.sqrt((0.1 * Math.log(Math.max(1, round))) / Math.max(1, feedback.round));
  const slow = feedback.durationMs > context.preferredDurationMs && feedback.durationMs > 0;
  const penalty = slow ? Math.pow(context.preferredDurationMs / feedback.durationMs, context.penaltyExponent) : 1;
  return (statistical + staleness) * penalty;
}

/** Oort keeps for exploitation the agents whose utility reaches this share of the last place's. */
const OORT_CUTOFF = 0.95;

function oort(
  candidates: SelectionCandidate[],
  wanted: number,
  random: () => number,
  request: SelectionRequest,
): { participants: string[]; exploring: number } {
  const feedback = request.feedback ?? {};
  const options: SelectionOptions = request.options ?? {};
  const tried = candidates.filter((c) => feedback[c.agentId] !== undefined);
  const untried = candidates.filter((c) => feedback[c.agentId] === undefined);
  const epsilon = oortExploration(request.round, options.explorationFraction);
  let exploring = Math.min(untried.length, Math.round(epsilon * wanted));
  const exploiting = Math.min(tried.length, wanted - exploring);
  exploring = Math.min(untried.length, wanted - exploiting); // too few tried: explore more, and the reverse

  const durations = tried.map((c) => feedback[c.agentId].durationMs).sort((a, b) => a - b);
  const context = {
    maxUtility: Math.max(0, ...tried.map((c) => feedback[c.agentId].utility)),
    preferredDurationMs: options.preferredDurationMs ?? (durations.length ? durations[Math.floor((durations.length - 1) / 2)] : 0),
    penaltyExponent: options.penaltyExponent ?? 2,
  };
  const scored = tried
    .map((c) => ({ agentId: c.agentId, utility: oortUtility(feedback[c.agentId], request.round, context) }))
    .sort((a, b) => b.utility - a.utility || (a.agentId < b.agentId ? -1 : 1));
  let exploited: string[] = [];
  if (exploiting > 0) {
    // Sampled by utility among those near the top, so near-equals share the places.
    const cutoff = OORT_CUTOFF * scored[exploiting - 1].utility;
    const pool = scored.filter((s, i) => i < exploiting || s.utility >= cutoff);
    exploited = weightedSample(pool, exploiting, random, (s) => s.utility);
  }
  // Untried agents are sampled by declared capacity: Oort prefers the faster ones to explore.
  const explored = weightedSample(untried, exploring, random, (c) => declaredCapacity(c.resources));
  return { participants: [...exploited, ...explored], exploring: explored.length };
}

/**
 * Oort's statistical utility (Lai et al., OSDI 2021): |B| × sqrt(Σ loss² / |B|) over the agent's
 * |B| examples, from the mean squared per-example loss; agents that report only a mean loss get
 * |B| × mean loss instead (a lower bound: the mean is at most the root mean square).
 */
export function statisticalUtility(examples: number, loss?: number, lossSquared?: number): number {
  const n = Math.max(0, examples);
  if (lossSquared !== undefined && Number.isFinite(lossSquared)) return n * Math.sqrt(Math.max(0, lossSquared));
  return n * (loss !== undefined && Number.isFinite(loss) ? Math.max(0, loss) : 1);
}

/**
 * Oort's feedback after a round: agents that reported get their statistical
 * utility (statisticalUtility) and their duration; selected agents that stayed
 * silent get utility 0 and the round's timeout. Returns a new record.
 */
export function recordFeedback(
  previous: Record<string, AgentFeedback> | undefined,
  round: number,
  selected: string[],
  reports: { agentId: string; examples: number; loss?: number; lossSquared?: number; durationMs: number }[],
  timeoutMs: number,
): Record<string, AgentFeedback> {
  const next: Record<string, AgentFeedback> = { ...(previous ?? {}) };
  const reported = new Map(reports.map((r) => [r.agentId, r]));
  for (const agentId of selected) {
    const report = reported.get(agentId);
    // Rounded: the record travels in workflow history every round, O(agents) of it.
    next[agentId] = report
      ? {
          round,
          utility: Number(statisticalUtility(report.examples, report.loss, report.lossSquared).toPrecision(6)),
          durationMs: Math.round(Math.max(0, report.durationMs)),
        }
      : { round, utility: 0, durationMs: Math.round(timeoutMs) };
  }
  return next;
}
