// Shared test vectors of the agent's signatures, computed by the TypeScript
// functions (core/message-proof.ts, core/agents.ts) from fixed inputs. The
// Python SDK's pytest suite checks its own signatures against the file
// (test/fixtures/agent-proof-vectors.json) and test/python-sdk.test.ts checks
// the file against these functions, so both sides stay in step.
// Rewrite the file: npx tsx test/support/proof-vectors.ts
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { challengeSigningInput } from '../../core/agents';
import { proofSigningInput, signAsAgent } from '../../core/message-proof';
import { encodeUpdateHeader, paramsToBytes, type UpdateHeader } from '../../core/tuning';
import { envelopeAad, pairwiseKey } from '../../core/secagg/agent';
import type { SecAggConfig } from '../../core/secagg/config';
import {
  agree,
  commitSeed,
  deriveKey,
  encodeUint32,
  prgUint32,
  seal,
  seededRandomSource,
  x25519PrivateFromRaw,
  x25519PublicWireOf,
} from '../../core/secagg/crypto';
import type { AgentMessage, ServerMessage } from '../../core/secagg/messages';
import { quantizeInto } from '../../core/secagg/quantize';
import { combineShares, splitSecret, type Share } from '../../core/secagg/shamir';
import { runSecAggRound } from './secagg-round';
import { withLocalPrivacy } from '../../agents/sdk';
import { clipL2, gaussianNoise, keyedUniform } from '../../core/privacy/gaussian';
import { profileBid } from '../../core/allocation/contract-net';
import { allocationAgent, type TaskAnnouncementMessage, type TaskBidMessage, type TaskOutcomeMessage } from '../../core/tasks';
import type { AgentResources } from '../../core/agents';
import { ballotSigningInput, signBallot } from '../../core/decisions/ballot';
import type { Ballot, Choice } from '../../core/decisions/types';

export const PROOF_VECTORS_FILE = join(__dirname, '..', 'fixtures', 'agent-proof-vectors.json');

/** Ed25519 seed of the vectors' key (a test key, never used elsewhere). */
const SEED_HEX = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const AGENT_ID = 'agent-py-vectors';

const PROOF_CASES: { topic: string; properties: Record<string, string>; payload: string; sentAt: number }[] = [
  { topic: 'swarm/s1/heartbeats', properties: {}, payload: '{"agentId":"agent-py-vectors","sentAt":1780000000000}', sentAt: 1780000000000 },
  { topic: 'swarm/s1/updates-job-7', properties: { type: 'update', jobId: 'job-7', round: '3', attempt: '0' }, payload: '\u0000\u0001\u0002\u00ff', sentAt: 1780000000123 },
  // Escapes and ordering where JSON writers and sorts could differ: quotes, backslash, control
  // characters, non-ASCII, and names whose UTF-16 order differs from their code point order.
  {
    topic: 'swarm/s-ü/behaviors',
    properties: { note: 'héllo ✓ "q" \\ \n\t\u0001\u007f', Zeta: '1', alpha: '2', '\uffff': 'bmp', '😀': 'astral', é: '' },
    payload: '',
    sentAt: 1,
  },
];

// Update headers (core/tuning.ts) with metrics whose JavaScript spelling differs from Python's repr.
const UPDATE_CASES: { header: UpdateHeader; params: number[] }[] = [
  { header: { jobId: 'job-7', round: 2, attempt: 1, agentId: AGENT_ID, examples: 1200 }, params: [0, 1, -1.5, 0.1, 3.4028234663852886e38] },
  {
    header: {
      jobId: 'job-7',
      round: 3,
      attempt: 0,
      agentId: AGENT_ID,
      examples: 37,
      trainLoss: 0.1 + 0.2,
      trainLossSquared: 1e-7,
      trainAccuracy: 0.00001,
      evalLoss: 2.5e-6,
      evalAccuracy: 1e21,
      evalExamples: 9,
      stepsCompleted: 3,
      stepsPlanned: 4,
    },
    params: [1e-7, -2.5e-6, 65504, 1 / 3],
  },
];

export interface ProofVectors {
  seedHex: string;
  publicKeyPem: string;
  challenge: { agentId: string; challenge: string; signingInput: string; signature: string };
  proofs: {
    topic: string;
    properties: Record<string, string>;
    payloadBase64: string;
    sentAt: number;
    agentId: string;
    signingInputBase64: string;
    signed: Record<string, string>;
  }[];
  updates: { header: UpdateHeader; params: number[]; properties: Record<string, string>; payloadBase64: string }[];
  secagg: SecAggVectors;
  privacy: PrivacyVectors;
  tasks: TaskVectors;
  ballots: BallotVectors;
}

/** Contract Net bids from a declared profile (core/allocation profileBid via allocationAgent, as agents/sdk.ts bids) and signed task messages. */
export interface TaskVectors {
  bids: { announcement: TaskAnnouncementMessage; agentId: string; capabilities: string[]; resources?: AgentResources; nowMs: number; bid: TaskBidMessage | null }[];
  /** Each message as the SDK publishes it: JSON.stringify bytes on replyTopic, signed with the vectors' key. */
  signed: { topic: string; payloadBase64: string; sentAt: number; signed: Record<string, string> }[];
}

/** Ballots signed by core/decisions/ballot.ts signBallot with the vectors' key. */
export interface BallotVectors {
  cases: { ballot: Ballot; signingInput: string; json: string }[];
}

const HOUR_MS = 3_600_000;
const T0 = 1_780_000_000_000;

function announcement(taskId: string, fields: Partial<TaskAnnouncementMessage>): TaskAnnouncementMessage {
  return {
    type: 'task-announcement',
    taskId,
    attempt: 1,
    swarmId: 's1',
    kind: 'echo',
    requirements: {},
    estimatedWork: 60,
    deadlineMs: T0 + HOUR_MS,
    bidDeadlineMs: T0 + 3000,
    replyTopic: 'swarm/s1/task-results',
    ...fields,
  };
}

const BID_CASES: { announcement: TaskAnnouncementMessage; capabilities: string[]; resources?: AgentResources; nowMs: number }[] = [
  // No energy profile: the defaults (speed 1, 100 W busy, 400 g/kWh).
  { announcement: announcement('t-default', {}), capabilities: [], nowMs: T0 },
  {
    announcement: announcement('t-green', { requirements: { cpu: 2, capabilities: ['echo'] }, estimatedWork: 7 }),
    capabilities: ['echo'],
    resources: { cpu: 2, memoryMb: 1024, energy: { source: 'solar', carbonGPerKWh: 20, busyWatts: 90, idleWatts: 10, speed: 3 } },
    nowMs: T0 + 17,
  },
  // Deferrable: starts in the forecast's low-carbon window, still meeting the deadline.
  {
    announcement: announcement('t-deferrable', { estimatedWork: 1800, deferrable: true, deadlineMs: T0 + 6 * HOUR_MS }),
    capabilities: ['echo'],
    resources: {
      cpu: 1,
      memoryMb: 512,
      energy: {
        source: 'mixed',
        carbonGPerKWh: 450,
        busyWatts: 120,
        idleWatts: 15,
        speed: 0.7,
        forecast: [
          { atMs: T0 + HOUR_MS, gPerKWh: 300 },
          { atMs: T0 + 2.5 * HOUR_MS, gPerKWh: 35 },
          { atMs: T0 + 4 * HOUR_MS, gPerKWh: 500 },
        ],
      },
    },
    nowMs: T0 + 1,
  },
  // Cannot run it: a missing capability, too little memory, no GPU, over its energy budget.
  { announcement: announcement('t-nocap', { requirements: { capabilities: ['gpu-train'] } }), capabilities: ['echo'], nowMs: T0 },
  { announcement: announcement('t-memory', { requirements: { memoryMb: 4096 } }), capabilities: [], resources: { cpu: 4, memoryMb: 2048 }, nowMs: T0 },
  { announcement: announcement('t-gpu', { requirements: { gpu: 1 } }), capabilities: [], nowMs: T0 },
  {
    announcement: announcement('t-budget', { estimatedWork: 3600 }),
    capabilities: [],
    resources: { cpu: 1, memoryMb: 1024, energy: { source: 'battery', carbonGPerKWh: 0, busyWatts: 100, idleWatts: 5, budgetWh: 99.5 } },
    nowMs: T0,
  },
];

function computeTaskVectors(privateKey: ReturnType<typeof vectorKey>): TaskVectors {
  const bids = BID_CASES.map(({ announcement, capabilities, resources, nowMs }) => {
    const agentId = AGENT_ID;
    const estimate = profileBid(
      {
        taskId: announcement.taskId,
        requirements: announcement.requirements,
        estimatedWork: announcement.estimatedWork,
        deadlineMs: announcement.deadlineMs,
        deferrable: announcement.deferrable,
      },
      allocationAgent(agentId, capabilities, resources),
      nowMs,
    );
    const bid: TaskBidMessage | null = estimate
      ? { type: 'task-bid', taskId: announcement.taskId, attempt: announcement.attempt, agentId, finishAtMs: estimate.finishAtMs, energyWh: estimate.energyWh, carbonG: estimate.carbonG }
      : null;
    return { announcement, agentId, capabilities, resources, nowMs, bid };
  });
  const outcomes: TaskOutcomeMessage[] = [
    { type: 'task-outcome', taskId: 't-green', attempt: 2, agentId: AGENT_ID, outcome: 'succeeded', result: { ranOn: AGENT_ID, score: 0.1 + 0.2, n: 7, tiny: 1e-7, huge: 1e21, text: 'é ✓ "q"', list: [1, null, true] } },
    { type: 'task-outcome', taskId: 't-green', attempt: 2, agentId: AGENT_ID, outcome: 'succeeded', result: null },
    { type: 'task-outcome', taskId: 't-green', attempt: 1, agentId: AGENT_ID, outcome: 'failed', reason: 'out of memory' },
    { type: 'task-outcome', taskId: 't-green', attempt: 1, agentId: AGENT_ID, outcome: 'declined', reason: 'busy' },
    { type: 'task-outcome', taskId: 't-green', attempt: 1, agentId: AGENT_ID, outcome: 'progress', progress: 0.25 },
  ];
  const messages: Array<{ body: TaskBidMessage | TaskOutcomeMessage; topic: string }> = [
    ...bids.filter((b) => b.bid).map((b) => ({ body: b.bid as TaskBidMessage, topic: b.announcement.replyTopic })),
    ...outcomes.map((body) => ({ body, topic: 'swarm/s1/task-results' })),
  ];
  return {
    bids,
    signed: messages.map(({ body, topic }, i) => {
      const payload = Buffer.from(JSON.stringify(body));
      const sentAt = T0 + 1000 + i;
      return { topic, payloadBase64: payload.toString('base64'), sentAt, signed: signAsAgent(privateKey, AGENT_ID, topic, { type: body.type }, payload, sentAt) };
    }),
  };
}

const BALLOT_CHOICES: Choice[] = [
  'yes',
  'option-ü ✓',
  ['b', 'a', 'ü'],
  { zeta: 1, alpha: 0.1 + 0.2, é: 2, Z: 1e21, '\uffff': 3, '😀': 1e-7, b: 0 },
];

function computeBallotVectors(privateKey: ReturnType<typeof vectorKey>): BallotVectors {
  return {
    cases: BALLOT_CHOICES.map((choice, i) => {
      const ballot = signBallot(privateKey, { decisionId: `dec-${i}`, agentId: AGENT_ID, choice, castAt: T0 + 500 + i });
      return { ballot, signingInput: ballotSigningInput(ballot).toString('utf8'), json: JSON.stringify(ballot) };
    }),
  };
}

/** Clipping and noise (core/privacy) from keyed uniforms: the agent's local-DP release, element for element. */
export interface PrivacyVectors {
  uniform: { keyHex: string; values: number[] };
  clip: { vector: number[]; clipNorm: number; clipped: number[]; norm: number; wasClipped: boolean }[];
  noise: { vector: number[]; std: number; keyHex: string; noised: number[] };
  /** agents/sdk.ts withLocalPrivacy: global and trained params in, the release out. */
  localDp: { global: number[]; params: number[]; privacy: { clipNorm: number; noiseMultiplier: number }; keyHex: string; released: number[] }[];
}

function computePrivacyVectors(): PrivacyVectors {
  const key = (tag: string) => seededRandomSource(`privacy/${tag}`)(32);
  const uniform = keyedUniform(key('uniform'));
  const vector = Float32Array.from({ length: 12 }, (_, i) => Math.fround(Math.sin(i + 1) * (i % 3 === 0 ? 3 : 0.7)));
  const global = Float32Array.from({ length: 12 }, (_, i) => Math.fround(0.1 * i - 0.3));
  const params = Float32Array.from(global, (g, i) => Math.fround(g + vector[i]));
  return {
    uniform: { keyHex: hex(key('uniform')), values: Array.from({ length: 5 }, () => uniform()) },
    clip: [0.5, 3, 100].map((clipNorm) => {
      const { vector: clipped, norm, clipped: wasClipped } = clipL2(vector, clipNorm);
      return { vector: Array.from(vector), clipNorm, clipped: Array.from(clipped), norm, wasClipped };
    }),
    noise: { vector: Array.from(vector), std: 0.37, keyHex: hex(key('noise')), noised: Array.from(gaussianNoise(vector, 0.37, keyedUniform(key('noise')))) },
    localDp: [
      { clipNorm: 1, noiseMultiplier: 0.8 },
      { clipNorm: 50, noiseMultiplier: 1.1 },
    ].map((privacy, i) => ({
      global: Array.from(global),
      params: Array.from(params),
      privacy,
      keyHex: hex(key(`local-${i}`)),
      released: Array.from(withLocalPrivacy(global, params, privacy, keyedUniform(key(`local-${i}`)))),
    })),
  };
}

/** SecAgg+ (core/secagg) from seeded randomness: each building block, and one whole round's transcript. */
export interface SecAggVectors {
  seededRandom: { seed: string; bytesHex: string };
  keys: { rawHex: string; publicWire: string }[];
  agreement: { sharedHex: string; envelopeKeyHex: string; pairwiseKeyHex: string; roundId: string };
  derive: { secretHex: string; roundId: string; purpose: string; keyHex: string }[];
  prg: { keyHex: string; length: number; wordsBase64: string };
  seal: { keyHex: string; plaintextHex: string; aad: string; seed: string; box: string };
  commit: { seedHex: string; roundId: string; owner: string; commitment: string };
  shamir: { secretHex: string; threshold: number; xs: number[]; seed: string; shares: Share[]; combinedFrom: number[] };
  quantize: { values: number[]; clipRange: number; levels: number; rounding: 'stochastic' | 'nearest'; scale: number; seed: string; quantized: number[] }[];
  round: {
    config: SecAggConfig;
    /** Each agent's random source is seededRandomSource(`${seed}/${agentId}`). */
    seed: string;
    updates: Record<string, number[]>;
    weights: Record<string, number>;
    droppedAfterShareKeys: string[];
    /** What the agents sent, in order, and what the manager asked of them. */
    agentMessages: AgentMessage[];
    serverRequests: ServerMessage[];
    sum: number[];
    totalWeight: number;
    survivors: string[];
  };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function computeSecAggVectors(): SecAggVectors {
  const roundId = 'job-7/3/0';
  const raws = ['a1', 'b2'].map((tag) => seededRandomSource(`keys/${tag}`)(32));
  const [a, b] = raws.map((raw) => x25519PrivateFromRaw(raw));
  const shared = agree(a, createPublicKey(b));
  const prgKey = deriveKey(Buffer.from('prg-secret'), roundId, 'self-mask');
  const sealKey = deriveKey(Buffer.from('seal-secret'), roundId, 'share-envelope');
  const plaintext = Buffer.from(JSON.stringify({ from: 'a', to: 'b', selfMask: { x: 1, y: 'ff' } }), 'utf8');
  const secret = seededRandomSource('shamir/secret')(32);
  const shares = splitSecret(secret, 3, [1, 2, 3, 4, 5], seededRandomSource('shamir/coefficients'));
  const combinedFrom = [5, 2, 4];
  const combined = combineShares(combinedFrom.map((x) => shares[x - 1]), 3, 32);
  if (hex(combined) !== hex(secret)) throw new Error('shamir vectors do not rebuild their secret');
  const quantizeValues = [0, 1, -1, 0.5, -7.99, 8, 9.5, -100, 1e-7, 3.3333333];
  const quantizeCases = (['stochastic', 'nearest'] as const).flatMap((rounding) =>
    [1, 0.375].map((scale) => {
      const out = new Uint32Array(quantizeValues.length);
      const seed = `quantize/${rounding}/${scale}`;
      quantizeInto(Float32Array.from(quantizeValues), out, { clipRange: 8, levels: 2 ** 20, rounding, scale }, seededRandomSource(seed));
      return { values: quantizeValues, clipRange: 8, levels: 2 ** 20, rounding, scale, seed, quantized: Array.from(out) };
    }),
  );

  // One round as the manager runs it (weighting 'masked', stochastic rounding), with a dropout after share keys.
  const ids = ['agent-a', 'agent-b', 'agent-c', 'agent-d', 'agent-é'];
  const config: SecAggConfig = { roundId, dimension: 6, weighting: 'masked', rounding: 'stochastic', clipRange: 4, maxWeight: 100 };
  const updates = new Map(
    ids.map((id, i) => [id, Float32Array.from({ length: 6 }, (_, j) => Math.fround(((i + 1) * (j - 2.5)) / 7 + 0.01 * j))]),
  );
  const weights = new Map(ids.map((id, i) => [id, 10 + 7 * i]));
  const seed = 'vectors-round';
  const dropped = ['agent-c'];
  const round = runSecAggRound(updates, config, { afterShareKeys: dropped }, { weights, seed });
  if (round.aborted.length > 0) throw new Error(`secagg vector round aborted: ${round.aborted[0].message}`);

  return {
    seededRandom: { seed: 'stream', bytesHex: hex(seededRandomSource('stream')(100)) },
    keys: raws.map((raw) => ({ rawHex: hex(raw), publicWire: x25519PublicWireOf(x25519PrivateFromRaw(raw)) })),
    agreement: {
      roundId,
      sharedHex: hex(shared),
      envelopeKeyHex: hex(deriveKey(shared, roundId, 'share-envelope')),
      pairwiseKeyHex: hex(pairwiseKey(b, x25519PublicWireOf(a), roundId)),
    },
    derive: [
      { secretHex: hex(Buffer.from('prg-secret')), roundId, purpose: 'self-mask', keyHex: hex(prgKey) },
      { secretHex: hex(Buffer.from('seal-secret')), roundId, purpose: 'share-envelope', keyHex: hex(sealKey) },
    ],
    prg: { keyHex: hex(prgKey), length: 9, wordsBase64: encodeUint32(prgUint32(prgKey, 9)) },
    seal: {
      keyHex: hex(sealKey),
      plaintextHex: hex(plaintext),
      aad: envelopeAad(roundId, 'a', 'b'),
      seed: 'seal/nonce',
      box: seal(sealKey, plaintext, envelopeAad(roundId, 'a', 'b'), seededRandomSource('seal/nonce')),
    },
    commit: { seedHex: hex(secret), roundId, owner: 'agent-é', commitment: commitSeed(secret, roundId, 'agent-é') },
    shamir: { secretHex: hex(secret), threshold: 3, xs: [1, 2, 3, 4, 5], seed: 'shamir/coefficients', shares, combinedFrom },
    quantize: quantizeCases,
    round: {
      config,
      seed,
      updates: Object.fromEntries([...updates].map(([id, u]) => [id, Array.from(u)])),
      weights: Object.fromEntries(weights),
      droppedAfterShareKeys: dropped,
      agentMessages: round.serverInbox,
      serverRequests: round.serverOutbox,
      sum: Array.from(round.sum),
      totalWeight: round.totalWeight,
      survivors: round.survivors,
    },
  };
}

function vectorKey() {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(SEED_HEX, 'hex')]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/** The vectors as the TypeScript side computes them now. */
export function computeProofVectors(): ProofVectors {
  const privateKey = vectorKey();
  const challenge = Buffer.alloc(32, 7).toString('base64');
  const challengeInput = challengeSigningInput(AGENT_ID, challenge);
  return {
    seedHex: SEED_HEX,
    publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
    challenge: {
      agentId: AGENT_ID,
      challenge,
      signingInput: challengeInput,
      signature: sign(null, Buffer.from(challengeInput), privateKey).toString('base64'),
    },
    proofs: PROOF_CASES.map(({ topic, properties, payload, sentAt }) => {
      const bytes = Buffer.from(payload, 'latin1');
      const signed = signAsAgent(privateKey, AGENT_ID, topic, properties, bytes, sentAt);
      return {
        topic,
        properties,
        payloadBase64: bytes.toString('base64'),
        sentAt,
        agentId: AGENT_ID,
        signingInputBase64: proofSigningInput(topic, signed, bytes).toString('base64'),
        signed,
      };
    }),
    updates: UPDATE_CASES.map(({ header, params }) => ({
      header,
      params,
      properties: encodeUpdateHeader(header),
      payloadBase64: Buffer.from(paramsToBytes(Float32Array.from(params))).toString('base64'),
    })),
    secagg: computeSecAggVectors(),
    privacy: computePrivacyVectors(),
    tasks: computeTaskVectors(privateKey),
    ballots: computeBallotVectors(privateKey),
  };
}

if (require.main === module) {
  writeFileSync(PROOF_VECTORS_FILE, `${JSON.stringify(computeProofVectors(), null, 2)}\n`);
  console.log(`wrote ${PROOF_VECTORS_FILE}`);
}
