/**
 * Share groups (KIP-932) and streams groups (KIP-1071), and the KIP-848 consumer heartbeat.
 *
 * ShareFetch and ShareAcknowledge need Read on the group (top-level GROUP_AUTHORIZATION_FAILED)
 * and Read on each topic (by id; denied partitions TOPIC_AUTHORIZATION_FAILED, unknown ids
 * UNKNOWN_TOPIC_ID); ShareFetch tracks share sessions as Fetch tracks fetch sessions.
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import * as shareFetchRes from '../../../protocol/generated/share-fetch-response.js';
import * as shareAckRes from '../../../protocol/generated/share-acknowledge-response.js';
import * as shareDescribeRes from '../../../protocol/generated/share-group-describe-response.js';
import * as streamsDescribeRes from '../../../protocol/generated/streams-group-describe-response.js';
import * as alterShareOffsetsRes from '../../../protocol/generated/alter-share-group-offsets-response.js';
import * as deleteShareOffsetsRes from '../../../protocol/generated/delete-share-group-offsets-response.js';
import { byName, can, deny, flatSplit, genericDenial, idsOf, Errors, namedTopics, topicSplit, type FlatRule, type TopicRule } from './helpers.js';
import { assignedTopics, describeGroupsRule, groupHeartbeatRule } from './groups.js';
import { sessionFetch, type SessionShape } from './fetch.js';
import type { ApiRule, Outcome } from './types.js';

type Obj = Record<string, any>;

/** Share topics are named by id only (the name field is the id too: never used on id-keyed requests). */
function shareTopics(apiKey: number, partition: () => Obj, topic: () => Obj): TopicRule {
  return {
    apiKey,
    op: 'Read',
    req: { list: 'topics', name: 'topicId', id: 'topicId', parts: 'partitions', part: 'partitionIndex' },
    res: { list: 'responses', name: 'topicId', id: 'topicId', parts: 'partitions', topic, partition },
    byId: () => true,
  };
}

export const SHARE_FETCH = shareTopics(ApiKey.ShareFetch, shareFetchRes.defaultPartitionData, shareFetchRes.defaultShareFetchableTopicResponse);
export const SHARE_ACKNOWLEDGE = shareTopics(ApiKey.ShareAcknowledge, shareAckRes.defaultPartitionData, shareAckRes.defaultShareAcknowledgeTopicResponse);

/** Read on the group (whole request), then `then`. */
function withGroup(apiKey: number, op: 'Read' | 'Delete', then: (req: any, ctx: Parameters<ApiRule['authorize']>[1]) => Outcome): ApiRule['authorize'] {
  return (req, ctx) => {
    if (req.groupId !== null && !can(ctx, 'group', req.groupId, op)) {
      return deny(genericDenial(apiKey, ctx.version, Errors.GROUP_AUTHORIZATION_FAILED), Errors.GROUP_AUTHORIZATION_FAILED);
    }
    return then(req, ctx);
  };
}

export const SHARE_SESSION_KEY = 'share-fetch.session';

const SHARE_SESSION: SessionShape = {
  rule: SHARE_FETCH,
  stateKey: SHARE_SESSION_KEY,
  epoch: (req) => req.shareSessionEpoch,
  forgotten: (_name, topicId, partitions) => ({ topicId, partitions }),
};

/**
 * ShareFetch: Read on the group, then Read on each topic with the share session (KIP-932,
 * shareSessionEpoch) tracked as fetch sessions are (fetch.ts): an incremental ShareFetch
 * re-authorizes every topic of the session.
 */
export const shareFetchRule: ApiRule = {
  apiKey: ApiKey.ShareFetch,
  topicIds: (req) => [...idsOf(req, SHARE_FETCH.req), ...(req.forgottenTopicsData as Obj[]).map((f) => f.topicId as string)],
  authorize: withGroup(ApiKey.ShareFetch, 'Read', (req, ctx) => sessionFetch(req, ctx, SHARE_SESSION, true)),
};

export const shareAcknowledgeRule: ApiRule = {
  apiKey: ApiKey.ShareAcknowledge,
  topicIds: (req) => idsOf(req, SHARE_ACKNOWLEDGE.req),
  authorize: withGroup(ApiKey.ShareAcknowledge, 'Read', (req, ctx) => topicSplit(req, ctx, SHARE_ACKNOWLEDGE)),
};

/**
 * ConsumerGroupHeartbeat (KIP-848): Read on the group, Describe on each subscribed topic name.
 * A regex subscription (subscribedTopicRegex) is resolved by the group coordinator, which
 * filters the matches by the authorization of the principal it sees: through the proxy that
 * is the proxy's own, so the proxy cannot narrow regex matches to the client's topics (the
 * assignment names topics by id only). Known limitation.
 */
export const consumerGroupHeartbeatRule = groupHeartbeatRule(ApiKey.ConsumerGroupHeartbeat, (req) => req.subscribedTopicNames ?? []);

/** ShareGroupHeartbeat: Read on the group, Describe on each subscribed topic name. */
export const shareGroupHeartbeatRule = groupHeartbeatRule(ApiKey.ShareGroupHeartbeat, (req) => req.subscribedTopicNames ?? []);

/** The topics a streams topology names (source, repartition and changelog topics). */
export function topologyTopics(topology: Obj | null): string[] {
  const out: string[] = [];
  for (const st of (topology?.subtopologies ?? []) as Obj[]) {
    out.push(...(st.sourceTopics as string[]), ...(st.repartitionSinkTopics as string[]));
    for (const info of [...(st.stateChangelogTopics as Obj[]), ...(st.repartitionSourceTopics as Obj[])]) out.push(info.name);
  }
  return out;
}

/**
 * StreamsGroupHeartbeat: Read on the group, Describe on every topic of the topology (as Kafka).
 * Kafka also needs Create (cluster or topic) to create missing internal topics; the broker
 * checks that against the proxy's principal, so the proxy does not (known limitation).
 */
export const streamsGroupHeartbeatRule = groupHeartbeatRule(ApiKey.StreamsGroupHeartbeat, (req) => topologyTopics(req.topology));

export const shareGroupDescribeRule = describeGroupsRule(ApiKey.ShareGroupDescribe, 'groupIds', shareDescribeRes.defaultDescribedGroup, assignedTopics);

export const streamsGroupDescribeRule = describeGroupsRule(ApiKey.StreamsGroupDescribe, 'groupIds', streamsDescribeRes.defaultDescribedGroup, (g) => topologyTopics(g.topology));

export const ALTER_SHARE_OFFSETS = namedTopics(
  ApiKey.AlterShareGroupOffsets,
  'Read',
  alterShareOffsetsRes.defaultAlterShareGroupOffsetsResponseTopic,
  alterShareOffsetsRes.defaultAlterShareGroupOffsetsResponsePartition,
  { name: 'topicName' },
  { list: 'responses', name: 'topicName' },
);

/** AlterShareGroupOffsets: Read on the group (top-level), Read on each topic. */
export const alterShareGroupOffsetsRule: ApiRule = {
  apiKey: ApiKey.AlterShareGroupOffsets,
  authorize: withGroup(ApiKey.AlterShareGroupOffsets, 'Read', (req, ctx) => topicSplit(req, ctx, ALTER_SHARE_OFFSETS)),
};

const DELETE_SHARE_OFFSETS: FlatRule = {
  apiKey: ApiKey.DeleteShareGroupOffsets,
  list: 'topics',
  name: 'topicName',
  resList: 'responses',
  resName: 'topicName',
  result: deleteShareOffsetsRes.defaultDeleteShareGroupOffsetsResponseTopic,
};

/** DeleteShareGroupOffsets: Delete on the group (top-level), Read on each topic (a topic-level error each). */
export const deleteShareGroupOffsetsRule: ApiRule = {
  apiKey: ApiKey.DeleteShareGroupOffsets,
  authorize: withGroup(ApiKey.DeleteShareGroupOffsets, 'Delete', (req, ctx) => flatSplit(req, ctx, DELETE_SHARE_OFFSETS, byName(ctx, 'topic', 'Read'))),
};
