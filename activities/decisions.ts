// Activities of a collaborative decision: snapshot the electorate's voting
// power when voting opens, count signed ballots from the decision's topic in
// batches, announce the proposal and publish the outcome on the swarm's
// control topic. Ballots and the power snapshot live in the blob store; the
// workflow carries their digests, counts and the tally.
import { ApplicationFailure } from '@temporalio/common';
import type { KeyObject } from 'node:crypto';
import { parseAgentPublicKey } from '../core/credentials';
import { BallotBox } from '../core/decisions/ballot-box';
import { deadlineAfterQuorum } from '../core/decisions/outcome';
import { snapshotPower } from '../core/decisions/power';
import { decisionTopic } from '../core/decisions/topics';
import type {
  AcceptedBallot,
  DecisionSpec,
  OutcomeMessage,
  ProposalMessage,
  RefusalReason,
  Refusals,
  Tally,
} from '../core/decisions/types';
import { swarmTopics } from '../core/topics';
import { DomainError } from '../core/errors';
import type {
  AgentKeyDirectory,
  BlobStore,
  Consumer,
  ElectorateDirectory,
  MessagingBacklog,
  MessagingPort,
  ReceivedMessage,
  ReputationSource,
  TaskSubmissionRequest,
  TaskSubmitter,
} from '../adapters/ports';
import { keptAlive } from './keep-alive';

export interface DecisionDeps {
  messaging: MessagingPort;
  blobs: BlobStore;
  electorate: ElectorateDirectory;
  /** The registration keys ballots are checked with. */
  agentKeys: AgentKeyDirectory;
  /** Scores for the "reputation" power rule; without it such a decision fails to open. */
  reputation?: ReputationSource;
  /** Starts the tasks of a "tasks" action; without it such an action fails (TASKS_UNAVAILABLE). */
  tasks?: TaskSubmitter;
}

/** The manager's subscription on a decision's ballot topic. */
export const BALLOT_SUBSCRIPTION = 'qp-manager-decision';
/** Refused ballots a batch reports by name (the rest only by count). */
const RECENT_REFUSALS = 20;

export interface SnapshotResult {
  snapshotDigest: string;
  voters: number;
  totalPower: number;
}

export interface CountBallotsInput {
  spec: Pick<DecisionSpec, 'decisionId' | 'swarmId' | 'system' | 'options' | 'allowVoteChange' | 'lateQuorumExtensionMs'>;
  snapshotDigest: string;
  /** Digests of the ballots accepted by earlier batches, in order. */
  chunks: string[];
  /** Voting window, ms since the epoch; closesAt as extended so far. */
  opensAt: number;
  closesAt: number;
  quorumPower: number;
  /** When quorum was first reached, if it was. */
  quorumReachedAt?: number;
  /** How long to wait for a first ballot, ms. */
  waitMs: number;
  /** Ballots per batch at most. */
  maxBallots: number;
}

export interface CountBallotsResult {
  /** Digest of the ballots this batch accepted, when it accepted any. */
  chunk?: string;
  received: number;
  accepted: number;
  refusals: Refusals;
  tally: Tally;
  voters: number;
  remaining: { power: number; sqrtPower: number };
  closesAt: number;
  quorumReachedAt?: number;
}

export interface SettleBallotsInput {
  swarmId: string;
  decisionId: string;
  /** Every chunk the workflow recorded, the last batch's included. */
  chunks: string[];
}

export interface TaskActionInput {
  decisionId: string;
  /** Blob of the action's tasks (TaskSubmissionRequest[], ids filled in when the proposal was made). */
  digest: string;
}

export interface TaskActionResult {
  /** The tasks started (or found started by an earlier try), in the order proposed. */
  taskIds: string[];
  /** Tasks refused, and the first few of them with the typed code of why. */
  failed: number;
  failures: Array<{ taskId: string; code: string; message: string }>;
}

/** Stops waiting for more ballots after this much silence once some arrived, ms. */
const IDLE_MS = 150;
/** A decision's consumer stays open this long after a batch for the next one, ms. */
const CONSUMER_KEEP_MS = 5_000;
/** Acknowledgements in flight at once. */
const ACKS_IN_FLIGHT = 256;
/** A closed decision's topic is drained until it stays silent this long, ms. */
const DRAIN_SILENCE_MS = 200;
/**
 * The batch after the deadline reads the topic until it stays silent this long, ms, and, where the
 * broker reports the subscription's backlog, until none of it is left unread (for at most
 * LAST_BATCH_MAX_MS): a subscription just opened, or given back a lost batch, delivers nothing at
 * first, and what the last batch leaves unread is drained uncounted.
 */
const LAST_BATCH_SILENCE_MS = 500;
const LAST_BATCH_MAX_MS = 30_000;
/** Task starts of a "tasks" action in flight at once (as POST /tasks/batch). */
const TASK_STARTS_IN_FLIGHT = 32;
/** Refused tasks a "tasks" action reports by name. */
const TASK_FAILURES_REPORTED = 20;

export function createDecisionActivities(deps: DecisionDeps) {
  // The ballot box of each decision this worker counted last, keyed by the chunks it holds:
  // a batch that follows on this worker skips re-reading every earlier ballot.
  const boxes = new Map<string, { chunks: string[]; box: BallotBox }>();
  const keys = new Map<string, KeyObject | null>();
  // The consumer of each decision's ballot topic, kept open between batches: closing and
  // re-subscribing every batch costs a broker round trip and a release grace. Shared, so a
  // batch retried on another worker is not locked out by a consumer kept here.
  const consumers = new Map<string, { consumer: Consumer; closer?: NodeJS.Timeout }>();
  // The messages of each decision's last batch, not acknowledged yet: the batch counts only once
  // the workflow has recorded its chunk, and its next call is what shows that (a completion lost
  // with a Temporal restart must not take acknowledged ballots with it).
  const unacked = new Map<string, { consumer: Consumer; chunk?: string; messages: ReceivedMessage[] }>();
  // One count or settle at a time per decision on this worker. An attempt Temporal timed out (its
  // heartbeats lost while the server restarted) may still be receiving when its retry starts here:
  // side by side on the one consumer, the retry's batch would replace the other's in `unacked`,
  // and the ballots the other took would be neither counted nor given back while the consumer lives.
  const lanes = new Map<string, Promise<unknown>>();
  const inLane = <T>(decisionId: string, run: () => Promise<T>): Promise<T> => {
    const result = (lanes.get(decisionId) ?? Promise.resolve()).then(run);
    const settled = result.catch(() => undefined);
    lanes.set(decisionId, settled);
    void settled.then(() => {
      if (lanes.get(decisionId) === settled) lanes.delete(decisionId);
    });
    return result;
  };

  const consumerFor = async (swarmId: string, decisionId: string): Promise<Consumer> => {
    const kept = consumers.get(decisionId);
    if (kept) {
      clearTimeout(kept.closer);
      return kept.consumer;
    }
    const consumer = await deps.messaging.subscribe(decisionTopic(swarmId, decisionId), BALLOT_SUBSCRIPTION, {
      initialPosition: 'earliest',
      type: 'shared',
    });
    consumers.set(decisionId, { consumer });
    return consumer;
  };
  const release = async (decisionId: string, now: boolean): Promise<void> => {
    const kept = consumers.get(decisionId);
    if (!kept) return;
    clearTimeout(kept.closer);
    const close = () => {
      consumers.delete(decisionId);
      return kept.consumer.close().catch(() => undefined);
    };
    if (now) await close();
    else {
      kept.closer = setTimeout(() => void close(), CONSUMER_KEEP_MS);
      kept.closer.unref?.();
    }
  };

  /** Ballots on the decision's subscription not received yet, as far as the broker tells (0 when it cannot). */
  const unread = async (swarmId: string, decisionId: string, taken: number): Promise<number> => {
    const messaging = deps.messaging as MessagingPort & Partial<MessagingBacklog>;
    if (typeof messaging.backlog !== 'function') return 0;
    try {
      const subscriptions = await messaging.backlog(decisionTopic(swarmId, decisionId));
      return (subscriptions.find((s) => s.subscription === BALLOT_SUBSCRIPTION)?.backlog ?? 0) - taken;
    } catch {
      return 0; // the silence alone decides
    }
  };

  /** The next ballot of the last batch: after LAST_BATCH_SILENCE_MS of silence, only if the backlog says one is coming. */
  const rest = async (consumer: Consumer, swarmId: string, decisionId: string, taken: number, started: number) => {
    for (;;) {
      const message = await consumer.receive(LAST_BATCH_SILENCE_MS);
      if (message) return message;
      if (Date.now() - started >= LAST_BATCH_MAX_MS) return undefined;
      if ((await unread(swarmId, decisionId, taken)) <= 0) return undefined;
    }
  };

  /**
   * Settles the decision's previous batch: acknowledged where the workflow recorded it (its chunk
   * is among `chunks`, or it accepted nothing), given back to the subscription where it did not.
   */
  const settlePrevious = async (decisionId: string, chunks: string[]): Promise<void> => {
    const previous = unacked.get(decisionId);
    if (!previous) return;
    unacked.delete(decisionId);
    // A consumer closed since then gave its unacknowledged messages back already.
    if (consumers.get(decisionId)?.consumer !== previous.consumer) return;
    if (previous.chunk === undefined || chunks.includes(previous.chunk)) {
      for (let i = 0; i < previous.messages.length; i += ACKS_IN_FLIGHT) {
        await Promise.all(previous.messages.slice(i, i + ACKS_IN_FLIGHT).map((message) => previous.consumer.ack(message)));
      }
    } else {
      // This call retries a batch whose result never reached the workflow: closing the consumer
      // redelivers that batch's ballots to this one, and the box is rebuilt without them.
      boxes.delete(decisionId);
      await release(decisionId, true);
    }
  };

  const keyOf = async (swarmId: string, agentId: string): Promise<KeyObject | undefined> => {
    const pem = await deps.agentKeys.publicKey(swarmId, agentId);
    if (!pem) return undefined;
    let key = keys.get(pem);
    if (key === undefined) {
      try {
        key = parseAgentPublicKey(pem);
      } catch {
        key = null; // not an Ed25519 key: nothing it signs verifies
      }
      keys.set(pem, key);
    }
    return key ?? undefined;
  };

  const readJson = async <T>(digest: string, what: string): Promise<T> => {
    const bytes = await deps.blobs.get(digest);
    if (!bytes) throw ApplicationFailure.nonRetryable(`no ${what} blob ${digest}`, 'DECISION_BLOB_MISSING');
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  };

  const boxFor = async (input: CountBallotsInput): Promise<BallotBox> => {
    const cached = boxes.get(input.spec.decisionId);
    if (cached && cached.chunks.length === input.chunks.length && cached.chunks.every((c, i) => c === input.chunks[i])) {
      return cached.box;
    }
    const powers = await readJson<Record<string, number>>(input.snapshotDigest, 'power snapshot');
    const box = new BallotBox({ ...input.spec, powers });
    for (const digest of input.chunks) {
      for (const ballot of await readJson<AcceptedBallot[]>(digest, 'ballots')) box.restore(ballot);
    }
    return box;
  };

  const publishControl = async (swarmId: string, message: ProposalMessage | OutcomeMessage): Promise<void> => {
    await deps.messaging.publish(swarmTopics(swarmId).control, Buffer.from(JSON.stringify(message)), {
      key: message.decisionId,
      properties: { type: message.type, decisionId: message.decisionId },
    });
  };

  const activities = {
    /** agentId -> power of the electorate now, kept as a blob. */
    async snapshotElectorate(spec: Pick<DecisionSpec, 'swarmId' | 'electorate' | 'power'>): Promise<SnapshotResult> {
      let members = await deps.electorate.members(spec.swarmId);
      if (spec.power === 'reputation') {
        if (!deps.reputation) {
          throw ApplicationFailure.nonRetryable('this worker has no reputation source', 'REPUTATION_UNAVAILABLE');
        }
        const scores = await deps.reputation.scores(spec.swarmId);
        members = members.map((member) => ({ ...member, reputation: scores[member.agentId] ?? 0 }));
      }
      const powers = snapshotPower(spec.power, spec.electorate, members);
      const values = Object.values(powers);
      const snapshotDigest = await deps.blobs.put(Buffer.from(JSON.stringify(powers)));
      return { snapshotDigest, voters: values.length, totalPower: values.reduce((sum, power) => sum + power, 0) };
    },

    /**
     * Tells the swarm voting is open. With votingPeriodMs the period counts from now, when the swarm
     * hears of it: an announcement an outage held back does not eat into the voters' time. The
     * closing time sent (and returned) is the later of the message's and now + votingPeriodMs.
     */
    async announceProposal(message: ProposalMessage, votingPeriodMs?: number): Promise<{ closesAt: number }> {
      const closesAt = votingPeriodMs === undefined ? message.closesAt : Math.max(message.closesAt, Date.now() + votingPeriodMs);
      await publishControl(message.swarmId, { ...message, closesAt });
      return { closesAt };
    },

    async publishOutcome(message: OutcomeMessage): Promise<void> {
      await publishControl(message.swarmId, message);
    },

    /**
     * After the workflow recorded the decision's last batch: acknowledges that batch, then drains
     * what is left on the ballot topic (ballots that came after the count closed, or that a consumer
     * closed meanwhile gave back), so that a finished decision leaves no backlog. Drained messages
     * are not counted: the result is final.
     */
    async settleBallots(input: SettleBallotsInput): Promise<{ drained: number }> {
      const { swarmId, decisionId } = input;
      await settlePrevious(decisionId, input.chunks);
      let drained = 0;
      try {
        const consumer = await consumerFor(swarmId, decisionId);
        for (;;) {
          const message = await consumer.receive(DRAIN_SILENCE_MS);
          if (!message) break;
          await consumer.ack(message);
          drained++;
        }
      } finally {
        boxes.delete(decisionId);
        void release(decisionId, true); // nothing waits on this close: the decision is settled
      }
      return { drained };
    },

    /**
     * A succeeded decision's "tasks" action: starts each task as POST /api/v1/tasks would.
     * Idempotent by taskId (the ids were fixed when the proposal was made), so a retry starts
     * nothing twice. A task refused with a domain error is reported; the others still start.
     */
    async runTaskAction(input: TaskActionInput): Promise<TaskActionResult> {
      if (!deps.tasks) throw ApplicationFailure.nonRetryable('this worker cannot start tasks', 'TASKS_UNAVAILABLE');
      const submitter = deps.tasks;
      const requests = await readJson<TaskSubmissionRequest[]>(input.digest, 'action tasks');
      const started: Array<string | undefined> = new Array(requests.length);
      const failures: TaskActionResult['failures'] = [];
      let next = 0;
      const startNext = async (): Promise<void> => {
        while (next < requests.length) {
          const index = next++;
          const request = requests[index];
          try {
            started[index] = (await submitter.submit(request)).taskId;
          } catch (error) {
            // Anything but a typed refusal (Temporal unreachable, a timeout) retries the activity.
            if (!(error instanceof DomainError)) throw error;
            failures.push({ taskId: request.taskId ?? `#${index}`, code: error.code, message: error.message });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(TASK_STARTS_IN_FLIGHT, requests.length) }, startNext));
      return { taskIds: started.filter((id): id is string => id !== undefined), failed: failures.length, failures: failures.slice(0, TASK_FAILURES_REPORTED) };
    },

    /**
     * One batch: ballots from the decision's topic until maxBallots, or a short
     * silence after the first, or waitMs without any. Each is verified and
     * accepted or refused; the accepted ones are stored as one blob, and the
     * messages are acknowledged only by the next call, once the workflow shows
     * it recorded that blob. A crash, or a result lost on its way to Temporal,
     * redelivers them to the retry: none is lost, and a copy of one already
     * counted is refused as a duplicate.
     */
    async countBallots(input: CountBallotsInput): Promise<CountBallotsResult> {
      const { decisionId, swarmId } = input.spec;
      await settlePrevious(decisionId, input.chunks);
      const box = await boxFor(input);
      const consumer = await consumerFor(swarmId, decisionId);
      let failed = false;
      const received: ReceivedMessage[] = [];
      const accepted: AcceptedBallot[] = [];
      const refusals: Refusals = { counts: {}, recent: [] };
      let closesAt = input.closesAt;
      let quorumReachedAt = input.quorumReachedAt;
      const refuse = (reason: RefusalReason, at: number, agentId?: string) => {
        refusals.counts[reason] = (refusals.counts[reason] ?? 0) + 1;
        refusals.recent.push({ agentId, reason, at });
        if (refusals.recent.length > RECENT_REFUSALS) refusals.recent.shift();
      };
      try {
        const started = Date.now();
        // After the deadline this batch is the last: it reads every ballot already on the topic.
        const last = input.waitMs === 0 || started >= input.closesAt;
        while (received.length < input.maxBallots) {
          const wait = received.length === 0 ? Math.max(0, input.waitMs - (Date.now() - started)) : IDLE_MS;
          let message = wait > 0 || received.length === 0 ? await consumer.receive(Math.max(1, wait)) : undefined;
          if (!message && last) message = await rest(consumer, swarmId, decisionId, received.length, started);
          if (!message) break;
          received.push(message);
          let raw: unknown;
          try {
            raw = JSON.parse(Buffer.from(message.payload).toString('utf8'));
          } catch {
            refuse('malformed', message.publishTime);
            continue;
          }
          const agentId = typeof (raw as { agentId?: unknown })?.agentId === 'string' ? (raw as { agentId: string }).agentId : undefined;
          const key = agentId ? await keyOf(swarmId, agentId) : undefined;
          const offer = box.offer(raw, message.publishTime, { opensAt: input.opensAt, closesAt }, key);
          if (!offer.ok) {
            refuse(offer.reason, message.publishTime, offer.agentId);
            continue;
          }
          accepted.push(offer.ballot);
          if (quorumReachedAt === undefined && box.turnout >= input.quorumPower) {
            quorumReachedAt = message.publishTime;
            closesAt = deadlineAfterQuorum(closesAt, quorumReachedAt, input.spec.lateQuorumExtensionMs);
          }
        }
        const chunk = accepted.length > 0 ? await deps.blobs.put(Buffer.from(JSON.stringify(accepted))) : undefined;
        if (received.length > 0) unacked.set(decisionId, { consumer, chunk, messages: received });
        const chunks = chunk ? [...input.chunks, chunk] : input.chunks;
        boxes.delete(decisionId);
        boxes.set(decisionId, { chunks, box });
        if (boxes.size > 100) boxes.delete(boxes.keys().next().value as string);
        return {
          chunk,
          received: received.length,
          accepted: accepted.length,
          refusals,
          tally: box.tally(),
          voters: box.voters,
          remaining: box.remaining(),
          closesAt,
          quorumReachedAt,
        };
      } catch (error) {
        failed = true;
        boxes.delete(decisionId); // the box may hold ballots whose messages were not acknowledged
        throw error;
      } finally {
        // After a failure the unacknowledged messages go back to the subscription for the retry.
        await release(decisionId, failed);
      }
    },
  };
  return {
    ...activities,
    settleBallots: (input: SettleBallotsInput) => inLane(input.decisionId, () => activities.settleBallots(input)),
    countBallots: (input: CountBallotsInput) => inLane(input.spec.decisionId, () => activities.countBallots(input)),
  };
}

export type DecisionActivities = ReturnType<typeof createDecisionActivities>;

/** The same, heartbeating while they run (a large electorate's listing, a long batch). */
export function createKeptAliveDecisionActivities(deps: DecisionDeps): DecisionActivities {
  return keptAlive(createDecisionActivities(deps));
}
