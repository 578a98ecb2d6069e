// Cryptographic building blocks of SecAgg+: X25519 key agreement, HKDF,
// AES-256-GCM for the share envelopes, an AES-256-CTR PRG for masks, and a
// random-byte seam. Pure computation: node:crypto does no I/O here.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { DomainError } from '../errors';

/** Returns `n` random bytes. Production uses the OS CSPRNG; tests inject a seeded stream. */
export type RandomSource = (n: number) => Uint8Array;

/** The OS CSPRNG (node:crypto randomBytes). */
export const cryptoRandom: RandomSource = (n) => randomBytes(n);

/**
 * A deterministic byte stream (AES-256-CTR keyed by SHA-256 of `seed`) for
 * reproducible simulations and statistical tests. Never for production keys.
 */
export function seededRandomSource(seed: string): RandomSource {
  const key = createHash('sha256').update(`qp-secagg/seeded-random/${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (n) => new Uint8Array(cipher.update(Buffer.alloc(n)));
}

export interface X25519KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

// PKCS#8 DER header for an X25519 private key (RFC 8410); the raw 32-byte
// scalar follows. Lets the server rebuild a key from a reconstructed secret.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A fresh X25519 key pair: generateKeyPairSync with the default source, else built from `random`. */
export function generateX25519(random: RandomSource = cryptoRandom): X25519KeyPair {
  if (random === cryptoRandom) return generateKeyPairSync('x25519');
  const privateKey = x25519PrivateFromRaw(random(32));
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The raw 32-byte private scalar of an X25519 key. */
export function x25519PrivateToRaw(key: KeyObject): Uint8Array {
  const { d } = key.export({ format: 'jwk' });
  if (!d) throw new DomainError('INVALID_ARGUMENT', 'not an X25519 private key');
  return new Uint8Array(Buffer.from(d, 'base64url'));
}

/** An X25519 private key from its raw 32-byte scalar. */
export function x25519PrivateFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new DomainError('INVALID_ARGUMENT', 'an X25519 private key is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

/** The raw 32-byte public key, base64url (the wire form). */
export function x25519PublicToWire(key: KeyObject): string {
  const { x } = key.export({ format: 'jwk' });
  if (!x) throw new DomainError('INVALID_ARGUMENT', 'not an X25519 key');
  return x;
}

/** The wire form of the public key belonging to an X25519 private key. */
export function x25519PublicWireOf(privateKey: KeyObject): string {
  return x25519PublicToWire(createPublicKey(privateKey));
}

/** An X25519 public key from its wire form (base64url of 32 bytes). */
export function x25519PublicFromWire(wire: string): KeyObject {
  if (Buffer.from(wire, 'base64url').length !== 32) {
    throw new DomainError('INVALID_ARGUMENT', 'an X25519 public key is 32 bytes (base64url)');
  }
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: wire }, format: 'jwk' });
}

/** X25519 agreement; rejects the all-zero output of a low-order peer key. */
export function agree(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  const shared = diffieHellman({ privateKey, publicKey });
  if (shared.every((b) => b === 0)) throw new DomainError('INVALID_ARGUMENT', 'X25519 agreement gave a low-order point');
  return new Uint8Array(shared);
}

/** HKDF-SHA256 to 32 bytes, bound to the round and a purpose label. */
export function deriveKey(secret: Uint8Array, roundId: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, `qp-secagg/${roundId}`, `qp-secagg/${purpose}`, 32));
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Expands a 32-byte key into `length` uniform uint32s (AES-256-CTR keystream, zero IV, little-endian words). */
export function prgUint32(key: Uint8Array, length: number): Uint32Array {
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const bytes = Buffer.concat([cipher.update(Buffer.alloc(length * 4)), cipher.final()]);
  const out = new Uint32Array(length);
  new Uint8Array(out.buffer).set(bytes);
  if (!LITTLE_ENDIAN) swapWords(out);
  return out;
}

function swapWords(words: Uint32Array): void {
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    words[i] = (((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0;
  }
}

/** Uint32 vector to base64 of its little-endian bytes (the wire form of masked vectors). */
export function encodeUint32(words: Uint32Array): string {
  const copy = Uint32Array.from(words);
  if (!LITTLE_ENDIAN) swapWords(copy);
  return Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength).toString('base64');
}

/** Inverse of encodeUint32; checks the length when `expected` is given. */
export function decodeUint32(wire: string, expected?: number): Uint32Array {
  const bytes = Buffer.from(wire, 'base64');
  if (bytes.length % 4 !== 0 || (expected !== undefined && bytes.length !== expected * 4)) {
    throw new DomainError('INVALID_ARGUMENT', `masked vector has ${bytes.length} bytes, expected ${(expected ?? 0) * 4}`);
  }
  const out = new Uint32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  if (!LITTLE_ENDIAN) swapWords(out);
  return out;
}

/** AES-256-GCM seal; `aad` binds the envelope to sender, receiver and round. Wire: base64(nonce ‖ ciphertext ‖ tag). */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string, random: RandomSource): string {
  const nonce = Buffer.from(random(12));
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** Opens a `seal` envelope; throws when the key, the AAD or any byte differs. */
export function open(key: Uint8Array, box: string, aad: string): Uint8Array {
  const bytes = Buffer.from(box, 'base64');
  if (bytes.length < 12 + 16) throw new DomainError('INVALID_ARGUMENT', 'share envelope too short');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]));
  } catch {
    throw new DomainError('INVALID_ARGUMENT', 'share envelope failed authentication');
  }
}

/** SHA-256 commitment to a self-mask seed, bound to round and owner (hex). */
export function commitSeed(seed: Uint8Array, roundId: string, owner: string): string {
  return createHash('sha256').update(`qp-secagg/commit/${roundId}/${owner}/`).update(seed).digest('hex');
}
