// Logical topic names (core/topics.ts) to Pulsar topics:
//   swarm/<swarmId>/<name>  ->  persistent://<tenant>/<swarmId>/<name>   (a namespace per swarm)
//   <name>                  ->  persistent://<tenant>/<defaultNamespace>/<name>
import { PulsarError } from './errors';

export interface TopicMapping {
  tenant: string;
  /** Namespace of topic names that are not under swarm/. */
  defaultNamespace: string;
}

export interface PulsarTopic {
  /** The name the application used. */
  logical: string;
  tenant: string;
  namespace: string;
  local: string;
  /** tenant/namespace/local, as in REST and WebSocket paths. */
  path: string;
  /** persistent://tenant/namespace/local */
  fullName: string;
}

/** Pulsar allows these in tenant and namespace names; topic names get the same set so they fit a URL path. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.=:-]*$/;

export function assertSegment(what: string, value: string): void {
  if (typeof value !== 'string' || !SEGMENT.test(value) || value.length > 200) {
    throw new PulsarError(
      'INVALID_ARGUMENT',
      `${what} "${value}" is not a valid Pulsar name (letters, digits and _ . = : -, at most 200 characters)`,
    );
  }
}

export function toPulsarTopic(logical: string, mapping: TopicMapping): PulsarTopic {
  if (typeof logical !== 'string' || logical.length === 0) {
    throw new PulsarError('INVALID_ARGUMENT', 'topic name must be a non-empty string');
  }
  const parts = logical.split('/');
  let namespace: string;
  let local: string;
  if (parts.length === 1) {
    namespace = mapping.defaultNamespace;
    local = logical;
  } else if (parts.length === 3 && parts[0] === 'swarm') {
    namespace = parts[1];
    local = parts[2];
  } else {
    throw new PulsarError('INVALID_ARGUMENT', `topic "${logical}" must be swarm/<swarmId>/<name> or a single name`);
  }
  assertSegment('tenant', mapping.tenant);
  assertSegment(`namespace of topic "${logical}"`, namespace);
  assertSegment(`topic "${logical}"`, local);
  const path = `${mapping.tenant}/${namespace}/${local}`;
  return { logical, tenant: mapping.tenant, namespace, local, path, fullName: `persistent://${path}` };
}
