// Request schemas of /api/v1/decisions. A request that fails them is a 400 naming the field.
import { z } from 'zod';
import { ID_PATTERN } from '../core/agents';
import { ACTION_KINDS, BASIC_OPTIONS, DECISION_STATES, DECISION_SYSTEMS } from '../core/decisions/types';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');
const DAY_MS = 86_400_000;
const duration = (max: number) => z.number().int().min(0).max(max);

const choiceSchema = z.union([
  z.string().min(1).max(100),
  z.array(z.string().min(1).max(100)).min(1).max(64),
  z.record(z.string().min(1).max(100), z.number().min(0)),
]);

export const decisionCreateSchema = z
  .object({
    decisionId: id.optional(),
    swarmId: id,
    title: z.string().min(1).max(200),
    description: z.string().max(10_000).optional(),
    /** Required except for basic, whose options are for, against, abstain. */
    options: z.array(z.string().min(1).max(100)).min(2).max(64).optional(),
    system: z.enum(DECISION_SYSTEMS),
    electorate: z
      .object({
        status: z.array(z.enum(['ACTIVE', 'LOST'])).min(1).max(2).optional(),
        capabilities: z.array(z.string().min(1).max(64)).max(64).optional(),
        agentIds: z.array(id).min(1).max(100_000).optional(),
      })
      .strict()
      .optional(),
    power: z.union([
      z.enum(['equal', 'resources', 'reputation']),
      z.object({ fixed: z.record(id, z.number().min(0).max(1e12)) }).strict(),
    ]),
    votingDelayMs: duration(30 * DAY_MS).default(0),
    votingPeriodMs: z.number().int().min(100).max(90 * DAY_MS),
    quorum: z.union([
      z.object({ fraction: z.number().min(0).max(1) }).strict(),
      z.object({ absolute: z.number().min(0).max(1e15) }).strict(),
    ]),
    threshold: z.number().min(0).lt(1).optional(),
    lateQuorumExtensionMs: duration(30 * DAY_MS).optional(),
    allowVoteChange: z.boolean().default(false),
    action: z
      .object({
        kind: z.enum(ACTION_KINDS),
        spec: z.record(z.unknown()).default({}),
        timelockMs: duration(30 * DAY_MS).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
    if (body.system === 'basic') {
      if (body.options && (body.options.length !== 3 || body.options.some((option, i) => option !== BASIC_OPTIONS[i]))) {
        issue(['options'], 'a basic proposal has the options for, against, abstain: leave them out');
      }
    } else if (!body.options) {
      issue(['options'], `is required for ${body.system}: at least two options`);
    } else if (new Set(body.options).size !== body.options.length) {
      issue(['options'], 'must not repeat an option');
    }
  });

export type DecisionCreateRequest = z.output<typeof decisionCreateSchema>;

/** The spec of a "rebalance" action: nothing to say (the decision's swarm is rebalanced). */
export const rebalanceActionSpecSchema = z.object({}).strict();

export const decisionIdParamSchema = z.object({ decisionId: id });

export const decisionListQuerySchema = z
  .object({
    swarmId: id.optional(),
    state: z.enum(DECISION_STATES).optional(),
    pageSize: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

export const voteSchema = z
  .object({
    /** The voter; must be the credential's agent. Defaults to it. */
    agentId: id.optional(),
    choice: choiceSchema,
    /** When the agent signed the ballot, ms since the epoch. */
    castAt: z.number().int().min(0),
    /** Base64 Ed25519 signature of the canonical ballot (README, "Verifying ballots"). */
    signature: z.string().min(1).max(256),
  })
  .strict();

export const cancelDecisionSchema = z.object({ reason: z.string().max(500).optional() }).strict();

/** Ballots per page of GET /decisions/:id/ballots at most. */
export const MAX_BALLOTS_PAGE = 5_000;

export const ballotsQuerySchema = z
  .object({
    pageSize: z.coerce.number().int().min(1).max(MAX_BALLOTS_PAGE).default(1_000),
    /** The nextPageToken of the previous page: the position of the next ballot. */
    pageToken: z
      .string()
      .regex(/^(0|[1-9][0-9]{0,8})$/, 'must be the nextPageToken of the previous page (a ballot position, 0-999999999)')
      .transform(Number)
      .optional(),
  })
  .strict();

/** PUT /api/v1/governance/{swarmId}: a number sets the swarm's own proposal threshold, null returns it to the default. */
export const governanceChangeSchema = z.object({ proposalThreshold: z.number().min(0).max(1e9).nullable() }).strict();
export const governanceSwarmParamSchema = z.object({ swarmId: id }).strict();
