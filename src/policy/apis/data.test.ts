import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import * as produceReq from '../../../protocol/generated/produce-request.js';
import * as listOffsetsReq from '../../../protocol/generated/list-offsets-request.js';
import * as epochReq from '../../../protocol/generated/offset-for-leader-epoch-request.js';
import * as producersReq from '../../../protocol/generated/describe-producers-request.js';
import * as deleteRecordsReq from '../../../protocol/generated/delete-records-request.js';
import { ErrorCode } from '../model.js';
import { DELETE_RECORDS, DESCRIBE_PRODUCERS, LIST_OFFSETS, OFFSET_FOR_LEADER_EPOCH, PRODUCE } from './data.js';
import { IDS, allowOnly, denyOnly, run, topicCodes, topicRuleCases, topicsFor, versions } from './test-kit.js';

const produce = { rule: PRODUCE, topic: produceReq.defaultTopicProduceData, partition: produceReq.defaultPartitionProduceData, fields: () => ({ acks: -1 }) };
topicRuleCases('Produce', produce, versions(ApiKey.Produce));
topicRuleCases('Produce (acks=0)', { ...produce, fields: () => ({ acks: 0 }) }, [3, 9, 13]);
topicRuleCases('Produce (transactional)', { ...produce, fields: () => ({ acks: -1, transactionalId: 'tx' }), before: () => ['Write transactionalId:tx'] }, versions(ApiKey.Produce, 3));

describe('Produce with a denied transactional id', () => {
  it.each(versions(ApiKey.Produce, 3))('v%i: every partition TRANSACTIONAL_ID_AUTHORIZATION_FAILED, not forwarded', (v) => {
    const r = run(ApiKey.Produce, v, { acks: -1, transactionalId: 'tx', topicData: topicsFor(produce, v, ['a', 'b']) }, { ids: IDS, decide: denyOnly('Write transactionalId:tx') });
    expect(r.outcome.kind).toBe('deny');
    expect(r.outcome.kind === 'deny' && r.outcome.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const code = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    expect(topicCodes(PRODUCE, r.response!, v)).toEqual([
      ['a', [code, code]],
      ['b', [code, code]],
    ]);
  });
});

topicRuleCases('ListOffsets', { rule: LIST_OFFSETS, topic: listOffsetsReq.defaultListOffsetsTopic, partition: listOffsetsReq.defaultListOffsetsPartition }, versions(ApiKey.ListOffsets));
topicRuleCases(
  'OffsetForLeaderEpoch (consumer)',
  { rule: OFFSET_FOR_LEADER_EPOCH, topic: epochReq.defaultOffsetForLeaderTopic, partition: epochReq.defaultOffsetForLeaderPartition, fields: () => ({ replicaId: -1 }) },
  versions(ApiKey.OffsetForLeaderEpoch),
);

describe('OffsetForLeaderEpoch (follower)', () => {
  const topics = (v: number) => topicsFor({ rule: OFFSET_FOR_LEADER_EPOCH, topic: epochReq.defaultOffsetForLeaderTopic, partition: epochReq.defaultOffsetForLeaderPartition }, v, ['a']);
  it.each(versions(ApiKey.OffsetForLeaderEpoch, 3))('v%i: ClusterAction covers every topic', (v) => {
    const r = run(ApiKey.OffsetForLeaderEpoch, v, { replicaId: 1, topics: topics(v) }, { decide: allowOnly('ClusterAction cluster:kafka-cluster') });
    expect(r.outcome.kind).toBe('allow');
    expect(r.asked).toEqual(['ClusterAction cluster:kafka-cluster']);
  });
  it.each(versions(ApiKey.OffsetForLeaderEpoch, 3))('v%i: without ClusterAction, Describe per topic', (v) => {
    const r = run(ApiKey.OffsetForLeaderEpoch, v, { replicaId: 1, topics: topics(v) }, { decide: allowOnly() });
    expect(r.outcome.kind).toBe('deny');
    expect(r.asked).toEqual(['ClusterAction cluster:kafka-cluster', 'Describe topic:a']);
  });
});

topicRuleCases('DescribeProducers', { rule: DESCRIBE_PRODUCERS, topic: producersReq.defaultTopicRequest }, versions(ApiKey.DescribeProducers));
topicRuleCases('DeleteRecords', { rule: DELETE_RECORDS, topic: deleteRecordsReq.defaultDeleteRecordsTopic, partition: deleteRecordsReq.defaultDeleteRecordsPartition }, versions(ApiKey.DeleteRecords));
