/**
 * Describing topics and the cluster: Metadata, DescribeTopicPartitions, DescribeCluster.
 *
 * All topics asked for (Metadata topics null, v0 empty; DescribeTopicPartitions empty): the answer
 * is filtered to the topics the principal may Describe. Named topics: each needs Describe; denied
 * ones are not forwarded (a broker would otherwise auto-create them) and are answered as
 * TOPIC_AUTHORIZATION_FAILED entries (name kept, no partitions, isInternal false); unknown ids as
 * UNKNOWN_TOPIC_ID. Authorized-operations fields are recomputed from the policy when asked for.
 *
 * Metadata auto-creation (v4+ allowAutoTopicCreation): the broker would create missing topics as
 * the proxy's principal, so unless the principal may Create on the cluster or on every allowed
 * topic it names, the request is forwarded with allowAutoTopicCreation false (missing topics then
 * answer UNKNOWN_TOPIC_OR_PARTITION, as Kafka does without Create). v0-3 requests cannot say
 * so: there the broker's auto.create.topics.enable decides. Turning auto-creation off is a
 * split with errorCode 0 (the request is rewritten, nothing is denied).
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
  const items: Obj[] = req.topics;
  const names = items.map((t) => (t.name !== null && t.name !== undefined ? (t.name as string) : t.topicId !== ZERO_UUID ? ctx.topicName(t.topicId) : undefined));
  const keys = items.map((t, i) => names[i] ?? (t.topicId as string));
  const codes = names.map((n) => (n === undefined ? Errors.UNKNOWN_TOPIC_ID : describable(n) ? 0 : Errors.TOPIC_AUTHORIZATION_FAILED));
  const changed = c.request ? c.request(req, [...new Set(names.filter((n, i): n is string => codes[i] === 0))]) : req;
  const outcome = splitItems<Obj, Obj>({
    items,
    code: (_t, i) => codes[i]!,
    request: (kept) => ({ ...changed, topics: kept }),
    denied: (t, code) => ({ ...c.topic(), errorCode: code, name: t.name ?? (ctx.version >= 12 || c.apiKey !== ApiKey.Metadata ? null : ''), topicId: code === Errors.UNKNOWN_TOPIC_ID ? t.topicId : ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: OPS_OMITTED }),
    results: (res) => res.topics,
    withResults: (res, topics) => ({ ...res, topics }),
    empty: () => {
      throw new Error('unreachable: a Metadata-like request is always forwarded');
    },
    key: (t) => keys[items.indexOf(t)]!,
    resultKey: (r) => r.name ?? r.topicId,
    finish: ops,
    alwaysForward: true,
    // Only what was asked for: a v0 request left with no topics asks the broker for all of them.
    dropUnmatched: true,
  });
  if (outcome.kind === 'filter' && changed === req && !c.topicOps && !c.finish) return ALLOW;
  if (outcome.kind === 'filter' && changed !== req) return { kind: 'split', request: changed, errorCode: 0, merge: outcome.filter };
  return outcome;
}

export const metadataRule: ApiRule = {
  apiKey: ApiKey.Metadata,
  topicIds: (req, v) => (v >= 10 && req.topics ? (req.topics as Obj[]).filter((t) => t.name === null && t.topicId !== ZERO_UUID).map((t) => t.topicId as string) : []),
  authorize(req, ctx) {
    const v = ctx.version;
    const all = req.topics === null || (v === 0 && req.topics.length === 0);
    const clusterOps = v >= 8 && v <= 10 && req.includeClusterAuthorizedOperations;
    const request = (r: Obj, allowed: string[]): Obj =>
      v >= 4 && r.allowAutoTopicCreation && !mayAutoCreate(allowed, ctx) ? { ...r, allowAutoTopicCreation: false } : r;
    return describeTopics(req, ctx, {
      apiKey: ApiKey.Metadata,
      all,
      topic: metadataRes.defaultMetadataResponseTopic,
      topicOps: v >= 8 && req.includeTopicAuthorizedOperations,
      finish: clusterOps ? (res) => ({ ...res, clusterAuthorizedOperations: authorizedOpsWithin(ctx.authorizedOperations('cluster', CLUSTER_NAME), res.clusterAuthorizedOperations) }) : undefined,
      request,
    });
  },
};

/** Create on the cluster, or on every named topic the principal may describe (Kafka's auto-create check). */
function mayAutoCreate(named: string[], ctx: AuthzContext): boolean {
  if (named.length === 0) return true;
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
