// The planted-strategy evaluation, shared by the in-memory and the Milvus
// runs: register a swarm, let it act with known discoveries, sweep through
// the API, score what the sweep found against the ground truth, then let the
// swarm adopt what was disseminated and sweep again.
import { BehaviorSimulation, plantStrategies, scoreDetection, type BehaviorWorld, type DetectionScore } from '../../agents/simulate-behaviors';
import { simulateSwarm, type SwarmSimulation } from '../../agents/simulate';
import { skillCollection, behaviorCollection } from '../../core/behaviors/collections';
import type { SweepReport } from '../../core/behaviors/types';
import type { Embedded } from '../../workers/embedded';
import { ADMIN_TOKEN, uniqueId, waitFor } from './stack';

export interface EvaluationOptions {
  seed: number;
  agents: number;
  /** Episodes before the first sweep; discoveries happen at episodes 3, 4 and 5. */
  episodesBefore: number;
  /** Episodes between the first sweep (and its dissemination) and the second. */
  episodesAfter: number;
}

export interface EvaluationResult {
  world: BehaviorWorld;
  first: SweepReport;
  second: SweepReport;
  detection: DetectionScore;
  /** Detected strategies nearest a decoy (novel but worse than baseline). */
  decoysDetected: number;
  adoptions: number;
  /** Mean fitness of the swarm where it stands (simulation's view), before and after adopting. */
  simulatedBefore: number;
  simulatedAfter: number;
  swarmId: string;
}

export async function runPlantedStrategyEvaluation(stack: Embedded, options: EvaluationOptions): Promise<EvaluationResult> {
  const swarmId = uniqueId('planted');
  let swarm: SwarmSimulation | undefined;
  try {
    swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: options.agents,
      swarmId,
      idPrefix: uniqueId('pa'),
      seed: options.seed,
      heartbeatIntervalMs: 5_000,
      concurrency: 8,
    });
    if (swarm.failed.length > 0) throw new Error(`registration failed: ${JSON.stringify(swarm.failed.slice(0, 3))}`);
    const world = plantStrategies({ seed: options.seed, agentIds: swarm.agents.map((a) => a.agentId) });
    const simulation = new BehaviorSimulation({ agents: swarm.agents, world, seed: options.seed });
    await simulation.listen();

    for (let e = 0; e < options.episodesBefore; e++) await simulation.episode(e);
    const simulatedBefore = simulation.meanFitness();
    const first = await sweep(stack, swarmId);

    const detected = first.strategies.map((s) => s.strategyId);
    const centroids = new Map((await stack.ports.vectors.get(skillCollection(swarmId), detected)).map((r) => [r.id, r.vector]));
    const detection = scoreDetection(
      world,
      detected.map((strategyId) => ({ strategyId, centroid: centroids.get(strategyId)! })),
      options.episodesBefore - 1,
    );
    const decoysDetected = detection.matches.filter((m) => m.nearest.startsWith('decoy')).length;

    // Dissemination reaches the agents through their onSkill subscriptions.
    const disseminated = first.strategies.filter((s) => s.disseminated).length;
    await waitFor('the agents to hear the skills', () =>
      disseminated > 0 && [...simulation.skillsSeen].length >= disseminated && simulation.adoptions.length > 0 ? true : undefined,
    );
    for (let e = options.episodesBefore; e < options.episodesBefore + options.episodesAfter; e++) await simulation.episode(e);
    const second = await sweep(stack, swarmId);

    return {
      world,
      first,
      second,
      detection,
      decoysDetected,
      adoptions: simulation.adoptions.length,
      simulatedBefore,
      simulatedAfter: simulation.meanFitness(),
      swarmId,
    };
  } finally {
    await swarm?.stop();
  }
}

/** Drops the swarm's collections (a real Milvus keeps them otherwise). */
export async function dropSwarmCollections(stack: Embedded, swarmId: string): Promise<void> {
  await stack.ports.vectors.dropCollection(behaviorCollection(swarmId));
  await stack.ports.vectors.dropCollection(skillCollection(swarmId));
}

async function sweep(stack: Embedded, swarmId: string): Promise<SweepReport> {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const started = await fetch(`${stack.api.url}/api/v1/behaviors/sweep`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ swarmId }),
  });
  if (started.status !== 202) throw new Error(`sweep not started: ${started.status} ${await started.text()}`);
  const { reportId } = (await started.json()) as { reportId: string };
  return waitFor(
    `report ${reportId}`,
    async () => {
      const res = await fetch(`${stack.api.url}/api/v1/behaviors/reports/${reportId}`, { headers });
      return res.status === 200 ? ((await res.json()) as SweepReport) : undefined;
    },
    120_000,
    200,
  );
}

/** One line per figure, for QP_EVAL_VERBOSE=1 runs. */
export function summarise(result: EvaluationResult): string {
  const d = result.detection;
  return [
    `detected ${d.detected}, true positives ${d.truePositives}, planted found ${d.found}/${d.discoverable}`,
    `precision ${d.precision.toFixed(2)}, recall ${d.recall.toFixed(2)}, decoys detected ${result.decoysDetected}`,
    `matches ${d.matches.map((m) => `${m.strategyId}->${m.nearest}@${m.distance.toFixed(3)}`).join(' ')}`,
    `sweep 1: ${JSON.stringify(result.first.counts)} params ${JSON.stringify(result.first.parameters)}`,
    `mean fitness (reports): sweep 1 ${result.first.meanFitness.toFixed(3)} -> sweep 2 ${result.second.meanFitness.toFixed(3)}`,
    `mean fitness (simulated): ${result.simulatedBefore.toFixed(3)} -> ${result.simulatedAfter.toFixed(3)}, adoptions ${result.adoptions}`,
  ].join('\n');
}
