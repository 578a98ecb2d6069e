// Bearer authentication: the admin token, or an agent's credential.
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { CredentialClaims } from '../core/credentials';
import { DomainError } from '../core/errors';
import { refuseRevokedCredential } from './credential-standing';

export type Caller = { kind: 'admin' } | { kind: 'agent'; claims: CredentialClaims };

/** Where a caller gets a token: said by every 401, since the call that earned it did not show one. */
export const WHERE_TOKENS_COME_FROM =
  'send "Authorization: Bearer <token>" with the admin token (QP_ADMIN_TOKEN of the server; ' +
  '`npm start` makes one up and prints it) or, for an agent, the credential its registration handshake returned';

export function bearerToken(req: Request): string {
  const header = req.header('authorization');
  if (!header) throw new DomainError('UNAUTHENTICATED', `no token: ${WHERE_TOKENS_COME_FROM}`);
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new DomainError('UNAUTHENTICATED', `the Authorization header is not "Bearer <token>": ${WHERE_TOKENS_COME_FROM}`);
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
  if (token.startsWith('qpc1.')) {
    const claims = verifyAgent(token);
    refuseRevokedCredential(req);
    return { kind: 'agent', claims };
  }
  if (!adminToken) {
    throw new DomainError(
      'UNAUTHENTICATED',
      'the token is not an agent credential, and this server has no admin token: start it with QP_ADMIN_TOKEN set (16 characters or more)',
    );
  }
  throw new DomainError('UNAUTHENTICATED', `the token is neither the admin token nor an agent credential: ${WHERE_TOKENS_COME_FROM}`);
}

export function requireAdmin(caller: Caller): void {
  if (caller.kind !== 'admin') throw new DomainError('FORBIDDEN', 'this endpoint is for the admin token only');
}

export function requireSelfOrAdmin(caller: Caller, agentId: string): void {
  if (caller.kind === 'agent' && caller.claims.sub !== agentId) {
    throw new DomainError('FORBIDDEN', 'a credential acts only for its own agent');
  }
}
