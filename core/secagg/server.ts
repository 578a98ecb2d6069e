// The server side of SecAgg+ as a state machine with no I/O: receive agent
// messages stage by stage, close each stage to get the next requests, and
// finish() with the unmasked sum. Memory is O(dimension + agents × degree):
// masked vectors are folded into one accumulator as they arrive.
import { DomainError } from '../errors';
import { pairwiseKey } from './agent';
import { maskedLength, resolveGraphParameters, resolveSecAggConfig, type SecAggConfig, type SecAggSettings } from './config';
import { commitSeed, decodeUint32, deriveKey, prgUint32, x25519PrivateFromRaw, x25519PublicWireOf } from './crypto';
import { neighbourGraph } from './graph';
import {
  parseAgentMessage,
  type AdvertiseKeys,
  type AgentMessage,
  type MaskedInputRequest,
  type ShareKeysRequest,
  type UnmaskRequest,
} from './messages';
import { addInto, dequantizeSum, modMask, subInto } from './quantize';
import { combineShares, type Share } from './shamir';

export type ServerStage = 'advertiseKeys' | 'shareKeys' | 'maskedInput' | 'unmask' | 'finished';

/** What receive() did with a message: counted it, ignored a repeat, or ignored a straggler from a closed stage. */
export type ReceiveOutcome = 'accepted' | 'duplicate' | 'late';

export interface SecAggResult {
  /** Σ of the survivors' clipped updates; with weighting, Σ w_i·x_i in weight units (float32). */
  sum: Float32Array;
  /** Divide `sum` by this for the mean: the survivor count, or Σ w_i with weighting. */
  totalWeight: number;
  /** Agents whose input is in the sum. */
  survivors: string[];
  /** Participants whose input is not in the sum, whatever stage they dropped at. */
  dropouts: string[];
  /** The subset of `dropouts` that shared keys but sent no masked input (their s^SK was rebuilt). */
  droppedAfterShareKeys: string[];
  /** Neighbour degree and reconstruction threshold used. */
  degree: number;
  threshold: number;
}

export interface SecAggServer {
  readonly stage: ServerStage;
  /** Takes one agent message (validated; JSON off the wire is fine). Throws INVALID_ARGUMENT on bad content. */
  receive(message: unknown): ReceiveOutcome;
  /** Ends stage 0: builds the neighbour graph over the agents that advertised keys. */
  closeAdvertiseKeys(): ShareKeysRequest[];
  /** Ends stage 1: routes the sealed envelopes to their receivers. */
  closeShareKeys(): MaskedInputRequest[];
  /** Ends stage 2: tells each survivor whose shares to reveal. */
  closeMaskedInput(): UnmaskRequest[];
  /** Ends stage 3: rebuilds secrets, removes masks, dequantises. Throws UNAVAILABLE when too many dropped. */
  finish(): SecAggResult;
}

/** Creates the server-side state machine for one round over the selected `participants`. */
export function createSecAggServer(config: SecAggConfig, participants: readonly string[]): SecAggServer {
  return new Server(resolveSecAggConfig(config), participants);
}

interface Collected {
  selfMask: Map<string, Share[]>;
  secretKey: Map<string, Share[]>;
}

class Server implements SecAggServer {
  stage: ServerStage = 'advertiseKeys';
  private readonly participants: Set<string>;
  private readonly keys = new Map<string, AdvertiseKeys>();
  private graph = new Map<string, string[]>();
  private degree = 0;
  private threshold = 0;
  /** Stage 1 senders (U2) with their envelopes and commitments. */
  private readonly shared = new Map<string, { commitment: string; envelopes: { to: string; box: string }[] }>();
  /** Stage 2 senders (U3). */
  private readonly masked = new Set<string>();
  private readonly clearWeights = new Map<string, number>();
  private accumulator: Uint32Array;
  private readonly requested = new Map<string, UnmaskRequest>();
  private readonly answered = new Set<string>();
  private readonly collected: Collected = { selfMask: new Map(), secretKey: new Map() };
  private readonly mask: number;

  constructor(
    private readonly settings: SecAggSettings,
    participants: readonly string[],
  ) {
    this.participants = new Set(participants);
    if (this.participants.size !== participants.length) throw new DomainError('INVALID_ARGUMENT', 'participants must be distinct');
    this.accumulator = new Uint32Array(maskedLength(settings));
    this.mask = modMask(settings.modBits);
  }

  receive(raw: unknown): ReceiveOutcome {
    const message = parseAgentMessage(raw);
    if (message.roundId !== this.settings.roundId) {
      throw new DomainError('INVALID_ARGUMENT', `message for round ${message.roundId}, this is ${this.settings.roundId}`);
    }
    if (!this.participants.has(message.from)) {
      throw new DomainError('FORBIDDEN', `${message.from} is not a participant of round ${this.settings.roundId}`);
    }
    const expected = STAGE_OF[message.type];
    if (expected !== this.stage) return STAGES.indexOf(expected) < STAGES.indexOf(this.stage) ? 'late' : this.early(message);
    switch (message.type) {
      case 'advertiseKeys':
        return this.onAdvertise(message);
      case 'encryptedShares':
        return this.onShares(message);
      case 'maskedInput':
        return this.onMasked(message);
      case 'unmaskShares':
        return this.onUnmask(message);
    }
  }

  private early(message: AgentMessage): never {
    throw new DomainError('CONFLICT', `${message.type} from ${message.from} before its stage (server is in '${this.stage}')`);
  }

  private onAdvertise(message: Extract<AgentMessage, { type: 'advertiseKeys' }>): ReceiveOutcome {
    if (this.keys.has(message.from)) return 'duplicate';
    this.keys.set(message.from, message);
    return 'accepted';
  }

  closeAdvertiseKeys(): ShareKeysRequest[] {
    this.expectStage('advertiseKeys');
    const ids = [...this.keys.keys()].sort();
    const all = ids.flatMap((id) => [this.keys.get(id)!.encryptionKey, this.keys.get(id)!.maskingKey]);
    if (new Set(all).size !== all.length) throw new DomainError('INVALID_ARGUMENT', 'two agents advertised the same public key');
    ({ degree: this.degree, threshold: this.threshold } = resolveGraphParameters(this.settings, ids.length));
    this.graph = neighbourGraph(ids, this.degree, this.settings.graphSeed);
    this.stage = 'shareKeys';
    return ids.map((to) => ({
      type: 'shareKeysRequest',
      roundId: this.settings.roundId,
      to,
      threshold: this.threshold,
      neighbours: this.graph.get(to)!.map((agentId) => {
        const k = this.keys.get(agentId)!;
        return { agentId, encryptionKey: k.encryptionKey, maskingKey: k.maskingKey };
      }),
    }));
  }

  private onShares(message: Extract<AgentMessage, { type: 'encryptedShares' }>): ReceiveOutcome {
    const neighbours = this.graph.get(message.from);
    if (!neighbours) throw new DomainError('FORBIDDEN', `${message.from} did not advertise keys`);
    if (this.shared.has(message.from)) return 'duplicate';
    const targets = message.envelopes.map((e) => e.to).sort();
    if (targets.length !== neighbours.length || targets.some((t, i) => t !== neighbours[i])) {
      throw new DomainError('INVALID_ARGUMENT', `${message.from} must send exactly one envelope per neighbour`);
    }
    this.shared.set(message.from, { commitment: message.selfMaskCommitment, envelopes: message.envelopes });
    return 'accepted';
  }

  closeShareKeys(): MaskedInputRequest[] {
    this.expectStage('shareKeys');
    const inbox = new Map<string, { from: string; box: string }[]>([...this.shared.keys()].map((id) => [id, []]));
    for (const [from, { envelopes }] of this.shared) {
      for (const { to, box } of envelopes) inbox.get(to)?.push({ from, box });
    }
    this.stage = 'maskedInput';
    return [...inbox.keys()].sort().map((to) => ({ type: 'maskedInputRequest', roundId: this.settings.roundId, to, envelopes: inbox.get(to)! }));
  }

  private onMasked(message: Extract<AgentMessage, { type: 'maskedInput' }>): ReceiveOutcome {
    if (!this.shared.has(message.from)) throw new DomainError('FORBIDDEN', `${message.from} did not share keys`);
    if (this.masked.has(message.from)) return 'duplicate';
    if (this.settings.weighting === 'clear') {
      if (message.weight === undefined) throw new DomainError('INVALID_ARGUMENT', `${message.from} sent no weight`);
      if (message.weight > this.settings.maxWeight) throw new DomainError('INVALID_ARGUMENT', `${message.from} weight exceeds maxWeight`);
    }
    const vector = decodeUint32(message.vector, this.accumulator.length);
    addInto(this.accumulator, vector, this.mask);
    this.masked.add(message.from);
    if (message.weight !== undefined) this.clearWeights.set(message.from, message.weight);
    return 'accepted';
  }

  closeMaskedInput(): UnmaskRequest[] {
    this.expectStage('maskedInput');
    this.stage = 'unmask';
    for (const to of [...this.masked].sort()) {
      // Every neighbour in U2 exchanged envelopes (and masks) with `to`.
      const partners = this.graph.get(to)!.filter((v) => this.shared.has(v));
      this.requested.set(to, {
        type: 'unmaskRequest',
        roundId: this.settings.roundId,
        to,
        survivors: partners.filter((v) => this.masked.has(v)),
        dropped: partners.filter((v) => !this.masked.has(v)),
      });
    }
    return [...this.requested.values()];
  }

  private onUnmask(message: Extract<AgentMessage, { type: 'unmaskShares' }>): ReceiveOutcome {
    const request = this.requested.get(message.from);
    if (!request) throw new DomainError('FORBIDDEN', `${message.from} was not asked to unmask`);
    if (this.answered.has(message.from)) return 'duplicate';
    const owners = (list: { owner: string }[]) => list.map((s) => s.owner).sort().join('\n');
    if (owners(message.selfMaskShares) !== [...request.survivors].sort().join('\n') ||
        owners(message.secretKeyShares) !== [...request.dropped].sort().join('\n')) {
      throw new DomainError('INVALID_ARGUMENT', `${message.from} answered with shares that were not requested`);
    }
    for (const { owner, share } of message.selfMaskShares) push(this.collected.selfMask, owner, share);
    for (const { owner, share } of message.secretKeyShares) push(this.collected.secretKey, owner, share);
    this.answered.add(message.from);
    return 'accepted';
  }

  finish(): SecAggResult {
    this.expectStage('unmask');
    const survivors = [...this.masked].sort();
    const droppedAfterShareKeys = [...this.shared.keys()].filter((id) => !this.masked.has(id)).sort();
    // Dropouts that some survivor masked against: their pairwise masks must go.
    const toCancel = droppedAfterShareKeys.filter((u) => this.graph.get(u)!.some((v) => this.masked.has(v)));
    if (survivors.length === 0) {
      throw new DomainError('UNAVAILABLE', 'secure aggregation failed: no agent sent a masked input', { reason: 'NO_SURVIVORS' });
    }
    const missing = [
      ...survivors.map((id) => ({ agentId: id, secret: 'selfMask', have: this.collected.selfMask.get(id)?.length ?? 0 })),
      ...toCancel.map((id) => ({ agentId: id, secret: 'secretKey', have: this.collected.secretKey.get(id)?.length ?? 0 })),
    ].filter((m) => m.have < this.threshold);
    if (missing.length > 0) {
      const first = missing[0];
      throw new DomainError(
        'UNAVAILABLE',
        `secure aggregation cannot be unmasked: too many dropouts — ${missing.length} secret(s) lack the ${this.threshold} shares needed ` +
          `(e.g. ${first.secret} of ${first.agentId}: ${first.have} share(s))`,
        { reason: 'TOO_MANY_DROPOUTS', threshold: this.threshold, missing },
      );
    }

    const { roundId } = this.settings;
    const length = this.accumulator.length;
    // Work on a copy so that a failed finish() leaves the accumulator intact.
    const y = Uint32Array.from(this.accumulator);
    for (const id of survivors) {
      const seed = combineShares(this.collected.selfMask.get(id)!, this.threshold, 32);
      if (commitSeed(seed, roundId, id) !== this.shared.get(id)!.commitment) {
        throw new DomainError('INVALID_ARGUMENT', `self-mask seed of ${id} does not match its commitment: shares are corrupt`, {
          reason: 'BAD_SHARES',
          agentId: id,
        });
      }
      subInto(y, prgUint32(deriveKey(seed, roundId, 'self-mask'), length), this.mask);
    }
    for (const u of toCancel) {
      const privateKey = x25519PrivateFromRaw(combineShares(this.collected.secretKey.get(u)!, this.threshold, 32));
      if (x25519PublicWireOf(privateKey) !== this.keys.get(u)!.maskingKey) {
        throw new DomainError('INVALID_ARGUMENT', `masking key of ${u} does not match its public key: shares are corrupt`, {
          reason: 'BAD_SHARES',
          agentId: u,
        });
      }
      for (const v of this.graph.get(u)!.filter((w) => this.masked.has(w))) {
        const pairwise = prgUint32(pairwiseKey(privateKey, this.keys.get(v)!.maskingKey, roundId), length);
        // v added the mask when v < u and subtracted it otherwise: undo that.
        if (v < u) subInto(y, pairwise, this.mask);
        else addInto(y, pairwise, this.mask);
      }
    }

    const { dimension, clipRange, quantizationLevels, weighting, maxWeight } = this.settings;
    const values = dequantizeSum(y, dimension, survivors.length, clipRange, quantizationLevels);
    let totalWeight = survivors.length;
    const sum = new Float32Array(dimension);
    if (weighting === 'none') {
      sum.set(values);
    } else {
      for (let i = 0; i < dimension; i++) sum[i] = values[i] * maxWeight;
      totalWeight =
        weighting === 'masked'
          ? (y[dimension] / quantizationLevels) * maxWeight
          : survivors.reduce((acc, id) => acc + this.clearWeights.get(id)!, 0);
    }
    this.stage = 'finished';
    return {
      sum,
      totalWeight,
      survivors,
      dropouts: [...this.participants].filter((id) => !this.masked.has(id)).sort(),
      droppedAfterShareKeys,
      degree: this.degree,
      threshold: this.threshold,
    };
  }

  private expectStage(stage: ServerStage): void {
    if (this.stage !== stage) throw new DomainError('CONFLICT', `secagg server is in stage '${this.stage}', not '${stage}'`);
  }
}

const STAGES: ServerStage[] = ['advertiseKeys', 'shareKeys', 'maskedInput', 'unmask', 'finished'];
const STAGE_OF: Record<AgentMessage['type'], ServerStage> = {
  advertiseKeys: 'advertiseKeys',
  encryptedShares: 'shareKeys',
  maskedInput: 'maskedInput',
  unmaskShares: 'unmask',
};

function push(map: Map<string, Share[]>, key: string, value: Share): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
