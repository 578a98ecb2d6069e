// Agent credentials: a compact HMAC-SHA256 signed token, and Ed25519
// challenge signatures. Pure computation (node:crypto does no I/O here).
import { createHash, createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { DomainError } from './errors';

export interface CredentialClaims {
  /** Agent id. */
  sub: string;
  swarm: string;
  /** Credential generation; a newer one retires the older. */
  gen: number;
  /** Issued at and expiry, seconds since the epoch. */
  iat: number;
  exp: number;
}

const PREFIX = 'qpc1';

function sign(secret: string, body: string): string {
  return createHmac('sha256', secret).update(`${PREFIX}.${body}`).digest('base64url');
}

/** A token `qpc1.<claims>.<mac>` the agent presents as `Authorization: Bearer`. */
export function issueCredential(secret: string, claims: CredentialClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${PREFIX}.${body}.${sign(secret, body)}`;
}

/** What a session keeps to recognise its newest credential: SHA-256 of the token, base64url; the token cannot be recovered from it. */
export function credentialDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The token's claims if its MAC is valid and it has not expired at nowSeconds. */
export function verifyCredential(secret: string, token: string, nowSeconds: number): CredentialClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) {
    throw new DomainError('UNAUTHENTICATED', 'credential is malformed');
  }
  const [, body, mac] = parts;
  const expected = Buffer.from(sign(secret, body));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new DomainError('UNAUTHENTICATED', 'credential signature is invalid');
  }
  let claims: CredentialClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as CredentialClaims;
  } catch {
    throw new DomainError('UNAUTHENTICATED', 'credential is malformed');
  }
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) {
    throw new DomainError('UNAUTHENTICATED', 'credential has expired');
  }
  return claims;
}

/** Parses an Ed25519 public key given as SPKI PEM; throws INVALID_ARGUMENT otherwise. */
export function parseAgentPublicKey(publicKey: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(publicKey);
  } catch {
    throw new DomainError('INVALID_ARGUMENT', 'publicKey is not a valid SPKI PEM public key', { field: 'publicKey' });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new DomainError('INVALID_ARGUMENT', `publicKey must be ed25519, got ${key.asymmetricKeyType}`, {
      field: 'publicKey',
    });
  }
  return key;
}

/** True when signature (base64) is the agent's Ed25519 signature of message. */
export function verifyAgentSignature(publicKey: string, message: string, signature: string): boolean {
  const key = parseAgentPublicKey(publicKey);
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.length !== 64) return false;
  return verify(null, Buffer.from(message, 'utf8'), key, bytes);
}
