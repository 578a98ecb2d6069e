// The agent side of SecAgg+ as a state machine with no I/O: each stage method
// takes the server's request and returns the message to send back.
import type { KeyObject } from 'node:crypto';
import { DomainError } from '../errors';
import { resolveSecAggConfig, maskedLength, type SecAggConfig, type SecAggSettings } from './config';
import {
  agree,
  commitSeed,
  cryptoRandom,
  deriveKey,
  encodeUint32,
  generateX25519,
  open,
  prgUint32,
  seal,
  x25519PrivateToRaw,
  x25519PublicFromWire,
  x25519PublicToWire,
  type RandomSource,
  type X25519KeyPair,
} from './crypto';
import type {
  AdvertiseKeys,
  EncryptedShares,
  MaskedInput,
  MaskedInputRequest,
  NeighbourKeys,
  ShareKeysRequest,
  UnmaskRequest,
  UnmaskShares,
} from './messages';
import { addInto, modMask, quantizeInto, subInto } from './quantize';
import { splitSecret, type Share } from './shamir';

export type AgentStage = 'new' | 'keysAdvertised' | 'sharesSent' | 'maskedInputSent' | 'unmasking' | 'aborted';

export interface SecAggAgentOptions {
  /** Example count behind the update; required unless weighting is 'none'. At most maxWeight. */
  weight?: number;
  /** Random bytes for keys, seeds, nonces, share polynomials and stochastic rounding. Default: the OS CSPRNG. */
  random?: RandomSource;
}

export interface SecAggAgent {
  readonly agentId: string;
  readonly stage: AgentStage;
  /** Stage 0: fresh X25519 key pairs (c for envelopes, s for masks); returns the public halves. */
  advertiseKeys(): AdvertiseKeys;
  /** Stage 1: Shamir-shares b_u and s_u^SK among the neighbours, one sealed envelope each. */
  shareKeys(request: ShareKeysRequest): EncryptedShares;
  /** Stage 2: opens the neighbours' envelopes and returns the masked, quantised update. */
  maskedInput(request: MaskedInputRequest, update?: Float32Array, weight?: number): MaskedInput;
  /** Stage 3: reveals b shares of survivors and s^SK shares of dropouts; never both for one peer. */
  unmask(request: UnmaskRequest): UnmaskShares;
}

interface HeldShares {
  selfMask: Share;
  secretKey: Share;
}

const SECRET_BYTES = 32;

/** Envelope AAD: binds a share envelope to its round, sender and receiver. */
export function envelopeAad(roundId: string, from: string, to: string): string {
  return JSON.stringify(['qp-secagg/share', roundId, from, to]);
}

/** Creates the agent-side state machine for one round; `update` may instead be passed at stage 2. */
export function createSecAggAgent(
  config: SecAggConfig,
  agentId: string,
  update?: Float32Array,
  options: SecAggAgentOptions = {},
): SecAggAgent {
  return new Agent(resolveSecAggConfig(config), agentId, update, options);
}

class Agent implements SecAggAgent {
  stage: AgentStage = 'new';
  private readonly random: RandomSource;
  private encryption?: X25519KeyPair;
  private masking?: X25519KeyPair;
  private neighbours = new Map<string, NeighbourKeys>();
  private threshold = 0;
  private selfMaskSeed?: Uint8Array;
  /** Shares this agent holds of its neighbours' secrets, by owner. */
  private held = new Map<string, HeldShares>();
  /** What this agent has revealed per peer: never both kinds. */
  private revealed = new Map<string, 'selfMask' | 'secretKey'>();

  constructor(
    private readonly settings: SecAggSettings,
    readonly agentId: string,
    private update: Float32Array | undefined,
    private readonly options: SecAggAgentOptions,
  ) {
    if (typeof agentId !== 'string' || agentId.length === 0) throw new DomainError('INVALID_ARGUMENT', 'agentId is required');
    this.random = options.random ?? cryptoRandom;
  }

  advertiseKeys(): AdvertiseKeys {
    this.expectStage('new', 'advertiseKeys');
    this.encryption = generateX25519(this.random);
    this.masking = generateX25519(this.random);
    this.stage = 'keysAdvertised';
    return {
      type: 'advertiseKeys',
      roundId: this.settings.roundId,
      from: this.agentId,
      encryptionKey: x25519PublicToWire(this.encryption.publicKey),
      maskingKey: x25519PublicToWire(this.masking.publicKey),
    };
  }

  shareKeys(request: ShareKeysRequest): EncryptedShares {
    this.expectStage('keysAdvertised', 'shareKeys');
    this.expectAddressed(request.roundId, request.to);
    const { neighbours, threshold } = request;
    const ids = neighbours.map((n) => n.agentId);
    // The server chooses the graph; the agent still refuses shapes that break the guarantees.
    if (ids.includes(this.agentId)) this.fail('INVALID_ARGUMENT', 'neighbour list contains this agent');
    if (new Set(ids).size !== ids.length) this.fail('INVALID_ARGUMENT', 'duplicate neighbours');
    if (this.settings.threshold !== undefined && threshold !== this.settings.threshold) {
      this.fail('INVALID_ARGUMENT', `server threshold ${threshold} differs from the configured ${this.settings.threshold}`);
    }
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > ids.length || 2 * threshold <= ids.length) {
      this.fail('INVALID_ARGUMENT', `threshold ${threshold} must satisfy ${ids.length}/2 < t ≤ ${ids.length}`);
    }
    const own = [x25519PublicToWire(this.encryption!.publicKey), x25519PublicToWire(this.masking!.publicKey)];
    const keys = neighbours.flatMap((n) => [n.encryptionKey, n.maskingKey]).concat(own);
    if (new Set(keys).size !== keys.length) this.fail('INVALID_ARGUMENT', 'public keys are not all distinct');

    this.threshold = threshold;
    this.neighbours = new Map(neighbours.map((n) => [n.agentId, n]));
    this.selfMaskSeed = this.random(SECRET_BYTES);
    const sorted = [...ids].sort();
    const xs = sorted.map((_, i) => i + 1);
    const selfMaskShares = splitSecret(this.selfMaskSeed, threshold, xs, this.random);
    const secretKeyShares = splitSecret(x25519PrivateToRaw(this.masking!.privateKey), threshold, xs, this.random);
    const envelopes = sorted.map((to, i) => {
      const key = this.envelopeKey(to);
      const plaintext = Buffer.from(
        JSON.stringify({ from: this.agentId, to, selfMask: selfMaskShares[i], secretKey: secretKeyShares[i] }),
        'utf8',
      );
      return { to, box: seal(key, plaintext, envelopeAad(this.settings.roundId, this.agentId, to), this.random) };
    });
    this.stage = 'sharesSent';
    return {
      type: 'encryptedShares',
      roundId: this.settings.roundId,
      from: this.agentId,
      selfMaskCommitment: commitSeed(this.selfMaskSeed, this.settings.roundId, this.agentId),
      envelopes,
    };
  }

  maskedInput(request: MaskedInputRequest, update?: Float32Array, weight?: number): MaskedInput {
    this.expectStage('sharesSent', 'maskedInput');
    this.expectAddressed(request.roundId, request.to);
    const { settings } = this;
    const x = update ?? this.update;
    if (!x) this.fail('INVALID_ARGUMENT', 'no update to mask');
    if (x!.length !== settings.dimension) {
      this.fail('INVALID_ARGUMENT', `update has ${x!.length} elements, expected ${settings.dimension}`);
    }
    for (const { from, box } of request.envelopes) {
      if (!this.neighbours.has(from)) this.fail('INVALID_ARGUMENT', `envelope from non-neighbour ${from}`);
      if (this.held.has(from)) this.fail('INVALID_ARGUMENT', `second envelope from ${from}`);
      const plain = JSON.parse(
        Buffer.from(open(this.envelopeKey(from), box, envelopeAad(settings.roundId, from, this.agentId))).toString('utf8'),
      ) as { from: string; to: string; selfMask: Share; secretKey: Share };
      if (plain.from !== from || plain.to !== this.agentId) this.fail('INVALID_ARGUMENT', `envelope from ${from} is misaddressed`);
      this.held.set(from, { selfMask: plain.selfMask, secretKey: plain.secretKey });
    }
    // Pair only with neighbours that completed stage 1: they hold our shares and mask against us.
    const partners = [...this.held.keys()];
    if (partners.length < this.threshold) {
      this.fail('UNAVAILABLE', `only ${partners.length} neighbours shared keys; ${this.threshold} needed`);
    }

    const length = maskedLength(settings);
    const mask = modMask(settings.modBits);
    const { scale, quantizedWeight } = this.weightScale(weight ?? this.options.weight);
    const y = new Uint32Array(length);
    quantizeInto(x!, y, { clipRange: settings.clipRange, levels: settings.quantizationLevels, rounding: settings.rounding, scale }, this.random);
    if (settings.weighting === 'masked') y[settings.dimension] = quantizedWeight;
    for (let i = 0; i < length; i++) y[i] = (y[i] & mask) >>> 0;

    addInto(y, prgUint32(deriveKey(this.selfMaskSeed!, settings.roundId, 'self-mask'), length), mask);
    for (const peer of partners) {
      const pairwise = prgUint32(pairwiseKey(this.masking!.privateKey, this.neighbours.get(peer)!.maskingKey, settings.roundId), length);
      // The smaller id adds, the larger subtracts: the pair cancels in the sum.
      if (this.agentId < peer) addInto(y, pairwise, mask);
      else subInto(y, pairwise, mask);
    }
    this.stage = 'maskedInputSent';
    this.update = undefined;
    const message: MaskedInput = { type: 'maskedInput', roundId: settings.roundId, from: this.agentId, vector: encodeUint32(y) };
    if (settings.weighting === 'clear') message.weight = (quantizedWeight / settings.quantizationLevels) * settings.maxWeight;
    return message;
  }

  unmask(request: UnmaskRequest): UnmaskShares {
    if (this.stage !== 'maskedInputSent' && this.stage !== 'unmasking') this.expectStage('maskedInputSent', 'unmask');
    this.expectAddressed(request.roundId, request.to);
    const { survivors, dropped } = request;
    // Check everything before revealing anything.
    const both = survivors.filter((id) => dropped.includes(id));
    if (both.length > 0) this.refuse(both[0], 'listed as both survivor and dropout');
    if (dropped.includes(this.agentId)) this.fail('INVALID_ARGUMENT', 'this agent is alive but listed as dropped');
    for (const id of [...survivors, ...dropped]) {
      if (!this.held.has(id)) this.fail('INVALID_ARGUMENT', `no shares held for ${id}`);
    }
    if (new Set(survivors).size !== survivors.length || new Set(dropped).size !== dropped.length) {
      this.fail('INVALID_ARGUMENT', 'duplicate ids in the unmask request');
    }
    // This agent survived too, so at least threshold − 1 of its neighbours must be reported alive (Bonawitz et al. §4, round 4).
    if (survivors.length + 1 < this.threshold) {
      this.fail('UNAVAILABLE', `only ${survivors.length} surviving neighbours; ${this.threshold - 1} needed`);
    }
    for (const id of survivors) if (this.revealed.get(id) === 'secretKey') this.refuse(id, 'its secret-key share was already revealed');
    for (const id of dropped) if (this.revealed.get(id) === 'selfMask') this.refuse(id, 'its self-mask share was already revealed');

    for (const id of survivors) this.revealed.set(id, 'selfMask');
    for (const id of dropped) this.revealed.set(id, 'secretKey');
    this.stage = 'unmasking';
    return {
      type: 'unmaskShares',
      roundId: this.settings.roundId,
      from: this.agentId,
      selfMaskShares: survivors.map((owner) => ({ owner, share: this.held.get(owner)!.selfMask })),
      secretKeyShares: dropped.map((owner) => ({ owner, share: this.held.get(owner)!.secretKey })),
    };
  }

  private weightScale(weight: number | undefined): { scale: number; quantizedWeight: number } {
    const { weighting, maxWeight, quantizationLevels } = this.settings;
    if (weighting === 'none') return { scale: 1, quantizedWeight: 0 };
    if (weight === undefined || !Number.isFinite(weight) || weight < 0) {
      this.fail('INVALID_ARGUMENT', `weighting '${weighting}' needs a non-negative weight`);
    }
    if (weight! > maxWeight) this.fail('INVALID_ARGUMENT', `weight ${weight} exceeds maxWeight ${maxWeight}`);
    // The weight ratio is itself quantised so that scaled vector and weight agree exactly.
    const quantizedWeight = Math.round((weight! / maxWeight) * quantizationLevels);
    return { scale: quantizedWeight / quantizationLevels, quantizedWeight };
  }

  private envelopeKey(peer: string): Buffer {
    const keys = this.neighbours.get(peer);
    if (!keys) this.fail('INVALID_ARGUMENT', `${peer} is not a neighbour`);
    return deriveKey(agree(this.encryption!.privateKey, x25519PublicFromWire(keys!.encryptionKey)), this.settings.roundId, 'share-envelope');
  }

  private expectStage(stage: AgentStage, action: string): void {
    if (this.stage !== stage) {
      throw new DomainError('CONFLICT', `agent ${this.agentId}: ${action} in stage '${this.stage}', expected '${stage}'`, {
        stage: this.stage,
      });
    }
  }

  private expectAddressed(roundId: string, to: string): void {
    if (roundId !== this.settings.roundId || to !== this.agentId) {
      this.fail('INVALID_ARGUMENT', `request for ${to} in round ${roundId} reached ${this.agentId} in ${this.settings.roundId}`);
    }
  }

  /** Honest agents abort the round on any protocol violation (Bonawitz et al. 2017). */
  private fail(code: 'INVALID_ARGUMENT' | 'UNAVAILABLE', message: string): never {
    this.stage = 'aborted';
    throw new DomainError(code, `agent ${this.agentId}: ${message}`);
  }

  private refuse(peer: string, why: string): never {
    this.stage = 'aborted';
    throw new DomainError(
      'FORBIDDEN',
      `agent ${this.agentId} refuses to reveal both the self-mask and the secret-key share of ${peer}: ${why}`,
      { reason: 'WOULD_REVEAL_BOTH_SECRETS', peer },
    );
  }
}

/** PRG key of the pairwise mask between an agent's masking key and a peer's public masking key. */
export function pairwiseKey(privateKey: KeyObject, peerPublicWire: string, roundId: string): Buffer {
  return deriveKey(agree(privateKey, x25519PublicFromWire(peerPublicWire)), roundId, 'pairwise-mask');
}
