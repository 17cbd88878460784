import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import * as shareFetchReq from '../../../protocol/generated/share-fetch-request.js';
import * as shareAckReq from '../../../protocol/generated/share-acknowledge-request.js';
import * as streamsReq from '../../../protocol/generated/streams-group-heartbeat-request.js';
import * as shareDescribeRes from '../../../protocol/generated/share-group-describe-response.js';
import * as streamsDescribeRes from '../../../protocol/generated/streams-group-describe-response.js';
import * as alterShareReq from '../../../protocol/generated/alter-share-group-offsets-request.js';
import * as describeShareReq from '../../../protocol/generated/describe-share-group-offsets-request.js';
import * as describeShareRes from '../../../protocol/generated/describe-share-group-offsets-response.js';
import * as deleteShareRes from '../../../protocol/generated/delete-share-group-offsets-response.js';
import { ErrorCode } from '../model.js';
import { ALTER_SHARE_OFFSETS, SHARE_ACKNOWLEDGE, SHARE_FETCH } from './share-streams.js';
import { ID_B, IDS, denyOnly, entryCodes, flatRuleCases, run, topicCodes, topicRuleCases, topicsFor, versions, wholeRuleCases } from './test-kit.js';

type Obj = Record<string, any>;
const G = ErrorCode.GROUP_AUTHORIZATION_FAILED;
const T = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
const withGroup = { fields: () => ({ groupId: 'g' }), before: () => ['Read group:g'] };

topicRuleCases('ShareFetch', { rule: SHARE_FETCH, topic: shareFetchReq.defaultFetchTopic, partition: shareFetchReq.defaultFetchPartition, ...withGroup }, versions(ApiKey.ShareFetch));
wholeRuleCases(ApiKey.ShareFetch, ['Read group:g'], G, versions(ApiKey.ShareFetch), { fields: () => ({ groupId: 'g' }) });
topicRuleCases('ShareAcknowledge', { rule: SHARE_ACKNOWLEDGE, topic: shareAckReq.defaultAcknowledgeTopic, partition: shareAckReq.defaultAcknowledgePartition, ...withGroup }, versions(ApiKey.ShareAcknowledge));
wholeRuleCases(ApiKey.ShareAcknowledge, ['Read group:g'], G, versions(ApiKey.ShareAcknowledge), { fields: () => ({ groupId: 'g' }) });

describe('ShareFetch topic ids', () => {
  it('asks the stage to resolve the forgotten topics too', () => {
    const fgt = { ...shareFetchReq.defaultForgottenTopic(), topicId: Object.keys(IDS)[1]!, partitions: [0] };
    const req = { ...shareFetchReq.defaultShareFetchRequest(), topics: [{ ...shareFetchReq.defaultFetchTopic(), topicId: Object.keys(IDS)[0]! }], forgottenTopicsData: [fgt] };
    expect(run(ApiKey.ShareFetch, 1, req, { ids: IDS }).outcome.kind).toBe('allow');
  });
});

describe('ShareGroupHeartbeat and StreamsGroupHeartbeat', () => {
  it.each(versions(ApiKey.ShareGroupHeartbeat))('ShareGroupHeartbeat v%i: Read group, Describe subscribed topics', (v) => {
    expect(run(ApiKey.ShareGroupHeartbeat, v, { groupId: 'g', subscribedTopicNames: ['a'] }).asked).toEqual(['Read group:g', 'Describe topic:a']);
    expect(run(ApiKey.ShareGroupHeartbeat, v, { groupId: 'g', subscribedTopicNames: ['a'] }, { decide: denyOnly('Read group:g') }).response!.errorCode).toBe(G);
    expect(run(ApiKey.ShareGroupHeartbeat, v, { groupId: 'g', subscribedTopicNames: ['a'] }, { decide: denyOnly('Describe topic:a') }).response!.errorCode).toBe(T);
  });
  const topology = {
    ...streamsReq.defaultTopology(),
    subtopologies: [
      {
        ...streamsReq.defaultSubtopology(),
        sourceTopics: ['in'],
        repartitionSinkTopics: ['rep'],
        stateChangelogTopics: [{ ...streamsReq.defaultTopicInfo(), name: 'log' }],
        repartitionSourceTopics: [{ ...streamsReq.defaultTopicInfo(), name: 'rep' }],
      },
    ],
  };
  it.each(versions(ApiKey.StreamsGroupHeartbeat))('StreamsGroupHeartbeat v%i: Read group, Describe every topology topic', (v) => {
    expect(run(ApiKey.StreamsGroupHeartbeat, v, { groupId: 'g', topology }).asked).toEqual(['Read group:g', 'Describe topic:in', 'Describe topic:rep', 'Describe topic:log']);
    expect(run(ApiKey.StreamsGroupHeartbeat, v, { groupId: 'g' }).asked).toEqual(['Read group:g']);
    const r = run(ApiKey.StreamsGroupHeartbeat, v, { groupId: 'g', topology }, { decide: denyOnly('Describe topic:log') });
    expect(r.response!.errorCode).toBe(T);
    expect(run(ApiKey.StreamsGroupHeartbeat, v, { groupId: 'g', topology }, { decide: denyOnly('Read group:g') }).response!.errorCode).toBe(G);
  });
});

for (const [apiKey, result] of [
  [ApiKey.ShareGroupDescribe, shareDescribeRes.defaultDescribedGroup],
  [ApiKey.StreamsGroupDescribe, streamsDescribeRes.defaultDescribedGroup],
] as const) {
  flatRuleCases(
    `API ${apiKey} describe`,
    { apiKey, list: 'groupIds', item: (n) => n, resList: 'groups', resName: 'groupId', result, action: (n) => `Describe group:${n}`, code: G, allowed: 'filter' },
    versions(apiKey),
  );
}
describe('ShareGroupDescribe topics', () => {
  it('a group whose members are assigned a topic the principal may not Describe → TOPIC_AUTHORIZATION_FAILED', () => {
    const member = { ...shareDescribeRes.defaultMember(), assignment: { topicPartitions: [{ ...shareDescribeRes.defaultTopicPartitions(), topicName: 'secret', partitions: [0] }] } };
    const r = run(ApiKey.ShareGroupDescribe, 1, { groupIds: ['g', 'h'] }, {
      decide: denyOnly('Describe topic:secret'),
      broker: () => ({ ...shareDescribeRes.defaultShareGroupDescribeResponse(), groups: [{ ...shareDescribeRes.defaultDescribedGroup(), groupId: 'g', members: [member] }, { ...shareDescribeRes.defaultDescribedGroup(), groupId: 'h' }] }),
    });
    expect(entryCodes({ resList: 'groups', resName: 'groupId' }, r.merged!)).toEqual([
      ['g', T],
      ['h', 0],
    ]);
  });
});

topicRuleCases(
  'AlterShareGroupOffsets',
  { rule: ALTER_SHARE_OFFSETS, topic: alterShareReq.defaultAlterShareGroupOffsetsRequestTopic, partition: alterShareReq.defaultAlterShareGroupOffsetsRequestPartition, ...withGroup },
  versions(ApiKey.AlterShareGroupOffsets),
);
wholeRuleCases(ApiKey.AlterShareGroupOffsets, ['Read group:g'], G, versions(ApiKey.AlterShareGroupOffsets), { fields: () => ({ groupId: 'g' }) });

flatRuleCases(
  'DeleteShareGroupOffsets',
  {
    apiKey: ApiKey.DeleteShareGroupOffsets,
    list: 'topics',
    item: (topicName) => ({ topicName }),
    resList: 'responses',
    resName: 'topicName',
    result: deleteShareRes.defaultDeleteShareGroupOffsetsResponseTopic,
    action: (n) => `Read topic:${n}`,
    code: T,
    fields: () => ({ groupId: 'g' }),
    before: ['Delete group:g'],
  },
  versions(ApiKey.DeleteShareGroupOffsets),
);
wholeRuleCases(ApiKey.DeleteShareGroupOffsets, ['Delete group:g'], G, versions(ApiKey.DeleteShareGroupOffsets), { fields: () => ({ groupId: 'g' }) });

describe('DescribeShareGroupOffsets', () => {
  const group = (groupId: string, names: string[] | null) => ({
    ...describeShareReq.defaultDescribeShareGroupOffsetsRequestGroup(),
    groupId,
    topics: names && names.map((topicName) => ({ ...describeShareReq.defaultDescribeShareGroupOffsetsRequestTopic(), topicName, partitions: [0] })),
  });
  const answer = (fwd: Obj | undefined): Obj => ({
    ...describeShareRes.defaultDescribeShareGroupOffsetsResponse(),
    groups: ((fwd?.groups ?? []) as Obj[]).map((g) => ({
      ...describeShareRes.defaultDescribeShareGroupOffsetsResponseGroup(),
      groupId: g.groupId,
      topics: ['a', 'b'].map((topicName) => ({ ...describeShareRes.defaultDescribeShareGroupOffsetsResponseTopic(), topicName, partitions: [{ ...describeShareRes.defaultDescribeShareGroupOffsetsResponsePartition(), startOffset: 5n }] })),
    })),
  });
  it.each(versions(ApiKey.DescribeShareGroupOffsets))('v%i: denied group in place, denied topic rewritten, all-topics filtered', (v) => {
    const r = run(ApiKey.DescribeShareGroupOffsets, v, { groups: [group('g1', ['a', 'b']), group('g2', null), group('g3', null)] }, { decide: denyOnly('Describe group:g3', 'Describe topic:b'), broker: answer });
    expect(r.outcome.kind).toBe('split');
    expect((r.merged!.groups as Obj[]).map((g) => [g.groupId, g.errorCode, (g.topics as Obj[]).map((t) => [t.topicName, t.partitions[0].errorCode])])).toEqual([
      ['g1', 0, [['a', 0], ['b', T]]],
      ['g2', 0, [['a', 0]]],
      ['g3', G, []],
    ]);
  });
  it.each(versions(ApiKey.DescribeShareGroupOffsets))('v%i: everything allowed → allow', (v) => {
    expect(run(ApiKey.DescribeShareGroupOffsets, v, { groups: [group('g1', ['a'])] }).outcome.kind).toBe('allow');
  });
});

describe('ShareFetch share sessions', () => {
  it.each(versions(ApiKey.ShareFetch))('v%i: an incremental ShareFetch re-authorizes the session; a revoked topic is forgotten upstream and answered', (v) => {
    const state = new Map<string, unknown>();
    const topics = (names: string[]) => topicsFor({ rule: SHARE_FETCH, topic: shareFetchReq.defaultFetchTopic, partition: shareFetchReq.defaultFetchPartition }, v, names);
    const open = run(ApiKey.ShareFetch, v, { groupId: 'g', shareSessionEpoch: 0, topics: topics(['a', 'b']) }, { ids: IDS, state });
    expect(open.outcome.kind).toBe('allow');
    const next = run(ApiKey.ShareFetch, v, { groupId: 'g', shareSessionEpoch: 1, topics: [] }, { ids: IDS, state, decide: denyOnly('Read topic:b') });
    expect(next.authorizeAsked).toEqual(['Read group:g', 'Read topic:a', 'Read topic:b']);
    expect(next.outcome.kind).toBe('split');
    expect(next.forwarded!.forgottenTopicsData).toEqual([{ topicId: ID_B, partitions: [0, 1] }]);
    expect(topicCodes(SHARE_FETCH, next.merged!, v)).toEqual([['b', [T, T]]]);
  });
});
