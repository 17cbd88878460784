import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import { ZERO_UUID } from '../../../protocol/runtime/index.js';
import * as createTopicsReq from '../../../protocol/generated/create-topics-request.js';
import * as createTopicsRes from '../../../protocol/generated/create-topics-response.js';
import * as deleteTopicsRes from '../../../protocol/generated/delete-topics-response.js';
import * as createPartitionsReq from '../../../protocol/generated/create-partitions-request.js';
import * as createPartitionsRes from '../../../protocol/generated/create-partitions-response.js';
import * as describeConfigsRes from '../../../protocol/generated/describe-configs-response.js';
import * as alterConfigsRes from '../../../protocol/generated/alter-configs-response.js';
import * as incrementalRes from '../../../protocol/generated/incremental-alter-configs-response.js';
import { ErrorCode } from '../model.js';
import { Errors } from './helpers.js';
import { ID_A, ID_UNKNOWN, IDS, denyOnly, flatRuleCases, run, versions } from './test-kit.js';

type Obj = Record<string, any>;
const T = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
const noClusterCreate = denyOnly('Create cluster:kafka-cluster');

flatRuleCases(
  'CreateTopics (no Create on the cluster)',
  {
    apiKey: ApiKey.CreateTopics,
    list: 'topics',
    item: (name) => ({ ...createTopicsReq.defaultCreatableTopic(), name }),
    resList: 'topics',
    resName: 'name',
    result: createTopicsRes.defaultCreatableTopicResult,
    action: (n) => `Create topic:${n}`,
    code: T,
    before: ['Create cluster:kafka-cluster'],
    base: noClusterCreate,
    allowed: (v) => (v >= 5 ? 'filter' : 'allow'),
  },
  versions(ApiKey.CreateTopics),
);
describe('CreateTopics with Create on the cluster', () => {
  it.each(versions(ApiKey.CreateTopics))('v%i: covers every topic', (v) => {
    const r = run(ApiKey.CreateTopics, v, { topics: [{ ...createTopicsReq.defaultCreatableTopic(), name: 'a' }] });
    expect(r.outcome.kind).toBe(v >= 5 ? 'filter' : 'allow');
    expect(r.asked).toEqual(['Create cluster:kafka-cluster']);
  });
  it.each(versions(ApiKey.CreateTopics))('v%i: does not cover a protected topic: asked on the topic (refused), answered TOPIC_AUTHORIZATION_FAILED, the rest forwarded', (v) => {
    const topic = (name: string) => ({ ...createTopicsReq.defaultCreatableTopic(), name, configs: [{ name: 'retention.ms', value: '1000' }] });
    const r = run(ApiKey.CreateTopics, v, { topics: [topic('audit-trail'), topic('a'), topic('__gatehouse_x')] }, {
      broker: (fwd) => ({ ...createTopicsRes.defaultCreateTopicsResponse(), topics: (fwd!.topics as Obj[]).map((t) => ({ ...createTopicsRes.defaultCreatableTopicResult(), name: t.name })) }),
    });
    expect(r.outcome.kind).toBe('split');
    expect(r.asked.slice(0, 3)).toEqual(['Create cluster:kafka-cluster', 'Create topic:audit-trail', 'Create topic:__gatehouse_x']);
    expect((r.forwarded!.topics as Obj[]).map((t) => t.name)).toEqual(['a']);
    expect((r.merged!.topics as Obj[]).map((t) => [t.name, t.errorCode])).toEqual([
      ['audit-trail', T],
      ['a', 0],
      ['__gatehouse_x', T],
    ]);
    const alone = run(ApiKey.CreateTopics, v, { topics: [topic('audit-trail')] });
    expect(alone.outcome.kind).toBe('deny');
    expect((alone.response!.topics as Obj[]).map((t) => [t.name, t.errorCode])).toEqual([['audit-trail', T]]);
  });
  it.each(versions(ApiKey.CreateTopics, 5))('v%i: configs of a created topic only with DescribeConfigs on it', (v) => {
    const created = (name: string) => ({ ...createTopicsRes.defaultCreatableTopicResult(), name, numPartitions: 1, replicationFactor: 1, configs: [{ ...createTopicsRes.defaultCreatableTopicConfigs(), name: 'retention.ms', value: '1' }] });
    const r = run(ApiKey.CreateTopics, v, { topics: ['a', 'b'].map((name) => ({ ...createTopicsReq.defaultCreatableTopic(), name })) }, {
      decide: denyOnly('DescribeConfigs topic:b'),
      broker: () => ({ ...createTopicsRes.defaultCreateTopicsResponse(), topics: [created('a'), created('b')] }),
    });
    expect((r.merged!.topics as Obj[]).map((t) => [t.name, t.errorCode, t.topicConfigErrorCode, t.configs.length])).toEqual([
      ['a', 0, 0, 1],
      ['b', 0, T, 0],
    ]);
  });
});

flatRuleCases(
  'DeleteTopics by name (v0-5)',
  { apiKey: ApiKey.DeleteTopics, list: 'topicNames', item: (n) => n, resList: 'responses', resName: 'name', result: deleteTopicsRes.defaultDeletableTopicResult, action: (n) => `Delete topic:${n}`, code: T },
  versions(ApiKey.DeleteTopics, 0, 5),
);
flatRuleCases(
  'DeleteTopics by name (v6+)',
  { apiKey: ApiKey.DeleteTopics, list: 'topics', item: (name) => ({ name, topicId: ZERO_UUID }), resList: 'responses', resName: 'name', result: deleteTopicsRes.defaultDeletableTopicResult, action: (n) => `Delete topic:${n}`, code: T },
  versions(ApiKey.DeleteTopics, 6),
);
describe('DeleteTopics by id (v6+)', () => {
  it.each(versions(ApiKey.DeleteTopics, 6))('v%i: ids resolved; an unknown id UNKNOWN_TOPIC_ID; matched back by id', (v) => {
    const topics = [
      { name: null, topicId: ID_UNKNOWN },
      { name: null, topicId: ID_A },
    ];
    const r = run(ApiKey.DeleteTopics, v, { topics }, {
      ids: IDS,
      broker: (fwd) => ({ ...deleteTopicsRes.defaultDeleteTopicsResponse(), responses: (fwd!.topics as Obj[]).map((t) => ({ ...deleteTopicsRes.defaultDeletableTopicResult(), name: IDS[t.topicId], topicId: t.topicId })) }),
    });
    expect(r.asked).toEqual(['Delete topic:a']);
    expect(r.outcome.kind).toBe('split');
    expect((r.merged!.responses as Obj[]).map((e) => [e.topicId, e.name, e.errorCode])).toEqual([
      [ID_UNKNOWN, null, ErrorCode.UNKNOWN_TOPIC_ID],
      [ID_A, 'a', 0],
    ]);
  });
});

flatRuleCases(
  'CreatePartitions',
  {
    apiKey: ApiKey.CreatePartitions,
    list: 'topics',
    item: (name) => ({ ...createPartitionsReq.defaultCreatePartitionsTopic(), name, count: 3, assignments: null }),
    resList: 'results',
    resName: 'name',
    result: createPartitionsRes.defaultCreatePartitionsTopicResult,
    action: (n) => `Alter topic:${n}`,
    code: T,
  },
  versions(ApiKey.CreatePartitions),
);

describe('the other APIs that change a topic refuse a protected one whatever else is allowed', () => {
  const named = (names: string[]) => names.map((name) => ({ ...createPartitionsReq.defaultCreatePartitionsTopic(), name, count: 3, assignments: null }));
  it.each(versions(ApiKey.CreatePartitions))('CreatePartitions v%i', (v) => {
    const r = run(ApiKey.CreatePartitions, v, { topics: named(['audit-trail']) });
    expect(r.outcome.kind).toBe('deny');
    expect((r.response!.results as Obj[]).map((e) => [e.name, e.errorCode])).toEqual([['audit-trail', T]]);
  });
  it.each(versions(ApiKey.DeleteTopics, 0, 5))('DeleteTopics v%i', (v) => {
    const r = run(ApiKey.DeleteTopics, v, { topicNames: ['__gatehouse_audit'] });
    expect(r.outcome.kind).toBe('deny');
    expect((r.response!.responses as Obj[]).map((e) => [e.name, e.errorCode])).toEqual([['__gatehouse_audit', T]]);
  });
  for (const [apiKey, resList] of [[ApiKey.AlterConfigs, 'responses'], [ApiKey.IncrementalAlterConfigs, 'responses']] as const) {
    it.each(versions(apiKey))(`API ${apiKey} v%i on the topic`, (v) => {
      const r = run(apiKey, v, { resources: [{ resourceType: 2, resourceName: 'audit-trail', configs: [] }] });
      expect(r.outcome.kind).toBe('deny');
      expect((r.response![resList] as Obj[]).map((e) => [e.resourceName, e.errorCode])).toEqual([['audit-trail', T]]);
    });
  }
});

const configApis = [
  [ApiKey.DescribeConfigs, 'DescribeConfigs', 'results', describeConfigsRes.defaultDescribeConfigsResult, { configurationKeys: null }],
  [ApiKey.AlterConfigs, 'AlterConfigs', 'responses', alterConfigsRes.defaultAlterConfigsResourceResponse, { configs: [] }],
  [ApiKey.IncrementalAlterConfigs, 'AlterConfigs', 'responses', incrementalRes.defaultAlterConfigsResourceResponse, { configs: [] }],
] as const;

for (const [apiKey, op, resList, result, extra] of configApis) {
  const resource = (resourceType: number, resourceName: string) => ({ resourceType, resourceName, ...extra });
  flatRuleCases(
    `API ${apiKey} on topics`,
    { apiKey, list: 'resources', item: (n) => resource(2, n), resList, resName: 'resourceName', result, action: (n) => `${op} topic:${n}`, code: T },
    versions(apiKey),
  );
  describe(`API ${apiKey} resource types`, () => {
    it.each(versions(apiKey))(`v%i: broker, broker-logger and client-metrics → ${op} on the cluster; group → on the group; unknown type → INVALID_REQUEST`, (v) => {
      const resources = [resource(4, '1'), resource(8, '1'), resource(16, 'm'), resource(32, 'x'), resource(2, 'x'), resource(99, 'z')];
      const r = run(apiKey, v, { resources }, {
        decide: denyOnly(`${op} cluster:kafka-cluster`, `${op} group:x`),
        broker: (fwd) => ({ ...(result() as Obj), throttleTimeMs: 0, [resList]: (fwd!.resources as Obj[]).map((x) => ({ ...result(), resourceType: x.resourceType, resourceName: x.resourceName })) }),
      });
      expect(r.outcome.kind).toBe('split');
      expect(r.forwarded!.resources).toEqual([resource(2, 'x')]);
      expect((r.merged![resList] as Obj[]).map((e) => [e.resourceType, e.resourceName, e.errorCode])).toEqual([
        [4, '1', ErrorCode.CLUSTER_AUTHORIZATION_FAILED],
        [8, '1', ErrorCode.CLUSTER_AUTHORIZATION_FAILED],
        [16, 'm', ErrorCode.CLUSTER_AUTHORIZATION_FAILED],
        [32, 'x', ErrorCode.GROUP_AUTHORIZATION_FAILED],
        [2, 'x', 0],
        [99, 'z', Errors.INVALID_REQUEST],
      ]);
    });
  });
}
