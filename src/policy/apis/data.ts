/**
 * Rules of the data-plane APIs naming topics and partitions: Produce, ListOffsets,
 * OffsetForLeaderEpoch, DescribeProducers, DeleteRecords (Fetch is in fetch.ts).
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import * as produceRes from '../../../protocol/generated/produce-response.js';
import * as listOffsetsRes from '../../../protocol/generated/list-offsets-response.js';
import * as epochRes from '../../../protocol/generated/offset-for-leader-epoch-response.js';
import * as producersRes from '../../../protocol/generated/describe-producers-response.js';
import * as deleteRecordsRes from '../../../protocol/generated/delete-records-response.js';
import { ALLOW, Errors, can, idsOf, namedTopics, onCluster, perTopicRule, topicSplit, type TopicRule } from './helpers.js';
import type { ApiRule } from './types.js';

export const PRODUCE: TopicRule = {
  apiKey: ApiKey.Produce,
  op: 'Write',
  req: { list: 'topicData', name: 'name', id: 'topicId', parts: 'partitionData', part: 'index' },
  res: {
    list: 'responses',
    name: 'name',
    id: 'topicId',
    parts: 'partitionResponses',
    part: 'index',
    topic: produceRes.defaultTopicProduceResponse,
    partition: produceRes.defaultPartitionProduceResponse,
    deniedPartition: { baseOffset: -1n },
  },
  byId: (v) => v >= 13,
};

/**
 * Produce: a transactional producer needs Write on its transactional id (else every partition
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED); each topic needs Write. With acks=0 a split still
 * forwards the allowed part (the broker does not answer; merge is never called).
 */
export const produceRule: ApiRule = {
  apiKey: ApiKey.Produce,
  topicIds: (req, v) => (v >= 13 ? idsOf(req, PRODUCE.req) : []),
  authorize(req, ctx) {
    const txn: string | null = req.transactionalId;
    const all = txn !== null && !can(ctx, 'transactionalId', txn, 'Write') ? Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : 0;
    return topicSplit(req, ctx, PRODUCE, { all });
  },
};

export const LIST_OFFSETS = namedTopics(ApiKey.ListOffsets, 'Describe', listOffsetsRes.defaultListOffsetsTopicResponse, listOffsetsRes.defaultListOffsetsPartitionResponse);

/** ListOffsets: Describe on each topic (Kafka does not check the replica id here). */
export const listOffsetsRule: ApiRule = perTopicRule(LIST_OFFSETS);

export const OFFSET_FOR_LEADER_EPOCH = namedTopics(
  ApiKey.OffsetForLeaderEpoch,
  'Describe',
  epochRes.defaultOffsetForLeaderTopicResult,
  epochRes.defaultEpochEndOffset,
  { name: 'topic', part: 'partition' },
  { name: 'topic', part: 'partition' },
);

/**
 * OffsetForLeaderEpoch: as Kafka, ClusterAction on the cluster covers every topic; it is asked
 * only for a follower's request (replicaId >= 0, v3+), a consumer's (replicaId -1 or -2, or v0-2)
 * needs Describe on each topic.
 */
export const offsetForLeaderEpochRule: ApiRule = {
  apiKey: ApiKey.OffsetForLeaderEpoch,
  authorize(req, ctx) {
    if (ctx.version >= 3 && req.replicaId >= 0 && onCluster(ctx, 'ClusterAction')) return ALLOW;
    return topicSplit(req, ctx, OFFSET_FOR_LEADER_EPOCH);
  },
};

export const DESCRIBE_PRODUCERS = namedTopics(ApiKey.DescribeProducers, 'Read', producersRes.defaultTopicResponse, producersRes.defaultPartitionResponse, { parts: 'partitionIndexes', part: undefined });

/** DescribeProducers: Read on each topic (KIP-664). */
export const describeProducersRule: ApiRule = perTopicRule(DESCRIBE_PRODUCERS);

export const DELETE_RECORDS = namedTopics(ApiKey.DeleteRecords, 'Delete', deleteRecordsRes.defaultDeleteRecordsTopicResult, deleteRecordsRes.defaultDeleteRecordsPartitionResult, {}, { deniedPartition: { lowWatermark: -1n } });

/** DeleteRecords: Delete on each topic. */
export const deleteRecordsRule: ApiRule = perTopicRule(DELETE_RECORDS);
