/**
 * Kafka error codes that are normal protocol steps, not failures, for judging audited requests
 * and sessions (`gatehouse audit sessions` and `replay`, webhook messages). A code is a step when
 * a well-behaved client meets it on a healthy cluster and its protocol answers it with another
 * request — join again with the member id it was handed, find the coordinator again, refresh
 * metadata, start a new fetch session — without the application seeing an error. Events keep
 * every code the broker sent; only the judgement leaves these out.
 *
 * "Retriable" (Kafka's RetriableException) is not the test: CORRUPT_MESSAGE, REQUEST_TIMED_OUT,
 * NOT_ENOUGH_REPLICAS and KAFKA_STORAGE_ERROR are retriable, yet each reports a write or read that
 * did not happen (the last two are also fail-closed audit's refusals). Authorization and
 * authentication errors are never steps: a denial or a failed login always stands out.
 *
 * Sources: the protocol guide's error table, the message definitions' error lists, the Java
 * clients' handling of each code; KIP-227, KIP-320, KIP-207, KIP-394, KIP-447, KIP-511, KIP-848.
 */

export interface NormalStep {
  name: string;
  /** Why clients meet it, and what they do next. */
  why: string;
  /** A step only in answers to these APIs; elsewhere the code is a failure. */
  apis?: readonly string[];
}

/** Where a missing topic is stale metadata the client refreshes; in admin requests it means the topic is not there. */
const DATA_PATH = ['Metadata', 'Produce', 'Fetch', 'ListOffsets', 'OffsetForLeaderEpoch'];

export const NORMAL_STEPS: ReadonlyMap<number, NormalStep> = new Map<number, NormalStep>([
  // Leadership and metadata
  [3, { name: 'UNKNOWN_TOPIC_OR_PARTITION', why: 'metadata not there yet (a topic just created) or stale; the client refreshes it and retries', apis: DATA_PATH }],
  [5, { name: 'LEADER_NOT_AVAILABLE', why: 'a leader election in progress (as right after a topic is created); retried after a metadata refresh' }],
  [6, { name: 'NOT_LEADER_OR_FOLLOWER', why: 'leadership moved; the client retries on the new leader (from refreshed metadata or, KIP-951, the response)' }],
  [41, { name: 'NOT_CONTROLLER', why: 'the controller moved; the admin client refreshes metadata and retries' }],
  [74, { name: 'FENCED_LEADER_EPOCH', why: "the client's leader epoch is older than the broker's (KIP-320); it refreshes metadata and retries" }],
  [75, { name: 'UNKNOWN_LEADER_EPOCH', why: "the client's leader epoch is newer than the broker's while metadata propagates (KIP-320); retried" }],
  [78, { name: 'OFFSET_NOT_AVAILABLE', why: 'ListOffsets during a leader change, before the new leader knows its high watermark (KIP-207); retried' }],
  [100, { name: 'UNKNOWN_TOPIC_ID', why: 'as UNKNOWN_TOPIC_OR_PARTITION, for requests naming topics by id', apis: DATA_PATH }],
  // Coordinators (groups and transactions)
  [14, { name: 'COORDINATOR_LOAD_IN_PROGRESS', why: 'the coordinator is still loading its state; retried after a backoff' }],
  [15, { name: 'COORDINATOR_NOT_AVAILABLE', why: "no coordinator yet (a cluster's first group creates __consumer_offsets) or it is moving; looked up again" }],
  [16, { name: 'NOT_COORDINATOR', why: 'coordination moved to another broker; the client finds the coordinator again' }],
  // Group membership
  [22, { name: 'ILLEGAL_GENERATION', why: "the group rebalanced past the member's generation; it rejoins" }],
  [25, { name: 'UNKNOWN_MEMBER_ID', why: 'the coordinator no longer knows the member (session expired, or fenced); it rejoins with a new id' }],
  [27, { name: 'REBALANCE_IN_PROGRESS', why: 'a rebalance started; the member rejoins before it heartbeats or commits again' }],
  [79, { name: 'MEMBER_ID_REQUIRED', why: 'every first JoinGroup (v4+) is answered with the member id to join with (KIP-394); the client joins again with it' }],
  [110, { name: 'FENCED_MEMBER_EPOCH', why: "KIP-848: the member's epoch was fenced; it releases its partitions and rejoins with epoch 0" }],
  [113, { name: 'STALE_MEMBER_EPOCH', why: 'KIP-848: an offset commit or fetch raced a new member epoch; retried with it' }],
  [69, { name: 'GROUP_ID_NOT_FOUND', why: 'the admin client describes groups with ConsumerGroupDescribe first; a classic group answers this and it asks DescribeGroups', apis: ['ConsumerGroupDescribe'] }],
  // Fetch and share sessions
  [70, { name: 'FETCH_SESSION_ID_NOT_FOUND', why: 'the broker evicted the incremental fetch session (KIP-227); the client starts a full one' }],
  [71, { name: 'INVALID_FETCH_SESSION_EPOCH', why: 'the fetch session epoch is out of step (KIP-227); the client starts a new session' }],
  [106, { name: 'FETCH_SESSION_TOPIC_ID_ERROR', why: "the fetch session's topic ids no longer match; the client starts a new session" }],
  [122, { name: 'SHARE_SESSION_NOT_FOUND', why: 'as FETCH_SESSION_ID_NOT_FOUND, for share sessions (KIP-932)' }],
  [123, { name: 'INVALID_SHARE_SESSION_EPOCH', why: 'as INVALID_FETCH_SESSION_EPOCH, for share sessions (KIP-932)' }],
  // Transactions
  [51, { name: 'CONCURRENT_TRANSACTIONS', why: 'the previous transaction is still completing (as right after a commit); the producer retries' }],
  [88, { name: 'UNSTABLE_OFFSET_COMMIT', why: 'OffsetFetch (require_stable) while a transaction holds pending offsets (KIP-447); retried' }],
  // Version negotiation
  [35, { name: 'UNSUPPORTED_VERSION', why: 'ApiVersions newer than the broker: answered with the versions it has (KIP-511) and asked again; ConsumerGroupDescribe without the new group coordinator: the admin client asks DescribeGroups', apis: ['ApiVersions', 'ConsumerGroupDescribe'] }],
]);

/** The step `code` is in an answer to `api`, or undefined when it is a failure there. */
export function normalStep(code: number, api: string): NormalStep | undefined {
  const step = NORMAL_STEPS.get(code);
  return step && (!step.apis || step.apis.includes(api)) ? step : undefined;
}

/** An answer's error codes, split: the failures (codes) and the normal steps (names). */
export function judgeCodes(api: string, codes: readonly number[]): { failures: number[]; steps: string[] } {
  const failures: number[] = [];
  const steps: string[] = [];
  for (const code of codes) {
    const step = normalStep(code, api);
    if (step) steps.push(step.name);
    else failures.push(code);
  }
  return { failures, steps };
}
