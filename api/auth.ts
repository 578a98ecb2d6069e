// Bearer authentication: the admin token, or an agent's credential.
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { CredentialClaims } from '../core/credentials';
import { DomainError } from '../core/errors';

export type Caller = { kind: 'admin' } | { kind: 'agent'; claims: CredentialClaims };

export function bearerToken(req: Request): string {
  const header = req.header('authorization');
  if (!header) throw new DomainError('UNAUTHENTICATED', 'Authorization: Bearer <token> is required');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new DomainError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>"');
  return match[1];
}

export function isAdminToken(adminToken: string | undefined, token: string): boolean {
  if (!adminToken) return false;
  const a = Buffer.from(adminToken);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The admin, or the agent the credential belongs to; anyone else is refused. */
export function authenticate(
  req: Request,
  adminToken: string | undefined,
  verifyAgent: (token: string) => CredentialClaims,
): Caller {
  const token = bearerToken(req);
  if (isAdminToken(adminToken, token)) return { kind: 'admin' };
  if (token.startsWith('qpc1.')) return { kind: 'agent', claims: verifyAgent(token) };
  throw new DomainError('UNAUTHENTICATED', 'token is neither the admin token nor an agent credential');
}

export function requireAdmin(caller: Caller): void {
  if (caller.kind !== 'admin') throw new DomainError('FORBIDDEN', 'this endpoint is for the admin token only');
}

export function requireSelfOrAdmin(caller: Caller, agentId: string): void {
  if (caller.kind === 'agent' && caller.claims.sub !== agentId) {
    throw new DomainError('FORBIDDEN', 'a credential acts only for its own agent');
  }
}
