// Request schemas. A body that fails these is answered 400 naming the field.
import { z } from 'zod';
import { AGENT_STATUSES, ID_PATTERN } from '../core/agents';
import { POOL_NAME_PATTERN } from '../core/pools';
import { STRATEGY_NAMES } from '../core/aggregation/types';
import { SECURE_AGGREGATION_STRATEGIES } from '../core/tuning';
import { DEFAULT_SELECTION, SELECTION_STRATEGIES } from '../core/selection/types';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');

/** What an agent that names no resources is assumed to offer: one core and 1 GiB. */
export const DEFAULT_RESOURCES = { cpu: 1, memoryMb: 1024 } as const;

/** The answer to a registration without a key: what the key is for and how to register. */
export const PUBLIC_KEY_REQUIRED =
  "is required: the agent's Ed25519 public key (SPKI PEM). Registration is a handshake: the manager " +
  "sends a challenge to the agent's inbox topic and the agent answers with its signature at " +
  'POST /api/v1/swarm/agents/{id}/challenge-response, proving it holds the private key; the key then ' +
  'verifies every message the agent signs. The reference SDK (agents/sdk.ts) does all of it; see the ' +
  'README, "The handshake"';

/**
 * An Ed25519 public key in SPKI PEM: the DER is a fixed 12-byte header
 * (MCowBQYDK2VwAyEA in base64) and the 32-byte key, so the schema can say
 * exactly which strings are keys (any 32 bytes are).
 */
export const ED25519_SPKI_PEM = new RegExp(String.raw`^-----BEGIN PUBLIC KEY-----\r?\nMCowBQYDK2VwAyEA[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=\r?\n-----END PUBLIC KEY-----(\r?\n)*$`);

export const registerRequestSchema = z
  .object({
    agentId: id,
    swarmId: id.optional(),
    capabilities: z.array(z.string().min(1).max(64)).max(64).default([]),
    resources: z
      .object({
        cpu: z.number().positive().max(4096),
        memoryMb: z.number().int().positive(),
        gpu: z.number().int().min(0).max(64).optional(),
        energy: z
          .object({
            source: z.enum(['grid', 'solar', 'wind', 'battery', 'mixed', 'other']),
            budgetWh: z.number().nonnegative().optional(),
            carbonGPerKWh: z.number().nonnegative().optional(),
            idleWatts: z.number().nonnegative().max(1e6).optional(),
            busyWatts: z.number().nonnegative().max(1e6).optional(),
            speed: z.number().positive().max(1e6).optional(),
            forecast: z
              .array(z.object({ atMs: z.number().int().nonnegative(), gPerKWh: z.number().nonnegative() }).strict())
              .max(168)
              .optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ ...DEFAULT_RESOURCES }),
    region: id.optional(),
    publicKey: z
      .string({ required_error: PUBLIC_KEY_REQUIRED })
      .min(1)
      .max(4096)
      .regex(ED25519_SPKI_PEM, "must be an ed25519 public key in SPKI PEM, as crypto.generateKeyPairSync('ed25519') exports it"),
  })
  .strict();

export const challengeResponseSchema = z
  .object({
    challenge: z.string().min(1).max(256),
    signature: z.string().min(1).max(256),
  })
  .strict();

export const heartbeatSchema = z
  .object({
    load: z.number().min(0).max(1).optional(),
    pool: z.string().regex(POOL_NAME_PATTERN, 'must be a DNS-1123 label: at most 63 lower-case letters, digits and "-"').optional(),
    energyRemainingWh: z.number().nonnegative().optional(),
    energyUsedWh: z.number().nonnegative().optional(),
    carbonIntensityGPerKWh: z.number().nonnegative().optional(),
  })
  .strict();

export const revokeCredentialsSchema = z
  .object({
    reason: z.string().min(1).max(500).optional(),
  })
  .strict();

export const listAgentsQuerySchema = z
  .object({
    swarmId: id.optional(),
    status: z.enum(AGENT_STATUSES).optional(),
    pageSize: z.coerce.number().int().min(1).max(500).default(50),
    pageToken: z.string().max(4096).optional(),
  })
  .strict();

export const agentIdParamSchema = z.object({ id });


/** The model a job trains when the request names none: what the reference agents train. */
export const DEFAULT_TUNING_MODEL = { kind: 'softmax-digits', dimension: 650 } as const;

/**
 * Every field but swarmId has a default, so `POST /tuning/start` with no body
 * starts a job; the service chooses the swarm (README "Federated tuning").
 */
export const tuningStartSchema = z
  .object({
    jobId: id.optional(),
    swarmId: id.optional(),
    model: z
      .object({
        kind: z.enum(['softmax-digits', 'vector']),
        dimension: z.number().int().positive().max(100_000_000),
        initialDigest: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha-256 hex digest').optional(),
      })
      .strict()
      .default({ ...DEFAULT_TUNING_MODEL }),
    rounds: z.number().int().min(1).max(100_000).default(5),
    participantsPerRound: z.number().int().min(1).max(100_000).optional(),
    fraction: z.number().gt(0).max(1).optional(),
    minParticipants: z.number().int().min(1).default(1),
    roundTimeoutMs: z.number().int().min(100).max(86_400_000).default(60_000),
    maxRoundAttempts: z.number().int().min(1).max(20).default(3),
    strategy: z.enum(STRATEGY_NAMES).default('fedavg'),
    strategyOptions: z
      .object({
        serverLearningRate: z.number().positive().optional(),
        momentum: z.number().min(0).max(1).optional(),
        beta1: z.number().min(0).lt(1).optional(),
        beta2: z.number().min(0).lt(1).optional(),
        tau: z.number().positive().optional(),
        trimFraction: z.number().min(0).lt(0.5).optional(),
        byzantine: z.number().int().min(0).optional(),
        multiKrumKeep: z.number().int().min(1).optional(),
        proximalMu: z.number().min(0).optional(),
      })
      .strict()
      .default({}),
    training: z
      .object({
        learningRate: z.number().positive().max(100).default(0.1),
        // One epoch when neither epochs nor localSteps is given (filled in below).
        epochs: z.number().int().min(1).max(1000).optional(),
        localSteps: z.number().int().min(1).max(1_000_000).optional(),
        timeBudgetMs: z.number().int().min(1).max(86_400_000).optional(),
        scaleByCapacity: z.boolean().optional(),
        batchSize: z.number().int().min(1).max(1_000_000).default(32),
        proximalMu: z.number().min(0).optional(),
      })
      .strict()
      .default({}),
    stragglers: z
      .object({
        policy: z.enum(['drop', 'accept-partial']),
        closeWhen: z
          .object({
            fraction: z.number().gt(0).max(1).optional(),
            afterMs: z.number().int().min(1).max(86_400_000).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    requirements: z
      .object({
        cpu: z.number().positive().optional(),
        memoryMb: z.number().int().positive().optional(),
        gpu: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
    maxUpdateNorm: z.number().positive().optional(),
    privacy: z
      .object({
        clipNorm: z.number().positive(),
        noiseMultiplier: z.number().min(0),
        delta: z.number().gt(0).lt(1),
      })
      .strict()
      .optional(),
    localPrivacy: z
      .object({
        clipNorm: z.number().positive(),
        noiseMultiplier: z.number().positive(),
        delta: z.number().gt(0).lt(1),
      })
      .strict()
      .optional(),
    secureAggregation: z
      .object({
        stageTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
        degree: z.number().int().min(1).optional(),
        threshold: z.number().int().min(1).optional(),
        expectedDropout: z.number().min(0).lt(1).optional(),
        clipRange: z.number().positive().optional(),
        quantizationLevels: z.number().int().min(2).max(2 ** 31).optional(),
        maxWeight: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    evaluateEvery: z.number().int().min(1).default(1),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    mode: z.enum(['sync', 'async']).optional(),
    // The buffer (about 150 bytes an update) travels in workflow history and activity payloads.
    bufferSize: z.number().int().min(1).max(1_000).optional(),
    maxStaleness: z.number().int().min(0).max(1_000).optional(),
    stalenessExponent: z.number().min(0).max(10).optional(),
    selection: z.enum(SELECTION_STRATEGIES).default(DEFAULT_SELECTION),
    selectionOptions: z
      .object({
        explorationFraction: z.number().min(0).max(1).optional(),
        preferredDurationMs: z.number().int().positive().optional(),
        penaltyExponent: z.number().min(0).max(10).optional(),
        maxAccuracyDrop: z.number().min(0).max(1).optional(),
      })
      .strict()
      .optional(),
    evaluation: z
      .object({
        server: z.boolean().optional(),
        federated: z.object({ everyRounds: z.number().int().min(1).max(100_000) }).strict().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.mode === 'async') {
      if (spec.bufferSize === undefined) ctx.addIssue({ code: 'custom', path: ['bufferSize'], message: 'required when mode is "async"' });
      if (spec.maxStaleness === undefined) ctx.addIssue({ code: 'custom', path: ['maxStaleness'], message: 'required when mode is "async"' });
      if (spec.secureAggregation || spec.privacy) {
        ctx.addIssue({
          code: 'custom',
          path: [spec.secureAggregation ? 'secureAggregation' : 'privacy'],
          message: 'is not offered with mode "async" (a buffer is not a round of known participants)',
        });
      }
      if (spec.strategy !== 'fedavg') {
        ctx.addIssue({ code: 'custom', path: ['strategy'], message: 'mode "async" aggregates as FedBuff: leave strategy at fedavg' });
      }
    } else {
      for (const field of ['bufferSize', 'maxStaleness', 'stalenessExponent'] as const) {
        if (spec[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'applies only with mode "async"' });
      }
    }
    if (spec.participantsPerRound !== undefined && spec.minParticipants > spec.participantsPerRound) {
      ctx.addIssue({ code: 'custom', path: ['minParticipants'], message: 'cannot exceed participantsPerRound' });
    }
    if (spec.model.kind === 'softmax-digits' && spec.model.dimension !== 650) {
      ctx.addIssue({ code: 'custom', path: ['model', 'dimension'], message: 'softmax-digits has 650 parameters' });
    }
    if (spec.secureAggregation && !SECURE_AGGREGATION_STRATEGIES.includes(spec.strategy)) {
      ctx.addIssue({
        code: 'custom',
        path: ['secureAggregation'],
        message: `${spec.strategy} needs every update; secure aggregation reveals only their sum`,
      });
    }
    if (spec.secureAggregation && spec.maxUpdateNorm !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxUpdateNorm'],
        message: 'cannot be checked under secure aggregation (the manager never sees one update); agents clip instead',
      });
    }
    if (spec.training.epochs !== undefined && spec.training.localSteps !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['training', 'localSteps'], message: 'give training.localSteps or training.epochs, not both' });
    }
    if (spec.training.scaleByCapacity && spec.training.localSteps === undefined) {
      ctx.addIssue({ code: 'custom', path: ['training', 'scaleByCapacity'], message: 'scales training.localSteps, which is not given' });
    }
    if (spec.training.proximalMu !== undefined && spec.strategyOptions.proximalMu !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['training', 'proximalMu'],
        message: 'the proximal coefficient is set in one place: training.proximalMu or strategyOptions.proximalMu, not both',
      });
    }
    if (spec.stragglers?.closeWhen?.afterMs !== undefined && spec.stragglers.closeWhen.afterMs > spec.roundTimeoutMs) {
      ctx.addIssue({ code: 'custom', path: ['stragglers', 'closeWhen', 'afterMs'], message: 'cannot exceed roundTimeoutMs' });
    }
    if (spec.secureAggregation && spec.selection === 'oort') {
      ctx.addIssue({
        code: 'custom',
        path: ['selection'],
        message: "oort learns from each agent's loss and timing, which secure aggregation hides; choose another selection",
      });
    }
    const robust = ['krum', 'multikrum', 'bulyan'];
    if (robust.includes(spec.strategy) && spec.strategyOptions.byzantine === undefined) {
      ctx.addIssue({ code: 'custom', path: ['strategyOptions', 'byzantine'], message: `required by ${spec.strategy}` });
    }
  })
  // Neither participantsPerRound nor fraction: every ACTIVE agent that fits takes part.
  .transform((spec) => (spec.participantsPerRound === undefined && spec.fraction === undefined ? { ...spec, fraction: 1 } : spec))
  .transform((spec) =>
    spec.training.epochs === undefined && spec.training.localSteps === undefined
      ? { ...spec, training: { ...spec.training, epochs: 1 } }
      : spec,
  );

export const jobIdParamSchema = z.object({ jobId: id });
export const modelQuerySchema = z.object({ digest: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha-256 hex digest').optional() }).strict();
