/**
 * Fetch: Read on each topic, with fetch sessions (KIP-227) taken into account.
 *
 * An incremental fetch (sessionEpoch > 0) names only the partitions that changed; the broker keeps
 * returning data for every partition of its session. So the rule tracks, per session (the proxy's
 * session tracker keeps sessions by broker and id, and refuses an incremental fetch on a session
 * its principal did not open, see src/apis/fetch-session.ts), the
 * partitions the broker holds in the session (full fetch: reset to what was forwarded;
 * incremental: add the forwarded topics, drop forgottenTopicsData), and on every incremental fetch
 * authorizes each topic of the session, not only those in the request. Topics no longer allowed
 * are added to forgottenTopicsData so the broker drops them, and answered
 * TOPIC_AUTHORIZATION_FAILED. The client still believes they are in its session, so they stay
 * "revoked" and are answered with the error on each incremental fetch until the client forgets
 * them or starts a new session (a broker also repeats a partition's error on every fetch); one
 * the client sends again while allowed again is forwarded and leaves the revoked set.
 *
 * Nothing denied: allow (the original bytes; the hot path costs one check per session topic).
 * A follower fetch (replica id >= 0) needs ClusterAction on the cluster.
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import * as fetchRes from '../../../protocol/generated/fetch-response.js';
import type { FetchRequest } from '../../../protocol/generated/fetch-request.js';
import type { FetchResponse } from '../../../protocol/generated/fetch-response.js';
import { ALLOW, Errors, deniedTopic, gate, idsOf, onCluster, topicSplit, type TopicRule } from './helpers.js';
import type { ApiRule, AuthzContext, Outcome } from './types.js';

export const FETCH: TopicRule = {
  apiKey: ApiKey.Fetch,
  op: 'Read',
  req: { list: 'topics', name: 'topic', id: 'topicId', parts: 'partitions', part: 'partition' },
  res: {
    list: 'responses',
    name: 'topic',
    id: 'topicId',
    parts: 'partitions',
    topic: fetchRes.defaultFetchableTopicResponse,
    partition: fetchRes.defaultPartitionData,
    deniedPartition: { highWatermark: -1n },
  },
  byId: (v) => v >= 13,
};

interface SessionTopic {
  name: string;
  id: string;
  partitions: Set<number>;
}

/** What the proxy knows of the connection's fetch session. */
export interface FetchSession {
  /** The partitions the broker holds in the session, by topic key (id on v13+, else name). */
  topics: Map<string, SessionTopic>;
  /** Partitions the client believes are in the session but the proxy had the broker forget. */
  revoked: Map<string, SessionTopic>;
}

export const FETCH_SESSION_KEY = 'fetch.session';

function addPartitions(map: Map<string, SessionTopic>, key: string, name: string, id: string, parts: Iterable<number>): void {
  let st = map.get(key);
  if (!st) map.set(key, (st = { name, id, partitions: new Set() }));
  for (const p of parts) st.partitions.add(p);
}

function removePartitions(map: Map<string, SessionTopic>, key: string, parts: readonly number[]): void {
  const st = map.get(key);
  if (!st) return;
  for (const p of parts) st.partitions.delete(p);
  if (st.partitions.size === 0) map.delete(key);
}

type Obj = Record<string, any>;

/** How a fetch-like request names its session, topics and forgotten topics. */
export interface SessionShape {
  rule: TopicRule;
  /** The connection-state key of the tracked session. */
  stateKey: string;
  /** The session epoch: <= 0 starts (or ends) a session with a full request, > 0 is incremental. */
  epoch(req: Obj): number;
  /** A forgotten-topics entry. */
  forgotten(name: string, id: string, partitions: number[]): Obj;
}

/**
 * Read on each topic of a fetch-like request (Fetch, ShareFetch), with the session tracked in
 * connection state (see the file comment). `tracked` false: no sessions at this version.
 */
export function sessionFetch(req: Obj, ctx: AuthzContext, shape: SessionShape, tracking: boolean): Outcome {
  const { rule } = shape;
  const byId = rule.byId?.(ctx.version) ?? false;
  const part = rule.req.part!;
  const readable = gate(ctx, 'topic', 'Read');
  const keyOf = (t: Obj): string => (byId ? t[rule.req.id!] : t[rule.req.name]);
  const nameOf = (t: Obj): string | undefined => (byId ? ctx.topicName(t[rule.req.id!]) : t[rule.req.name]);
  const partsOf = (t: Obj): number[] => (t[rule.req.parts] as Obj[]).map((p) => p[part] as number);
  const tracked = tracking ? ctx.sessionState<FetchSession>(shape.stateKey, () => ({ topics: new Map(), revoked: new Map() })) : undefined;
  const track = (topics: readonly Obj[]): void => {
    if (!tracked) return;
    for (const t of topics) addPartitions(tracked.topics, keyOf(t), nameOf(t) ?? keyOf(t), t[rule.req.id!] ?? '', partsOf(t));
  };

  if (!tracked || shape.epoch(req) <= 0) {
    // A full fetch (or sessionless): the session starts again from what is forwarded.
    tracked?.topics.clear();
    tracked?.revoked.clear();
    const outcome = topicSplit(req, ctx, rule, { check: (name) => (readable(name) ? 0 : Errors.TOPIC_AUTHORIZATION_FAILED) });
    if (outcome.kind === 'allow') track(req[rule.req.list]);
    else if (outcome.kind === 'split') track((outcome.request as Obj)[rule.req.list]);
    return outcome;
  }

  // Incremental fetch.
  for (const f of req.forgottenTopicsData as Obj[]) {
    removePartitions(tracked.topics, keyOf(f), f.partitions);
    removePartitions(tracked.revoked, keyOf(f), f.partitions);
  }
  const errors: Obj[] = [];
  const forward: Obj[] = [];
  const forget: Obj[] = [];
  for (const t of req[rule.req.list] as Obj[]) {
    const name = nameOf(t);
    const code = name === undefined ? Errors.UNKNOWN_TOPIC_ID : readable(name) ? 0 : Errors.TOPIC_AUTHORIZATION_FAILED;
    if (code === 0) {
      // Sent again and allowed again: the broker takes it back into the session.
      forward.push(t);
      removePartitions(tracked.revoked, keyOf(t), partsOf(t));
    } else if (code === Errors.UNKNOWN_TOPIC_ID) errors.push(deniedTopic(rule, t, code, byId, name));
    else addPartitions(tracked.revoked, keyOf(t), name!, t[rule.req.id!] ?? '', partsOf(t));
  }
  for (const [key, st] of tracked.topics) {
    if (readable(st.name)) continue;
    forget.push(shape.forgotten(st.name, st.id, [...st.partitions]));
    addPartitions(tracked.revoked, key, st.name, st.id, st.partitions);
    tracked.topics.delete(key);
  }
  for (const st of tracked.revoked.values()) {
    const t = { [rule.req.name]: st.name, [rule.req.id!]: st.id, [rule.req.parts]: [...st.partitions].map((p) => ({ [part]: p })) };
    errors.push(deniedTopic(rule, t, Errors.TOPIC_AUTHORIZATION_FAILED, byId, st.name));
  }
  if (errors.length === 0) {
    track(req[rule.req.list]);
    return ALLOW;
  }
  track(forward);
  const request = { ...req, [rule.req.list]: forward, forgottenTopicsData: [...req.forgottenTopicsData, ...forget] };
  const first = errors.find((e) => e[rule.res.parts].length > 0)?.[rule.res.parts][0]?.errorCode ?? Errors.TOPIC_AUTHORIZATION_FAILED;
  return {
    kind: 'split',
    request,
    errorCode: first,
    merge: (res: Obj) => ({ ...res, [rule.res.list]: [...res[rule.res.list], ...errors] }),
  };
}

const FETCH_SESSION: SessionShape = {
  rule: FETCH,
  stateKey: FETCH_SESSION_KEY,
  epoch: (req) => req.sessionEpoch,
  forgotten: (topic, topicId, partitions) => ({ topic, topicId, partitions }),
};

export const fetchRule: ApiRule<FetchRequest, FetchResponse> = {
  apiKey: ApiKey.Fetch,
  topicIds: (req, v) => (v >= 13 ? [...idsOf(req, FETCH.req), ...req.forgottenTopicsData.map((f) => f.topicId)] : []),
  authorize(req, ctx): Outcome {
    const v = ctx.version;
    const replicaId = v >= 15 ? req.replicaState.replicaId : req.replicaId;
    if (replicaId >= 0) {
      if (onCluster(ctx, 'ClusterAction')) return ALLOW;
      return topicSplit(req, ctx, FETCH, { all: Errors.CLUSTER_AUTHORIZATION_FAILED });
    }
    return sessionFetch(req, ctx, FETCH_SESSION, v >= 7);
  },
};
