// The messaging port: topics, durable subscriptions, acknowledgement (Pulsar, in-memory).

/** Why a messaging call failed, whatever the broker: callers branch on the code, never the text. */
export type MessagingErrorCode =
  /** The broker did not answer within the bounded wait: another attempt later may succeed. */
  | 'UNAVAILABLE'
  /** The broker refused the credentials. */
  | 'UNAUTHENTICATED'
  /** The broker refused the consumer: an exclusive subscription is taken, or its type differs. */
  | 'CONFLICT'
  /** The broker refused the request itself (bad name, message too large, ...). */
  | 'REJECTED'
  /** The port or consumer was closed. */
  | 'CLOSED'
  | 'INVALID_ARGUMENT';

export class MessagingError extends Error {
  constructor(
    readonly code: MessagingErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'MessagingError';
  }
}

export const isMessagingError = (error: unknown, code?: MessagingErrorCode): error is MessagingError =>
  error instanceof MessagingError && (code === undefined || error.code === code);

export type SubscriptionType = 'exclusive' | 'shared' | 'failover' | 'key_shared';

export interface PublishOptions {
  /** Ordering key: messages with one key reach consumers in publish order. */
  key?: string;
  properties?: Record<string, string>;
}

export interface ReceivedMessage {
  /** Broker-assigned id, unique within a topic. */
  id: string;
  topic: string;
  key?: string;
  properties: Record<string, string>;
  payload: Uint8Array;
  /** Milliseconds since the epoch at which the broker accepted the message. */
  publishTime: number;
  /** How many times this message was delivered before and not acknowledged. */
  redeliveryCount: number;
}

export interface SubscribeOptions {
  /** Default: exclusive, as in Pulsar. */
  type?: SubscriptionType;
  /** Where a subscription that does not exist yet starts. Default: latest. */
  initialPosition?: 'earliest' | 'latest';
}

export interface Consumer {
  /** Next message, or undefined when none arrives within timeoutMs. */
  receive(timeoutMs: number): Promise<ReceivedMessage | undefined>;
  ack(message: ReceivedMessage): Promise<void>;
  /** Give the message back for redelivery (to this or another consumer). */
  nack(message: ReceivedMessage): Promise<void>;
  /** Unacknowledged messages go back to the subscription; a pending receive resolves undefined. */
  close(): Promise<void>;
}

export interface MessagingPort {
  publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<string>;
  /** Durable, named subscription: its position survives the consumer. */
  subscribe(topic: string, subscription: string, options?: SubscribeOptions): Promise<Consumer>;
  /**
   * Removes a topic with its subscriptions and messages, disconnecting its consumers (a
   * finished job's updates topic). Deleting a topic that does not exist is a no-op.
   */
  deleteTopic(topic: string): Promise<void>;
  close(): Promise<void>;
}

export interface SubscriptionBacklog {
  subscription: string;
  /** Messages published and not yet acknowledged on this subscription. */
  backlog: number;
  /** Publish time (ms since the epoch) of the oldest message not yet acknowledged; absent while the backlog is empty. */
  oldestPublishedAt?: number;
}

/** Backlog per subscription of a topic, for the scheduler (rebalance). Pulsar: msgBacklog from topic stats. */
/** Adapters whose consumers reconnect by themselves (Pulsar's WebSocket consumers) say when one did. */
export interface MessagingReconnects {
  /** listener gets the logical topic of each consumer that reconnected after its connection dropped. */
  onReconnect(listener: (topic: string) => void): void;
}

export interface MessagingBacklog {
  backlog(topic: string): Promise<SubscriptionBacklog[]>;
}
