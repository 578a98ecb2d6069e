// A credential's MAC proves the manager issued it, not that it still stands.
// Before any route runs, an agent credential is checked against its session:
// the session must still be running, and the credential must be the one it
// accepts now (the newest issued, not revoked). The routes' synchronous
// authenticate() then refuses what this found.
import type { Request, RequestHandler } from 'express';
import { DomainError } from '../core/errors';

const refusals = new WeakMap<Request, string>();

/**
 * Looks up the standing of every agent credential presented; `refusal` answers
 * why a credential no longer works, or undefined when it does (or is not a
 * valid credential at all: authenticate() reports that).
 */
export function credentialStanding(refusal: (token: string) => Promise<string | undefined>): RequestHandler {
  return (req, _res, next) => {
    const match = /^Bearer\s+(qpc1\.\S+)$/i.exec(req.header('authorization') ?? '');
    if (!match) {
      next();
      return;
    }
    refusal(match[1]).then(
      (why) => {
        if (why !== undefined) refusals.set(req, why);
        next();
      },
      next,
    );
  };
}

/** Throws UNAUTHENTICATED when the request's agent credential was found revoked or retired. */
export function refuseRevokedCredential(req: Request): void {
  const why = refusals.get(req);
  if (why !== undefined) throw new DomainError('UNAUTHENTICATED', why);
}
