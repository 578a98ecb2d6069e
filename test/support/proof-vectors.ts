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
  };
}

if (require.main === module) {
  writeFileSync(PROOF_VECTORS_FILE, `${JSON.stringify(computeProofVectors(), null, 2)}\n`);
  console.log(`wrote ${PROOF_VECTORS_FILE}`);
}
