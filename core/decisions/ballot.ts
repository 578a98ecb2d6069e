// The canonical encoding of a ballot and its Ed25519 signature by the agent's
// registration key. Anyone holding the agent's public key can check a kept
// ballot with these bytes (README, "Verifying ballots"):
//   qp-ballot/1 \n decisionId \n agentId \n castAt \n canonical JSON of the choice
// where the choice's canonical JSON is the string or list as cast, or for an
// object its entries sorted by option name.
import { sign, verify, type KeyObject } from 'node:crypto';
import type { Ballot, Choice } from './types';

export const BALLOT_VERSION = 'qp-ballot/1';

/** The choice as canonical JSON: objects with their keys sorted. */
export function canonicalChoice(choice: Choice): string {
  if (typeof choice === 'string' || Array.isArray(choice)) return JSON.stringify(choice);
  return JSON.stringify(Object.fromEntries(Object.entries(choice).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** The bytes an agent signs for a ballot. */
export function ballotSigningInput(ballot: Pick<Ballot, 'decisionId' | 'agentId' | 'castAt' | 'choice'>): Buffer {
  return Buffer.from(
    [BALLOT_VERSION, ballot.decisionId, ballot.agentId, String(ballot.castAt), canonicalChoice(ballot.choice)].join('\n'),
    'utf8',
  );
}

/** A ballot signed with the agent's private key; castAt in ms since the epoch. */
export function signBallot(privateKey: KeyObject, unsigned: Omit<Ballot, 'signature'>): Ballot {
  return { ...unsigned, signature: sign(null, ballotSigningInput(unsigned), privateKey).toString('base64') };
}

/** True when the signature is the agent key's Ed25519 signature of the ballot's canonical bytes. */
export function ballotSignatureValid(ballot: Ballot, publicKey: KeyObject): boolean {
  const signature = Buffer.from(ballot.signature, 'base64');
  return signature.length === 64 && verify(null, ballotSigningInput(ballot), publicKey, signature);
}

/** The ballot's fields with their types checked, or undefined when any is missing or wrong. */
export function parseBallot(value: unknown): Ballot | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { decisionId, agentId, choice, castAt, signature } = value as Record<string, unknown>;
  if (typeof decisionId !== 'string' || typeof agentId !== 'string' || typeof signature !== 'string') return undefined;
  if (typeof castAt !== 'number' || !Number.isSafeInteger(castAt)) return undefined;
  const choiceOk =
    typeof choice === 'string' ||
    (Array.isArray(choice) && choice.every((item) => typeof item === 'string')) ||
    (choice !== null && typeof choice === 'object' && !Array.isArray(choice));
  if (!choiceOk) return undefined;
  return { decisionId, agentId, choice: choice as Choice, castAt, signature };
}
