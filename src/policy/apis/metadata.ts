/**
 * Describing topics and the cluster: Metadata, DescribeTopicPartitions, DescribeCluster.
 *
 * All topics asked for (Metadata topics null, v0 empty; DescribeTopicPartitions empty): the answer
 * is filtered to the topics the principal may Describe. Named topics: each needs Describe; denied
 * ones are not forwarded (a broker would otherwise auto-create them) and are answered as
 * TOPIC_AUTHORIZATION_FAILED entries (name kept, no partitions, isInternal false); unknown ids as
 * UNKNOWN_TOPIC_ID. Authorized-operations fields are recomputed from the policy when asked for.
 *
 * Topic ids (Metadata v10+): once any entry of a request carries an id, the broker answers by ids
 * alone and ignores every name (KafkaApis' useTopicId). So then each entry with an id is
 * authorized by the name its id resolves to, never by the name the client put beside it (an
 * allowed name next to a hidden topic's id would otherwise disclose the hidden topic), is
 * forwarded by id alone, and a denied one is answered as the broker does (name null, the id,
 * TOPIC_AUTHORIZATION_FAILED); entries without an id are left out, as the broker leaves them.
 *
 * Auto-creation: the broker would create a missing named topic as the proxy's principal, so
 * unless the principal may Create on the cluster or on every allowed topic it names (and none of
 * them is protected), the request must not let it: v4+ is forwarded with
 * allowAutoTopicCreation false; v0-3 cannot say so (the broker's auto.create.topics.enable
 * decides), so it is forwarded as a request for every topic, which never creates one, and the
 * named topics are picked from the answer, a missing one answered UNKNOWN_TOPIC_OR_PARTITION (or
 * INVALID_TOPIC_EXCEPTION for an illegal name), as a broker that does not create it answers.
 * Either is a split with errorCode 0 (the request is rewritten, nothing is denied).
 *
 * DescribeTopicPartitions pages with a cursor; an all-topics answer's nextCursor may name a
 * topic the principal cannot describe (left as the broker set it, or paging would stop).
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import { ZERO_UUID } from '../../../protocol/runtime/index.js';
import * as metadataRes from '../../../protocol/generated/metadata-response.js';
import * as dtpRes from '../../../protocol/generated/describe-topic-partitions-response.js';
import type { MetadataResponse } from '../../../protocol/generated/metadata-response.js';
import { CLUSTER_NAME } from '../model.js';
import { ALLOW, Errors, OPS_OMITTED, authorizedOpsWithin, can, gate, onCluster, splitItems, withAuthorizedOps } from './helpers.js';
import type { ApiRule, AuthzContext, Outcome } from './types.js';

type Obj = Record<string, any>;

interface DescribeTopicsConfig {
  apiKey: number;
  /** Whether the request asks for every topic. */
  all: boolean;
  topic(): Obj;
  /** Recompute topicAuthorizedOperations. */
  topicOps: boolean;
  /** Extra rewriting of every answer (cluster operations). */
  finish?(res: Obj): Obj;
  /** The forwarded request's other changes (auto-creation off), given the allowed topic names; the request itself when none. */
  request?(req: Obj, allowed: string[]): Obj;
  /** Metadata v10+ naming some id: entries are authorized and forwarded by id alone (see the file comment). */
  byId?: boolean;
  /** Given the allowed topic names: whether to ask the broker for every topic and pick the named ones from its answer (Metadata v0-3 that must not auto-create). */
  listAll?(allowed: string[]): boolean;
}

function describeTopics(req: Obj, ctx: AuthzContext, c: DescribeTopicsConfig): Outcome {
  const describable = gate(ctx, 'topic', 'Describe');
  const ops = (res: Obj): Obj => {
    let out = c.topicOps ? { ...res, topics: withAuthorizedOps(ctx, 'topic', res.topics, 'name', 'topicAuthorizedOperations') } : res;
    if (c.finish) out = c.finish(out);
    return out;
  };
  if (c.all) {
    return {
      kind: 'filter',
      filter: (res: Obj) => ops({ ...res, topics: (res.topics as Obj[]).filter((t) => t.name !== null && describable(t.name)) }),
    };
  }
  const byId = c.byId === true;
  const items: Obj[] = byId ? (req.topics as Obj[]).filter((t) => t.topicId !== ZERO_UUID) : req.topics;
  const names = items.map((t) => (byId ? ctx.topicName(t.topicId) : t.name !== null && t.name !== undefined ? (t.name as string) : undefined));
  const keys = items.map((t, i) => (byId ? `id:${t.topicId}` : (names[i] ?? (t.topicId as string))));
  const codes = names.map((n) => (n === undefined ? Errors.UNKNOWN_TOPIC_ID : describable(n) ? 0 : Errors.TOPIC_AUTHORIZATION_FAILED));
  const allowed = [...new Set(names.filter((n, i): n is string => codes[i] === 0))];
  // Nothing is created by id: auto-creation concerns named requests only.
  const changed = c.request ? c.request(req, byId ? [] : allowed) : req;
  const denied = (t: Obj, code: number): Obj => ({
    ...c.topic(),
    errorCode: code,
    name: byId ? null : t.name,
    topicId: byId || code === Errors.UNKNOWN_TOPIC_ID ? t.topicId : ZERO_UUID,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: OPS_OMITTED,
  });
  // The answer's names: null is written from Metadata v12 on (and always by DescribeTopicPartitions), '' before.
  const nullName = ctx.version >= 12 || c.apiKey !== ApiKey.Metadata ? null : '';
  const answered = (e: Obj): Obj => (e.name === null || e.name === undefined ? { ...e, name: nullName } : e);
  if (!byId && c.listAll?.(allowed)) return pickFromAll(req, ctx, items, names, codes, (t, code) => answered(denied(t, code)), c.topic, ops);
  const outcome = splitItems<Obj, Obj>({
    items,
    code: (_t, i) => codes[i]!,
    request: (kept) => ({ ...changed, topics: byId ? kept.map((t) => ({ topicId: t.topicId, name: null })) : kept }),
    denied: (t, code) => answered(denied(t, code)),
    results: (res) => res.topics,
    withResults: (res, topics) => ({ ...res, topics }),
    empty: () => {
      throw new Error('unreachable: a Metadata-like request is always forwarded');
    },
    key: (t) => keys[items.indexOf(t)]!,
    resultKey: (r) => (byId ? `id:${r.topicId}` : (r.name ?? r.topicId)),
    finish: ops,
    alwaysForward: true,
    // Only what was asked for: a v0 request left with no topics asks the broker for all of them.
    dropUnmatched: true,
  });
  if (byId && outcome.kind === 'filter') {
    // Nothing denied: still forwarded by id alone, without the names and the id-less entries.
    return { kind: 'split', request: { ...changed, topics: items.map((t) => ({ topicId: t.topicId, name: null })) }, errorCode: 0, merge: outcome.filter };
  }
  if (outcome.kind === 'filter' && changed === req && !c.topicOps && !c.finish) return ALLOW;
  if (outcome.kind === 'filter' && changed !== req) return { kind: 'split', request: changed, errorCode: 0, merge: outcome.filter };
  return outcome;
}

/**
 * Metadata v0-3 that must not auto-create: forwarded as a request for every topic (v0: none
 * named; v1-3: null), which a broker answers without creating anything, and answered with the
 * named topics in request order (each once), a denied one with its error, an allowed one the
 * answer lacks as not existing.
 */
function pickFromAll(
  req: Obj,
  ctx: AuthzContext,
  items: readonly Obj[],
  names: readonly (string | undefined)[],
  codes: readonly number[],
  denied: (t: Obj, code: number) => Obj,
  topic: () => Obj,
  ops: (res: Obj) => Obj,
): Outcome {
  const missing = (name: string): Obj => ({
    ...topic(),
    errorCode: legalTopicName(name) ? Errors.UNKNOWN_TOPIC_OR_PARTITION : Errors.INVALID_TOPIC_EXCEPTION,
    name,
    isInternal: false,
    partitions: [],
  });
  return {
    kind: 'split',
    request: { ...req, topics: ctx.version === 0 ? [] : null },
    errorCode: codes.find((code) => code !== 0) ?? 0,
    merge: (res: Obj) => {
      const byName = new Map<string, Obj>();
      for (const t of res.topics as Obj[]) if (typeof t.name === 'string') byName.set(t.name, t);
      const seen = new Set<string>();
      const topics: Obj[] = [];
      items.forEach((t, i) => {
        const name = names[i]!;
        if (codes[i] !== 0) topics.push(denied(t, codes[i]!));
        else if (!seen.has(name)) {
          seen.add(name);
          topics.push(byName.get(name) ?? missing(name));
        }
      });
      return ops({ ...res, topics });
    },
  };
}

/** Kafka's Topic.validate: 1 to 249 of [a-zA-Z0-9._-], and neither "." nor "..". */
function legalTopicName(name: string): boolean {
  return name.length > 0 && name.length <= 249 && name !== '.' && name !== '..' && /^[a-zA-Z0-9._-]+$/.test(name);
}

export const metadataRule: ApiRule = {
  apiKey: ApiKey.Metadata,
  // Every id a request names, even beside a name: the broker answers by id whenever one is set.
  topicIds: (req, v) => (v >= 10 && req.topics ? (req.topics as Obj[]).filter((t) => t.topicId !== ZERO_UUID).map((t) => t.topicId as string) : []),
  authorize(req, ctx) {
    const v = ctx.version;
    const all = req.topics === null || (v === 0 && req.topics.length === 0);
    const byId = !all && v >= 10 && (req.topics as Obj[]).some((t) => t.topicId !== ZERO_UUID);
    const clusterOps = v >= 8 && v <= 10 && req.includeClusterAuthorizedOperations;
    const request = (r: Obj, allowed: string[]): Obj => (r.allowAutoTopicCreation && !mayAutoCreate(allowed, ctx) ? { ...r, allowAutoTopicCreation: false } : r);
    return describeTopics(req, ctx, {
      apiKey: ApiKey.Metadata,
      all,
      topic: metadataRes.defaultMetadataResponseTopic,
      topicOps: v >= 8 && req.includeTopicAuthorizedOperations,
      finish: clusterOps ? (res) => ({ ...res, clusterAuthorizedOperations: authorizedOpsWithin(ctx.authorizedOperations('cluster', CLUSTER_NAME), res.clusterAuthorizedOperations) }) : undefined,
      request: v >= 4 ? request : undefined,
      byId,
      // v0-3 always ask to auto-create.
      listAll: v < 4 ? (allowed) => !mayAutoCreate(allowed, ctx) : undefined,
    });
  },
};

/**
 * Kafka's auto-create check: Create on the cluster, or on every named topic the principal may
 * describe. A protected topic is never created for a client: it is asked about on the topic
 * (which the policy refuses) before any cluster-wide Create could cover it.
 */
function mayAutoCreate(named: string[], ctx: AuthzContext): boolean {
  if (named.length === 0) return true;
  const guarded = named.find((n) => ctx.isProtectedTopic(n));
  if (guarded !== undefined) {
    can(ctx, 'topic', guarded, 'Create');
    return false;
  }
  if (onCluster(ctx, 'Create')) return true;
  return named.every((n) => can(ctx, 'topic', n, 'Create'));
}

export const describeTopicPartitionsRule: ApiRule = {
  apiKey: ApiKey.DescribeTopicPartitions,
  authorize: (req, ctx) =>
    describeTopics(req, ctx, { apiKey: ApiKey.DescribeTopicPartitions, all: req.topics.length === 0, topic: dtpRes.defaultDescribeTopicPartitionsResponseTopic, topicOps: true }),
};

/** DescribeCluster: any authenticated client; clusterAuthorizedOperations recomputed when asked for. */
export const describeClusterRule: ApiRule = {
  apiKey: ApiKey.DescribeCluster,
  authorize: (req, ctx) =>
    req.includeClusterAuthorizedOperations
      ? { kind: 'filter', filter: (res: Obj) => ({ ...res, clusterAuthorizedOperations: authorizedOpsWithin(ctx.authorizedOperations('cluster', CLUSTER_NAME), res.clusterAuthorizedOperations) }) }
      : ALLOW,
};

/** The [id, name] pairs a Metadata response reports (topics without error, with an id), for the stage's id map. */
export function topicIdsFromMetadata(response: MetadataResponse): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const t of response.topics) if (t.errorCode === 0 && t.name !== null && t.topicId !== ZERO_UUID) out.push([t.topicId, t.name]);
  return out;
}
