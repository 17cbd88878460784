import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import * as offsetCommitReq from '../../../protocol/generated/offset-commit-request.js';
import * as offsetFetchReq from '../../../protocol/generated/offset-fetch-request.js';
import * as offsetFetchRes from '../../../protocol/generated/offset-fetch-response.js';
import * as offsetDeleteReq from '../../../protocol/generated/offset-delete-request.js';
import * as findCoordinatorRes from '../../../protocol/generated/find-coordinator-response.js';
import * as describeGroupsRes from '../../../protocol/generated/describe-groups-response.js';
import * as deleteGroupsRes from '../../../protocol/generated/delete-groups-response.js';
import * as listGroupsRes from '../../../protocol/generated/list-groups-response.js';
import * as cgDescribeRes from '../../../protocol/generated/consumer-group-describe-response.js';
import { ErrorCode } from '../model.js';
import { OFFSET_COMMIT, OFFSET_DELETE } from './groups.js';
import { ID_A, IDS, allowOnly, denyOnly, entryCodes, flatRuleCases, run, topicCodes, topicRuleCases, topicsFor, versions, wholeRuleCases } from './test-kit.js';

type Obj = Record<string, any>;
const G = ErrorCode.GROUP_AUTHORIZATION_FAILED;
const T = ErrorCode.TOPIC_AUTHORIZATION_FAILED;

for (const apiKey of [ApiKey.JoinGroup, ApiKey.Heartbeat, ApiKey.LeaveGroup, ApiKey.SyncGroup]) {
  wholeRuleCases(apiKey, ['Read group:g'], G, versions(apiKey), { fields: () => ({ groupId: 'g' }) });
}

const commit = { rule: OFFSET_COMMIT, topic: offsetCommitReq.defaultOffsetCommitRequestTopic, partition: offsetCommitReq.defaultOffsetCommitRequestPartition, fields: () => ({ groupId: 'g' }), before: () => ['Read group:g'] };
topicRuleCases('OffsetCommit', commit, versions(ApiKey.OffsetCommit));
describe('OffsetCommit with the group denied', () => {
  it.each(versions(ApiKey.OffsetCommit))('v%i: every partition GROUP_AUTHORIZATION_FAILED', (v) => {
    const r = run(ApiKey.OffsetCommit, v, { groupId: 'g', topics: topicsFor(commit, v, ['a']) }, { ids: IDS, decide: denyOnly('Read group:g') });
    expect(r.outcome.kind).toBe('deny');
    expect(topicCodes(OFFSET_COMMIT, r.response!, v)).toEqual([['a', [G, G]]]);
  });
});

const deleteCase = { rule: OFFSET_DELETE, topic: offsetDeleteReq.defaultOffsetDeleteRequestTopic, partition: offsetDeleteReq.defaultOffsetDeleteRequestPartition, fields: () => ({ groupId: 'g' }), before: () => ['Delete group:g'] };
topicRuleCases('OffsetDelete', deleteCase, versions(ApiKey.OffsetDelete));
wholeRuleCases(ApiKey.OffsetDelete, ['Delete group:g'], G, versions(ApiKey.OffsetDelete), { fields: () => ({ groupId: 'g' }) });

describe('OffsetFetch', () => {
  const v07 = versions(ApiKey.OffsetFetch, 0, 7);
  const topics = (v: number, ...names: string[]) => names.map((name) => ({ ...offsetFetchReq.defaultOffsetFetchRequestTopic(), name, partitionIndexes: [0] }));
  const answer = (...names: string[]) => (): Obj => ({
    ...offsetFetchRes.defaultOffsetFetchResponse(),
    topics: names.map((name) => ({ name, partitions: [{ ...offsetFetchRes.defaultOffsetFetchResponsePartition(), committedOffset: 12n }] })),
  });
  const offsets = (res: Obj) => (res.topics as Obj[]).map((t) => [t.name, t.partitions[0].errorCode, t.partitions[0].committedOffset]);

  it.each(v07)('v%i: group denied → GROUP_AUTHORIZATION_FAILED (top level, and per partition)', (v) => {
    const r = run(ApiKey.OffsetFetch, v, { groupId: 'g', topics: topics(v, 'a') }, { decide: denyOnly('Describe group:g') });
    expect(r.outcome.kind).toBe('deny');
    if (v >= 2) expect(r.response!.errorCode).toBe(G);
    expect(offsets(r.response!)).toEqual([['a', G, -1n]]);
  });
  it.each(v07)('v%i: named topics, one denied → forwarded as is, its offsets replaced by TOPIC_AUTHORIZATION_FAILED', (v) => {
    const r = run(ApiKey.OffsetFetch, v, { groupId: 'g', topics: topics(v, 'a', 'b') }, { decide: denyOnly('Describe topic:b'), broker: answer('a', 'b') });
    expect(r.outcome.kind).toBe('filter');
    expect(r.asked).toEqual(['Describe group:g', 'Describe topic:a', 'Describe topic:b']);
    expect(offsets(r.merged!)).toEqual([
      ['a', 0, 12n],
      ['b', T, -1n],
    ]);
  });
  it.each(v07)('v%i: named topics all allowed → allow', (v) => {
    expect(run(ApiKey.OffsetFetch, v, { groupId: 'g', topics: topics(v, 'a') }).outcome.kind).toBe('allow');
  });
  it.each(versions(ApiKey.OffsetFetch, 2, 7))('v%i: all topics → only describable ones', (v) => {
    const r = run(ApiKey.OffsetFetch, v, { groupId: 'g', topics: null }, { decide: denyOnly('Describe topic:b'), broker: answer('a', 'b') });
    expect(r.outcome.kind).toBe('filter');
    expect(offsets(r.merged!)).toEqual([['a', 0, 12n]]);
  });

  const v8 = versions(ApiKey.OffsetFetch, 8);
  const group = (v: number, groupId: string, names: string[] | null) => ({
    ...offsetFetchReq.defaultOffsetFetchRequestGroup(),
    groupId,
    topics: names && names.map((name) => ({ ...offsetFetchReq.defaultOffsetFetchRequestTopics(), name, topicId: v >= 10 ? Object.keys(IDS).find((id) => IDS[id] === name)! : offsetFetchReq.defaultOffsetFetchRequestTopics().topicId, partitionIndexes: [0] })),
  });
  const groupsAnswer = (v: number) => (fwd: Obj | undefined): Obj => ({
    ...offsetFetchRes.defaultOffsetFetchResponse(),
    groups: ((fwd?.groups ?? []) as Obj[]).map((g) => ({
      ...offsetFetchRes.defaultOffsetFetchResponseGroup(),
      groupId: g.groupId,
      topics: ['a', 'b'].map((name) => ({ ...offsetFetchRes.defaultOffsetFetchResponseTopics(), name, topicId: Object.keys(IDS).find((id) => IDS[id] === name)!, partitions: [{ ...offsetFetchRes.defaultOffsetFetchResponsePartitions(), committedOffset: 12n }] })),
    })),
  });
  it.each(v8)('v%i: a denied group is answered in place, the others forwarded and their topics filtered', (v) => {
    const r = run(ApiKey.OffsetFetch, v, { groups: [group(v, 'g1', null), group(v, 'g2', ['a'])] }, { ids: IDS, decide: denyOnly('Describe group:g2', 'Describe topic:b'), broker: groupsAnswer(v) });
    expect(r.outcome.kind).toBe('split');
    expect((r.forwarded!.groups as Obj[]).map((g) => g.groupId)).toEqual(['g1']);
    expect((r.merged!.groups as Obj[]).map((g) => [g.groupId, g.errorCode, (g.topics as Obj[]).map((t) => (v >= 10 ? IDS[t.topicId] : t.name))])).toEqual([
      ['g1', 0, ['a']],
      ['g2', G, []],
    ]);
  });
  it.each(v8)('v%i: named topics with one denied → filter, the denied topic rewritten', (v) => {
    const r = run(ApiKey.OffsetFetch, v, { groups: [group(v, 'g1', ['a', 'b'])] }, { ids: IDS, decide: denyOnly('Describe topic:b'), broker: groupsAnswer(v) });
    expect(r.outcome.kind).toBe('filter');
    expect((r.merged!.groups[0].topics as Obj[]).map((t) => [t.partitions[0].errorCode, t.partitions[0].committedOffset])).toEqual([
      [0, 12n],
      [T, -1n],
    ]);
  });
  it.each(v8)('v%i: every group denied → deny; everything allowed → allow', (v) => {
    expect(run(ApiKey.OffsetFetch, v, { groups: [group(v, 'g1', ['a'])] }, { ids: IDS, decide: allowOnly() }).outcome.kind).toBe('deny');
    expect(run(ApiKey.OffsetFetch, v, { groups: [group(v, 'g1', ['a'])] }, { ids: IDS }).outcome.kind).toBe('allow');
  });
  it('v10 topic ids are resolved before authorize()', () => {
    const req = { groups: [group(10, 'g1', ['a'])] };
    expect(run(ApiKey.OffsetFetch, 10, req, { ids: IDS }).asked).toEqual(['Describe group:g1', 'Describe topic:a']);
    expect(ID_A in IDS).toBe(true);
  });
});

describe('FindCoordinator', () => {
  const cases: Array<[number, string, number]> = [
    [0, 'Describe group:k', G],
    [1, 'Describe transactionalId:k', ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
    [2, 'ClusterAction cluster:kafka-cluster', ErrorCode.CLUSTER_AUTHORIZATION_FAILED],
  ];
  for (const [keyType, action, code] of cases) {
    const vs = versions(ApiKey.FindCoordinator, keyType === 0 ? 0 : 1, 3);
    it.each(vs)(`v%i: key type ${keyType} → ${action}`, (v) => {
      expect(run(ApiKey.FindCoordinator, v, { key: 'k', keyType }).asked).toEqual([action]);
      const r = run(ApiKey.FindCoordinator, v, { key: 'k', keyType }, { decide: denyOnly(action) });
      expect(r.outcome.kind).toBe('deny');
      if (v >= 1 || keyType === 0) expect(r.response!.errorCode).toBe(code);
      expect(r.response!.nodeId).toBe(-1);
    });
  }
  for (const [keyType, type, code] of [
    [0, 'group', G],
    [1, 'transactionalId', ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
  ] as const) {
    flatRuleCases(
      `FindCoordinator batched (v4+), key type ${keyType}`,
      {
        apiKey: ApiKey.FindCoordinator,
        list: 'coordinatorKeys',
        item: (n) => n,
        resList: 'coordinators',
        resName: 'key',
        result: findCoordinatorRes.defaultCoordinator,
        action: (n) => `Describe ${type}:${n}`,
        code,
        fields: () => ({ keyType }),
      },
      versions(ApiKey.FindCoordinator, 4),
    );
  }
});

flatRuleCases(
  'DescribeGroups',
  { apiKey: ApiKey.DescribeGroups, list: 'groups', item: (n) => n, resList: 'groups', resName: 'groupId', result: describeGroupsRes.defaultDescribedGroup, action: (n) => `Describe group:${n}`, code: G },
  versions(ApiKey.DescribeGroups),
);
describe('DescribeGroups authorized operations', () => {
  it.each(versions(ApiKey.DescribeGroups, 3))('v%i: recomputed for described groups when asked for', (v) => {
    const r = run(ApiKey.DescribeGroups, v, { groups: ['a'], includeAuthorizedOperations: true }, {
      decide: allowOnly('Describe group:a', 'Read group:a'),
      broker: () => ({ ...describeGroupsRes.defaultDescribeGroupsResponse(), groups: [{ ...describeGroupsRes.defaultDescribedGroup(), groupId: 'a' }] }),
    });
    expect(r.outcome.kind).toBe('filter');
    expect(r.merged!.groups[0].authorizedOperations).toBe((1 << 3) | (1 << 8));
  });
});

describe('ListGroups', () => {
  const answer = () => ({ ...listGroupsRes.defaultListGroupsResponse(), groups: ['a', 'b'].map((groupId) => ({ ...listGroupsRes.defaultListedGroup(), groupId })) });
  it.each(versions(ApiKey.ListGroups))('v%i: Describe on the cluster lists all; otherwise only describable groups', (v) => {
    const all = run(ApiKey.ListGroups, v, {});
    expect(all.outcome.kind).toBe('allow');
    expect(all.asked).toEqual(['Describe cluster:kafka-cluster']);
    const some = run(ApiKey.ListGroups, v, {}, { decide: allowOnly('Describe group:b'), broker: answer });
    expect(some.outcome.kind).toBe('filter');
    expect((some.merged!.groups as Obj[]).map((g) => g.groupId)).toEqual(['b']);
  });
});

flatRuleCases(
  'DeleteGroups',
  { apiKey: ApiKey.DeleteGroups, list: 'groupsNames', item: (n) => n, resList: 'results', resName: 'groupId', result: deleteGroupsRes.defaultDeletableGroupResult, action: (n) => `Delete group:${n}`, code: G },
  versions(ApiKey.DeleteGroups),
);

describe('ConsumerGroupHeartbeat (KIP-848)', () => {
  it.each(versions(ApiKey.ConsumerGroupHeartbeat))('v%i: Read on the group, Describe on each subscribed topic', (v) => {
    const ok = run(ApiKey.ConsumerGroupHeartbeat, v, { groupId: 'g', subscribedTopicNames: ['a', 'b'] });
    expect(ok.outcome.kind).toBe('allow');
    expect(ok.asked).toEqual(['Read group:g', 'Describe topic:a', 'Describe topic:b']);
    const noGroup = run(ApiKey.ConsumerGroupHeartbeat, v, { groupId: 'g', subscribedTopicNames: ['a'] }, { decide: denyOnly('Read group:g') });
    expect(noGroup.response!.errorCode).toBe(G);
    const noTopic = run(ApiKey.ConsumerGroupHeartbeat, v, { groupId: 'g', subscribedTopicNames: ['a', 'b'] }, { decide: denyOnly('Describe topic:b') });
    expect(noTopic.outcome.kind).toBe('deny');
    expect(noTopic.response!.errorCode).toBe(T);
    expect(noTopic.response!.errorMessage).toContain('b');
    expect(run(ApiKey.ConsumerGroupHeartbeat, v, { groupId: 'g', subscribedTopicNames: null }).asked).toEqual(['Read group:g']);
  });
});

const cgDescribe = { apiKey: ApiKey.ConsumerGroupDescribe, list: 'groupIds', item: (n: string) => n, resList: 'groups', resName: 'groupId', result: cgDescribeRes.defaultDescribedGroup, action: (n: string) => `Describe group:${n}`, code: G, allowed: 'filter' as const };
flatRuleCases('ConsumerGroupDescribe', cgDescribe, versions(ApiKey.ConsumerGroupDescribe));
describe('ConsumerGroupDescribe topics', () => {
  it.each(versions(ApiKey.ConsumerGroupDescribe))('v%i: a group using a topic the principal may not Describe → TOPIC_AUTHORIZATION_FAILED', (v) => {
    const member = { ...cgDescribeRes.defaultMember(), subscribedTopicNames: ['a'], assignment: { topicPartitions: [{ ...cgDescribeRes.defaultTopicPartitions(), topicName: 'b', partitions: [0] }] } };
    const r = run(ApiKey.ConsumerGroupDescribe, v, { groupIds: ['g'], includeAuthorizedOperations: true }, {
      decide: denyOnly('Describe topic:b'),
      broker: () => ({ ...cgDescribeRes.defaultConsumerGroupDescribeResponse(), groups: [{ ...cgDescribeRes.defaultDescribedGroup(), groupId: 'g', members: [member] }] }),
    });
    expect(entryCodes(cgDescribe, r.merged!)).toEqual([['g', T]]);
    expect(r.merged!.groups[0].members).toEqual([]);
  });
});
