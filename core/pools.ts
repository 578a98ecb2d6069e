// Agent pool names and replica counts: the rules every cluster adapter and the API apply.
import { DomainError } from './errors';

/** Kubernetes DNS-1123 label, the strictest rule a pool name meets as a Deployment and Service name. */
export const POOL_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Throws INVALID_ARGUMENT unless name is a DNS-1123 label and replicas a whole, non-negative count. */
export function checkPoolRequest(name: string, replicas: number): void {
  if (typeof name !== 'string' || !POOL_NAME_PATTERN.test(name)) {
    throw new DomainError(
      'INVALID_ARGUMENT',
      `invalid pool name "${name}": use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`,
      { field: 'name' },
    );
  }
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new DomainError('INVALID_ARGUMENT', `replicas must be a non-negative integer, got ${replicas}`, { field: 'replicas' });
  }
}
