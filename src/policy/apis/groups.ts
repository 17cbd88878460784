/**
 * Consumer groups (classic and KIP-848), share groups and streams groups.
 *
 * Membership APIs (JoinGroup, Heartbeat, LeaveGroup, SyncGroup and the new heartbeats) need Read
 * on the group and are denied whole with GROUP_AUTHORIZATION_FAILED; the new heartbeats also need
 * Describe on every topic they name (else TOPIC_AUTHORIZATION_FAILED, as Kafka). Describe APIs
 * work per group and recompute authorized operations; the KIP-848 describes also fail a group
 * whose members use topics the principal may not Describe (TOPIC_AUTHORIZATION_FAILED).
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import * as offsetCommitRes from '../../../protocol/generated/offset-commit-response.js';
import * as offsetFetchRes from '../../../protocol/generated/offset-fetch-response.js';
import * as offsetDeleteRes from '../../../protocol/generated/offset-delete-response.js';
import * as findCoordinatorRes from '../../../protocol/generated/find-coordinator-response.js';
import * as describeGroupsRes from '../../../protocol/generated/describe-groups-response.js';
import * as deleteGroupsRes from '../../../protocol/generated/delete-groups-response.js';
import * as consumerDescribeRes from '../../../protocol/generated/consumer-group-describe-response.js';
import * as describeShareOffsetsRes from '../../../protocol/generated/describe-share-group-offsets-response.js';
import { denialCode, type Action, type ResourceType } from '../model.js';
import {
  ALLOW,
  Errors,
  byName,
  can,
  deny,
  flatSplit,
  gate,
  genericDenial,
  idsOf,
  namedTopics,
  onCluster,
  requireAll,
  splitItems,
  topicSplit,
  withAuthorizedOps,
  type FlatRule,
  type TopicRule,
} from './helpers.js';
import type { ApiRule, AuthzContext, Outcome } from './types.js';

type Obj = Record<string, any>;

const groupAction = (name: string, operation: Action['operation']): Action => ({ resourceType: 'group', name, operation });

/** A membership API: Read on the group named by `groupId`, denied whole. */
export function groupMembershipRule(apiKey: number): ApiRule {
  return { apiKey, authorize: requireAll(apiKey, (req) => [groupAction(req.groupId, 'Read')]) };
}

/**
 * A KIP-848-style heartbeat: Read on the group, then Describe on every topic `topics` names
 * (whole request TOPIC_AUTHORIZATION_FAILED otherwise, as Kafka).
 */
export function groupHeartbeatRule(apiKey: number, topics: (req: any) => readonly string[]): ApiRule {
  return {
    apiKey,
    authorize(req, ctx) {
      if (!can(ctx, 'group', req.groupId, 'Read')) return deny(genericDenial(apiKey, ctx.version, Errors.GROUP_AUTHORIZATION_FAILED), Errors.GROUP_AUTHORIZATION_FAILED);
      const describable = gate(ctx, 'topic', 'Describe');
      // every name is checked (and recorded), not just up to the first denied one
      const denied = [...new Set(topics(req))].filter((t) => !describable(t));
      if (denied.length === 0) return ALLOW;
      const res = genericDenial(apiKey, ctx.version, Errors.TOPIC_AUTHORIZATION_FAILED);
      if ('errorMessage' in res) res.errorMessage = `Unauthorized topics: ${denied.join(', ')}`;
      return deny(res, Errors.TOPIC_AUTHORIZATION_FAILED);
    },
  };
}

export const OFFSET_COMMIT: TopicRule = {
  apiKey: ApiKey.OffsetCommit,
  op: 'Read',
  req: { list: 'topics', name: 'name', id: 'topicId', parts: 'partitions', part: 'partitionIndex' },
  res: { list: 'topics', name: 'name', id: 'topicId', parts: 'partitions', topic: offsetCommitRes.defaultOffsetCommitResponseTopic, partition: offsetCommitRes.defaultOffsetCommitResponsePartition },
  byId: (v) => v >= 10,
};

/** OffsetCommit: Read on the group (else every partition GROUP_AUTHORIZATION_FAILED), Read on each topic. */
export const offsetCommitRule: ApiRule = {
  apiKey: ApiKey.OffsetCommit,
  topicIds: (req, v) => (v >= 10 ? idsOf(req, OFFSET_COMMIT.req) : []),
  authorize(req, ctx) {
    const all = can(ctx, 'group', req.groupId, 'Read') ? 0 : Errors.GROUP_AUTHORIZATION_FAILED;
    return topicSplit(req, ctx, OFFSET_COMMIT, { all });
  },
};

/** A denied OffsetFetch partition (Kafka's INVALID_OFFSET, no metadata). */
function offsetFetchPartition(v: number, partitionIndex: number, errorCode: number): Obj {
  const p = v >= 8 ? offsetFetchRes.defaultOffsetFetchResponsePartitions() : offsetFetchRes.defaultOffsetFetchResponsePartition();
  return { ...p, partitionIndex, committedOffset: -1n, errorCode };
}

/** How a group's topics are named in a request and an answer, and a denied partition's entry. */
interface GroupTopics {
  reqName(t: Obj): string | undefined;
  resName(t: Obj): string | undefined;
  deniedPartition(partitionIndex: number): Obj;
}

/**
 * Describe on the topics of one group's answer: the request's topics go upstream as they are and
 * the answer is rewritten. A denied topic's partitions become `deniedPartition` entries, and an
 * all-topics answer (requested null) keeps only describable topics. Returns undefined when
 * nothing needs rewriting.
 */
function topicRewriter(ctx: AuthzContext, g: GroupTopics, requested: Obj[] | null): ((topics: Obj[]) => Obj[]) | undefined {
  const describable = gate(ctx, 'topic', 'Describe');
  const ok = (n: string | undefined): boolean => n !== undefined && describable(n);
  if (requested === null) return (topics) => topics.filter((t) => ok(g.resName(t)));
  if (requested.every((t) => ok(g.reqName(t)))) return undefined;
  return (topics) => topics.map((t) => (ok(g.resName(t)) ? t : { ...t, partitions: (t.partitions as Obj[]).map((p) => g.deniedPartition(p.partitionIndex)) }));
}

/**
 * Several groups, each with topics (OffsetFetch v8+, DescribeShareGroupOffsets): Describe on each
 * group (a denied group is answered with its own entry and not forwarded), and each allowed
 * group's topics rewritten as topicRewriter says.
 */
function groupsWithTopics(req: Obj, ctx: AuthzContext, apiKey: number, resGroup: () => Obj, g: GroupTopics): Outcome {
  const groupOk = byName(ctx, 'group', 'Describe');
  const rewriters = new Map<string, (topics: Obj[]) => Obj[]>();
  const codes = (req.groups as Obj[]).map((group) => {
    const c = groupOk(group.groupId);
    const rw = c === 0 ? topicRewriter(ctx, g, group.topics) : undefined;
    if (rw) rewriters.set(group.groupId, rw);
    return c;
  });
  return splitItems<Obj, Obj>({
    items: req.groups,
    code: (_g, i) => codes[i]!,
    request: (kept) => ({ ...req, groups: kept }),
    denied: (group, code) => ({ ...resGroup(), groupId: group.groupId, errorCode: code }),
    results: (res) => res.groups,
    withResults: (res, groups) => ({ ...res, groups }),
    empty: () => genericDenial(apiKey, ctx.version, 0),
    key: (group) => group.groupId,
    resultKey: (r) => r.groupId,
    finish:
      rewriters.size > 0
        ? (res) => ({
            ...res,
            groups: (res.groups as Obj[]).map((group) => {
              const rw = group.errorCode === 0 ? rewriters.get(group.groupId) : undefined;
              return rw ? { ...group, topics: rw(group.topics) } : group;
            }),
          })
        : undefined,
  });
}

/**
 * OffsetFetch: Describe on each group (v0-7 one group, with a top-level error and, for v0-1
 * clients, per-partition errors; v8+ a group entry each) and Describe on each topic, the answer
 * rewritten by topicRewriter (offset -1, TOPIC_AUTHORIZATION_FAILED). v10 names topics by id;
 * in an all-topics answer, ids the proxy cannot name are left out.
 */
export const offsetFetchRule: ApiRule = {
  apiKey: ApiKey.OffsetFetch,
  topicIds: (req, v) => (v >= 10 ? (req.groups as Obj[]).flatMap((g) => (g.topics ? (g.topics as Obj[]).map((t) => t.topicId as string) : [])) : []),
  authorize(req, ctx) {
    const v = ctx.version;
    const nameOf = (t: Obj): string | undefined => (v >= 10 ? ctx.topicName(t.topicId) : t.name);
    const topics: GroupTopics = { reqName: nameOf, resName: nameOf, deniedPartition: (p) => offsetFetchPartition(v, p, Errors.TOPIC_AUTHORIZATION_FAILED) };
    if (v >= 8) return groupsWithTopics(req, ctx, ApiKey.OffsetFetch, offsetFetchRes.defaultOffsetFetchResponseGroup, topics);
    if (!can(ctx, 'group', req.groupId, 'Describe')) {
      const res = genericDenial(ApiKey.OffsetFetch, v, Errors.GROUP_AUTHORIZATION_FAILED);
      res.topics = ((req.topics ?? []) as Obj[]).map((t) => ({
        ...offsetFetchRes.defaultOffsetFetchResponseTopic(),
        name: t.name,
        partitions: (t.partitionIndexes as number[]).map((p) => offsetFetchPartition(v, p, Errors.GROUP_AUTHORIZATION_FAILED)),
      }));
      return deny(res, Errors.GROUP_AUTHORIZATION_FAILED);
    }
    const rw = topicRewriter(ctx, topics, req.topics);
    return rw ? { kind: 'filter', filter: (res: Obj) => ({ ...res, topics: rw(res.topics) }) } : ALLOW;
  },
};

/** DescribeShareGroupOffsets: Describe on each group and on each topic (as OffsetFetch v8+). */
export const describeShareGroupOffsetsRule: ApiRule = {
  apiKey: ApiKey.DescribeShareGroupOffsets,
  authorize: (req, ctx) =>
    groupsWithTopics(req, ctx, ApiKey.DescribeShareGroupOffsets, describeShareOffsetsRes.defaultDescribeShareGroupOffsetsResponseGroup, {
      reqName: (t) => t.topicName,
      resName: (t) => t.topicName,
      deniedPartition: (partitionIndex) => ({
        ...describeShareOffsetsRes.defaultDescribeShareGroupOffsetsResponsePartition(),
        partitionIndex,
        startOffset: -1n,
        errorCode: Errors.TOPIC_AUTHORIZATION_FAILED,
      }),
    }),
};

/** FindCoordinator's key types: the resource each names and the code a denial answers with. */
function coordinatorCheck(ctx: AuthzContext, keyType: number): (key: string) => number {
  const check = (type: ResourceType, name: string, op: Action['operation']): number => (can(ctx, type, name, op) ? 0 : denialCode(type));
  switch (keyType) {
    case 0: // group
      return (key) => check('group', key, 'Describe');
    case 1: // transaction
      return (key) => check('transactionalId', key, 'Describe');
    case 2: // share (groupId:topicId:partition): broker-to-broker, Kafka requires ClusterAction
      return () => (onCluster(ctx, 'ClusterAction') ? 0 : Errors.CLUSTER_AUTHORIZATION_FAILED);
    default:
      return () => Errors.INVALID_REQUEST;
  }
}

const COORDINATORS: FlatRule = {
  apiKey: ApiKey.FindCoordinator,
  list: 'coordinatorKeys',
  resList: 'coordinators',
  resName: 'key',
  result: findCoordinatorRes.defaultCoordinator,
  deniedFields: { nodeId: -1, host: '', port: -1 },
};

/** FindCoordinator: Describe on the group or transactional id (v4+ per key); share keys need ClusterAction. */
export const findCoordinatorRule: ApiRule = {
  apiKey: ApiKey.FindCoordinator,
  authorize(req, ctx) {
    const check = coordinatorCheck(ctx, req.keyType);
    if (ctx.version >= 4) return flatSplit(req, ctx, COORDINATORS, check);
    const code = check(req.key);
    if (code === 0) return ALLOW;
    return deny({ ...genericDenial(ApiKey.FindCoordinator, ctx.version, code), nodeId: -1, port: -1 }, code);
  },
};

/** The answer of a per-group describe, authorized operations recomputed when asked for. */
function describedGroupsFinish(ctx: AuthzContext, includeOps: boolean, extra?: (g: Obj) => Obj): ((res: Obj) => Obj) | undefined {
  if (!includeOps && !extra) return undefined;
  return (res) => {
    let groups: Obj[] = res.groups;
    if (extra) groups = groups.map((g) => (g.errorCode === 0 ? extra(g) : g));
    if (includeOps) groups = withAuthorizedOps(ctx, 'group', groups, 'groupId', 'authorizedOperations');
    return { ...res, groups };
  };
}

/**
 * A per-group describe (DescribeGroups, ConsumerGroupDescribe, ShareGroupDescribe,
 * StreamsGroupDescribe): Describe on each group; `topicsOf` lists the topics a described group
 * uses, and a group using a topic the principal may not Describe is answered
 * TOPIC_AUTHORIZATION_FAILED instead (Kafka's check on the members' assignments).
 */
export function describeGroupsRule(apiKey: number, list: string, result: () => Obj, topicsOf?: (g: Obj) => Iterable<string>): ApiRule {
  const rule: FlatRule = { apiKey, list, resList: 'groups', resName: 'groupId', result };
  return {
    apiKey,
    authorize(req, ctx) {
      const describable = gate(ctx, 'topic', 'Describe');
      const hidesTopics = topicsOf
        ? (g: Obj): Obj => {
            const denied = [...new Set(topicsOf(g))].filter((t) => !describable(t));
            if (denied.length === 0) return g;
            return { ...result(), groupId: g.groupId, errorCode: Errors.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'The group has described topic(s) that the client is not authorized to describe.' };
          }
        : undefined;
      const finish = describedGroupsFinish(ctx, req.includeAuthorizedOperations === true, hidesTopics);
      return flatSplit(req, ctx, rule, byName(ctx, 'group', 'Describe'), { finish });
    },
  };
}

/** DescribeGroups v3+ has includeAuthorizedOperations; earlier versions never ask. */
export const describeGroupsRuleClassic = describeGroupsRule(ApiKey.DescribeGroups, 'groups', describeGroupsRes.defaultDescribedGroup);

/** The topics a described group's members are assigned (current and target assignments), as Kafka checks them. */
export function assignedTopics(g: Obj): string[] {
  const out: string[] = [];
  for (const m of g.members as Obj[]) for (const a of [m.assignment, m.targetAssignment]) if (a) for (const tp of a.topicPartitions as Obj[]) out.push(tp.topicName);
  return out;
}

export const consumerGroupDescribeRule = describeGroupsRule(ApiKey.ConsumerGroupDescribe, 'groupIds', consumerDescribeRes.defaultDescribedGroup, assignedTopics);

/** ListGroups: Describe on the cluster lists every group; otherwise only groups with Describe. */
export const listGroupsRule: ApiRule = {
  apiKey: ApiKey.ListGroups,
  authorize(_req, ctx) {
    if (onCluster(ctx, 'Describe')) return ALLOW;
    const describable = gate(ctx, 'group', 'Describe');
    return { kind: 'filter', filter: (res: Obj) => ({ ...res, groups: (res.groups as Obj[]).filter((g) => describable(g.groupId)) }) };
  },
};

const DELETE_GROUPS: FlatRule = { apiKey: ApiKey.DeleteGroups, list: 'groupsNames', resList: 'results', resName: 'groupId', result: deleteGroupsRes.defaultDeletableGroupResult };

/** DeleteGroups: Delete on each group. */
export const deleteGroupsRule: ApiRule = {
  apiKey: ApiKey.DeleteGroups,
  authorize: (req, ctx) => flatSplit(req, ctx, DELETE_GROUPS, byName(ctx, 'group', 'Delete')),
};

export const OFFSET_DELETE = namedTopics(ApiKey.OffsetDelete, 'Read', offsetDeleteRes.defaultOffsetDeleteResponseTopic, offsetDeleteRes.defaultOffsetDeleteResponsePartition);

/** OffsetDelete: Delete on the group (top-level GROUP_AUTHORIZATION_FAILED), Read on each topic. */
export const offsetDeleteRule: ApiRule = {
  apiKey: ApiKey.OffsetDelete,
  authorize(req, ctx): Outcome {
    const whole = requireAll(ApiKey.OffsetDelete, (r) => [groupAction(r.groupId, 'Delete')])(req, ctx);
    return whole.kind === 'deny' ? whole : topicSplit(req, ctx, OFFSET_DELETE);
  },
};
