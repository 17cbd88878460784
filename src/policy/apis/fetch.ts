/**
 * Fetch: Read on each topic, with fetch sessions (KIP-227) taken into account.
 *
 * An incremental fetch (sessionEpoch > 0) names only the partitions that changed; the broker keeps
 * returning data for every partition of its session. So the rule tracks, per connection, the
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
import type { FetchRequest, FetchTopic, ForgottenTopic } from '../../../protocol/generated/fetch-request.js';
import type { FetchResponse, FetchableTopicResponse } from '../../../protocol/generated/fetch-response.js';
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

function session(ctx: AuthzContext): FetchSession {
  return ctx.connectionState<FetchSession>(FETCH_SESSION_KEY, () => ({ topics: new Map(), revoked: new Map() }));
}

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
    const byId = v >= 13;
    const readable = gate(ctx, 'topic', 'Read');
    const keyOf = (t: { topic: string; topicId: string }): string => (byId ? t.topicId : t.topic);
    const nameOf = (t: FetchTopic): string | undefined => (byId ? ctx.topicName(t.topicId) : t.topic);
    const tracked = v >= 7 ? session(ctx) : undefined;
    const track = (topics: readonly FetchTopic[]): void => {
      if (!tracked) return;
      for (const t of topics) addPartitions(tracked.topics, keyOf(t), nameOf(t) ?? t.topic, t.topicId, t.partitions.map((p) => p.partition));
    };

    if (!tracked || req.sessionEpoch <= 0) {
      // A full fetch (or sessionless): the session starts again from what is forwarded.
      tracked?.topics.clear();
      tracked?.revoked.clear();
      const outcome = topicSplit(req, ctx, FETCH, { check: (name) => (readable(name) ? 0 : Errors.TOPIC_AUTHORIZATION_FAILED) });
      if (outcome.kind === 'allow') track(req.topics);
      else if (outcome.kind === 'split') track((outcome.request as FetchRequest).topics);
      return outcome;
    }

    // Incremental fetch.
    for (const f of req.forgottenTopicsData) {
      removePartitions(tracked.topics, keyOf(f), f.partitions);
      removePartitions(tracked.revoked, keyOf(f), f.partitions);
    }
    const errors: FetchableTopicResponse[] = [];
    const forward: FetchTopic[] = [];
    const forget: ForgottenTopic[] = [];
    for (const t of req.topics) {
      const name = nameOf(t);
      const code = name === undefined ? Errors.UNKNOWN_TOPIC_ID : readable(name) ? 0 : Errors.TOPIC_AUTHORIZATION_FAILED;
      if (code === 0) {
        // Sent again and allowed again: the broker takes it back into the session.
        forward.push(t);
        removePartitions(tracked.revoked, keyOf(t), t.partitions.map((p) => p.partition));
      }
      else if (code === Errors.UNKNOWN_TOPIC_ID) errors.push(deniedTopic(FETCH, t, code, byId, name) as FetchableTopicResponse);
      else addPartitions(tracked.revoked, keyOf(t), name!, t.topicId, t.partitions.map((p) => p.partition));
    }
    for (const [key, st] of tracked.topics) {
      if (readable(st.name)) continue;
      forget.push({ topic: st.name, topicId: st.id, partitions: [...st.partitions] });
      addPartitions(tracked.revoked, key, st.name, st.id, st.partitions);
      tracked.topics.delete(key);
    }
    for (const st of tracked.revoked.values()) {
      const t = { topic: st.name, topicId: st.id, partitions: [...st.partitions].map((partition) => ({ partition })) };
      errors.push(deniedTopic(FETCH, t, Errors.TOPIC_AUTHORIZATION_FAILED, byId, st.name) as FetchableTopicResponse);
    }
    if (errors.length === 0) {
      track(req.topics);
      return ALLOW;
    }
    track(forward);
    const request: FetchRequest = { ...req, topics: forward, forgottenTopicsData: [...req.forgottenTopicsData, ...forget] };
    const first = errors.find((e) => e.partitions.length > 0)?.partitions[0]?.errorCode ?? Errors.TOPIC_AUTHORIZATION_FAILED;
    return {
      kind: 'split',
      request,
      errorCode: first,
      merge: (res: FetchResponse) => ({ ...res, responses: [...res.responses, ...errors] }),
    };
  },
};
