// Vector-store collection names of a swarm. Swarm ids may hold ".", "-" and
// upper case, which Milvus refuses in names: they are mapped to "_" and a
// short hash of the original id keeps two such ids from meeting.
import { createHash } from 'node:crypto';

function suffix(swarmId: string): string {
  const safe = swarmId.replace(/[^A-Za-z0-9]/g, '_').slice(0, 64);
  const hash = createHash('sha256').update(swarmId).digest('hex').slice(0, 8);
  return `${safe}_${hash}`;
}

/** Every accepted behavior of the swarm (the novelty archive). */
export function behaviorCollection(swarmId: string): string {
  return `qp_behaviors_${suffix(swarmId)}`;
}

/** The strategies the swarm's sweeps discovered (skills), by centroid. */
export function skillCollection(swarmId: string): string {
  return `qp_skills_${suffix(swarmId)}`;
}
