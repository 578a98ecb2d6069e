// Wire messages of the SecAgg+ round. Plain JSON (keys base64url, vectors
// base64, shares hex), so any transport (Pulsar, REST, in-memory) carries them.
//
// Stages (Bonawitz et al. 2017 §4; Flower's SecAgg+ workflow):
//   0 advertise keys    agent → server  AdvertiseKeys
//   1 share keys        server → agent  ShareKeysRequest      agent → server  EncryptedShares
//   2 masked input      server → agent  MaskedInputRequest    agent → server  MaskedInput
//   3 unmask            server → agent  UnmaskRequest         agent → server  UnmaskShares
import { z } from 'zod';
import { DomainError } from '../errors';

const id = z.string().min(1).max(256);
const b64url32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected 32 bytes base64url');
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
const share = z.object({ x: z.number().int().positive(), y: z.string().regex(/^[0-9a-f]{1,131}$/) });

export const advertiseKeysSchema = z.object({
  type: z.literal('advertiseKeys'),
  roundId: id,
  from: id,
  /** X25519 key for the share envelopes (c^PK). */
  encryptionKey: b64url32,
  /** X25519 key for pairwise masks (s^PK). */
  maskingKey: b64url32,
});

export const encryptedSharesSchema = z.object({
  type: z.literal('encryptedShares'),
  roundId: id,
  from: id,
  /** SHA-256 commitment to the self-mask seed b_u: lets the server check its reconstruction. */
  selfMaskCommitment: z.string().regex(/^[0-9a-f]{64}$/),
  /** One AES-256-GCM envelope per neighbour, holding that neighbour's shares of b_u and s_u^SK. */
  envelopes: z.array(z.object({ to: id, box: b64 })),
});

export const maskedInputSchema = z.object({
  type: z.literal('maskedInput'),
  roundId: id,
  from: id,
  /** Masked quantised vector: uint32 little-endian, base64. */
  vector: b64,
  /** Weighting 'clear' only: the agent's (quantised) weight in weight units. */
  weight: z.number().nonnegative().finite().optional(),
});

export const unmaskSharesSchema = z.object({
  type: z.literal('unmaskShares'),
  roundId: id,
  from: id,
  /** Shares of b_v for neighbours v that sent masked input. */
  selfMaskShares: z.array(z.object({ owner: id, share })),
  /** Shares of s_v^SK for neighbours v that dropped after sharing keys. */
  secretKeyShares: z.array(z.object({ owner: id, share })),
});

export const agentMessageSchema = z.discriminatedUnion('type', [
  advertiseKeysSchema,
  encryptedSharesSchema,
  maskedInputSchema,
  unmaskSharesSchema,
]);

export type AdvertiseKeys = z.infer<typeof advertiseKeysSchema>;
export type EncryptedShares = z.infer<typeof encryptedSharesSchema>;
export type MaskedInput = z.infer<typeof maskedInputSchema>;
export type UnmaskShares = z.infer<typeof unmaskSharesSchema>;
/** Everything the server ever receives from an agent. */
export type AgentMessage = z.infer<typeof agentMessageSchema>;

export interface NeighbourKeys {
  agentId: string;
  encryptionKey: string;
  maskingKey: string;
}

export interface ShareKeysRequest {
  type: 'shareKeysRequest';
  roundId: string;
  to: string;
  /** Shares needed to rebuild a secret, as resolved for this round's agent count. */
  threshold: number;
  neighbours: NeighbourKeys[];
}

export interface MaskedInputRequest {
  type: 'maskedInputRequest';
  roundId: string;
  to: string;
  /** Envelopes addressed to this agent from neighbours that completed stage 1. */
  envelopes: { from: string; box: string }[];
}

export interface UnmaskRequest {
  type: 'unmaskRequest';
  roundId: string;
  to: string;
  /** Neighbours whose masked input arrived: reveal their b shares. */
  survivors: string[];
  /** Neighbours that shared keys but sent no masked input: reveal their s^SK shares. */
  dropped: string[];
}

/** Everything an agent receives from the server. */
export type ServerMessage = ShareKeysRequest | MaskedInputRequest | UnmaskRequest;

/** Validates an untrusted agent message (e.g. parsed JSON off the wire); throws INVALID_ARGUMENT. */
export function parseAgentMessage(value: unknown): AgentMessage {
  const parsed = agentMessageSchema.safeParse(value);
  if (!parsed.success) {
    throw new DomainError('INVALID_ARGUMENT', `malformed secagg message: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
      path: parsed.error.issues[0]?.path.join('.'),
    });
  }
  return parsed.data;
}
