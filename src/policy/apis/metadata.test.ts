import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import * as metadataRes from '../../../protocol/generated/metadata-response.js';
import * as dtpRes from '../../../protocol/generated/describe-topic-partitions-response.js';
import { ZERO_UUID } from '../../../protocol/runtime/index.js';
import { ErrorCode } from '../model.js';
import { OPS_OMITTED } from './helpers.js';
import { ruleFor, topicIdsFromMetadata } from './index.js';
import { ID_A, ID_B, ID_UNKNOWN, IDS, allowOnly, denyOnly, fakeContext, requestAt, run, versions } from './test-kit.js';

type Obj = Record<string, any>;
const ID_OF: Record<string, string> = { a: ID_A, b: ID_B, c: ID_UNKNOWN };

const brokerTopics = (names: string[]) => (): Obj => ({
  ...metadataRes.defaultMetadataResponse(),
  throttleTimeMs: 5,
  brokers: [{ nodeId: 1, host: 'h', port: 9092, rack: null }],
  topics: names.map((name) => ({ ...metadataRes.defaultMetadataResponseTopic(), name, topicId: ID_OF[name], partitions: [{ ...metadataRes.defaultMetadataResponsePartition(), partitionIndex: 0 }] })),
});
/** The broker answers what was forwarded (all topics when none named on v0 / null). */
const echo = (v: number) => (fwd: Obj | undefined): Obj => {
  const asked: Obj[] | null = fwd ? fwd.topics : null;
  const names = asked === null || (v === 0 && asked.length === 0) ? ['a', 'b', 'c'] : asked.map((t) => t.name ?? IDS[t.topicId]);
  return brokerTopics(names)();
};
const named = (...names: string[]) => names.map((name) => ({ topicId: ZERO_UUID, name }));
const summary = (res: Obj) => (res.topics as Obj[]).map((t) => [t.name, t.errorCode, t.partitions.length]);

describe('Metadata', () => {
  it.each(versions(ApiKey.Metadata))('v%i: all topics → the answer keeps only describable topics', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: v === 0 ? [] : null }, { decide: denyOnly('Describe topic:b'), broker: echo(v) });
    expect(r.outcome.kind).toBe('filter');
    expect(summary(r.merged!)).toEqual([
      ['a', 0, 1],
      ['c', 0, 1],
    ]);
    expect(r.merged!.brokers.length).toBe(1);
  });

  it.each(versions(ApiKey.Metadata))('v%i: named topics all allowed → allow', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: named('a', 'b') });
    expect(r.outcome.kind).toBe('allow');
    expect(r.asked.slice(0, 2)).toEqual(['Describe topic:a', 'Describe topic:b']);
    // v0-3 always ask the broker to auto-create; v4+ by default (allowAutoTopicCreation true).
    expect(r.asked.slice(2)).toEqual(['Create cluster:kafka-cluster']);
  });

  it.each(versions(ApiKey.Metadata))('v%i: a denied named topic is not forwarded and answered TOPIC_AUTHORIZATION_FAILED in place', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: named('b', 'a') }, { decide: denyOnly('Describe topic:b'), broker: echo(v) });
    expect(r.outcome.kind).toBe('split');
    expect(r.forwarded!.topics.map((t: Obj) => t.name)).toEqual(['a']);
    expect(summary(r.merged!)).toEqual([
      ['b', ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0],
      ['a', 0, 1],
    ]);
    expect(r.merged!.topics[0].isInternal).toBe(false);
    if (v >= 3) expect(r.merged!.throttleTimeMs).toBe(5);
  });

  it.each(versions(ApiKey.Metadata))('v%i: every named topic denied → still forwarded for the brokers, answer only the denied entries', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: named('a', 'b') }, { decide: denyOnly('Describe topic:a', 'Describe topic:b'), broker: echo(v) });
    expect(r.outcome.kind).toBe('split');
    expect(r.forwarded!.topics).toEqual([]);
    // v0 forwarding no topic asks for all: the answer must still show only what was asked
    expect(summary(r.merged!)).toEqual([
      ['a', ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0],
      ['b', ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0],
    ]);
    expect(r.merged!.brokers.length).toBe(1);
  });

  it.each(versions(ApiKey.Metadata, 4))('v%i: auto-creation without Create is turned off upstream', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: named('a'), allowAutoTopicCreation: true }, { decide: allowOnly('Describe topic:a'), broker: echo(v) });
    expect(r.outcome.kind).toBe('split');
    expect(r.outcome.kind === 'split' && r.outcome.errorCode).toBe(0);
    expect(r.forwarded!.allowAutoTopicCreation).toBe(false);
    expect(r.asked).toEqual(['Describe topic:a', 'Create cluster:kafka-cluster', 'Create topic:a']);
    expect(summary(r.merged!)).toEqual([['a', 0, 1]]);
  });

  it.each(versions(ApiKey.Metadata, 4))('v%i: auto-creation with Create on the topic stays on', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: named('a'), allowAutoTopicCreation: true }, { decide: allowOnly('Describe topic:a', 'Create topic:a') });
    expect(r.outcome.kind).toBe('allow');
  });

  it.each(versions(ApiKey.Metadata, 4))('v%i: auto-creation of a protected topic stays off even with Create on the cluster', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: named('a', '__gatehouse_x'), allowAutoTopicCreation: true }, { broker: brokerTopics(['a']) });
    expect(r.outcome.kind).toBe('split');
    expect(r.forwarded!.allowAutoTopicCreation).toBe(false);
    expect(r.asked).toEqual(['Describe topic:a', 'Describe topic:__gatehouse_x', 'Create topic:__gatehouse_x']);
  });

  describe('v0-3 cannot turn auto-creation off', () => {
    const allTopics = (v: number) => (fwd: Obj | undefined): Obj => {
      // The broker answers a request for every topic with every topic, and a named one with those named.
      const asked: Obj[] | null = fwd!.topics;
      expect(asked === null || (v === 0 && asked.length === 0)).toBe(true);
      return brokerTopics(['c', 'a', 'b'])();
    };

    it.each(versions(ApiKey.Metadata, 0, 3))('v%i: without Create, asked as a request for every topic (which never creates one); the named topics picked from the answer', (v) => {
      const r = run(ApiKey.Metadata, v, { topics: named('missing', 'a', 'b', 'bad name!', 'a') }, { decide: denyOnly('Describe topic:b', 'Create cluster:kafka-cluster', 'Create topic:missing'), broker: allTopics(v) });
      expect(r.outcome.kind).toBe('split');
      expect(r.forwarded!.topics).toEqual(v === 0 ? [] : null);
      // In request order, each allowed name once: a missing one as not existing, an illegal one as invalid, a denied one refused.
      expect(summary(r.merged!)).toEqual([
        ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
        ['a', 0, 1],
        ['b', ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0],
        ['bad name!', ErrorCode.INVALID_TOPIC_EXCEPTION, 0],
      ]);
      expect(r.merged!.brokers.length).toBe(1);
    });

    it.each(versions(ApiKey.Metadata, 0, 3))('v%i: with Create on every named topic (or the cluster), forwarded as it is', (v) => {
      const onTopics = run(ApiKey.Metadata, v, { topics: named('a', 'missing') }, { decide: denyOnly('Create cluster:kafka-cluster') });
      expect(onTopics.outcome.kind).toBe('allow');
      expect(onTopics.asked).toEqual(['Describe topic:a', 'Describe topic:missing', 'Create cluster:kafka-cluster', 'Create topic:a', 'Create topic:missing']);
      expect(run(ApiKey.Metadata, v, { topics: named('a', 'missing') }).outcome.kind).toBe('allow');
    });

    it.each(versions(ApiKey.Metadata, 0, 3))('v%i: a protected topic is never auto-created, whatever the cluster allows', (v) => {
      const r = run(ApiKey.Metadata, v, { topics: named('__gatehouse_audit') }, { decide: () => true, broker: allTopics(v) });
      expect(r.outcome.kind).toBe('split');
      expect(r.forwarded!.topics).toEqual(v === 0 ? [] : null);
      expect(summary(r.merged!)).toEqual([['__gatehouse_audit', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0]]);
      expect(r.asked).toEqual(['Describe topic:__gatehouse_audit', 'Create topic:__gatehouse_audit']);
    });
  });

  describe('an entry with a topic id is authorized by its id, never by the name beside it', () => {
    const byIdBroker = (fwd: Obj | undefined): Obj => {
      // As the broker: by id alone, names ignored.
      for (const t of fwd!.topics as Obj[]) expect(t.name).toBeNull();
      return brokerTopics((fwd!.topics as Obj[]).map((t) => IDS[t.topicId]!))();
    };

    it.each(versions(ApiKey.Metadata, 10))('v%i: an allowed name beside a hidden topic\'s id → that id refused as the broker refuses it, nothing forwarded', (v) => {
      const r = run(ApiKey.Metadata, v, { topics: [{ name: 'a', topicId: ID_B }], allowAutoTopicCreation: false }, { ids: IDS, decide: denyOnly('Describe topic:b'), broker: byIdBroker });
      expect(r.asked).toEqual(['Describe topic:b']);
      expect(r.outcome.kind).toBe('split');
      expect(r.forwarded!.topics).toEqual([]);
      expect((r.merged!.topics as Obj[]).map((t) => [t.name, t.topicId, t.errorCode, t.partitions.length])).toEqual([[v >= 12 ? null : '', ID_B, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0]]);
    });

    it.each(versions(ApiKey.Metadata, 10))('v%i: a hidden name beside an allowed id → forwarded by the id alone; entries without an id left out, as the broker leaves them', (v) => {
      const r = run(ApiKey.Metadata, v, { topics: [{ name: 'b', topicId: ID_A }, { name: 'b', topicId: ZERO_UUID }], allowAutoTopicCreation: true }, { ids: IDS, decide: denyOnly('Describe topic:b'), broker: byIdBroker });
      expect(r.asked).toEqual(['Describe topic:a']);
      expect(r.outcome.kind).toBe('split');
      expect(r.forwarded!.topics).toEqual([{ topicId: ID_A, name: null }]);
      expect(summary(r.merged!)).toEqual([['a', 0, 1]]);
    });

    it.each(versions(ApiKey.Metadata, 10))('v%i: the ids to resolve include those beside a name', (v) => {
      const req = requestAt(ApiKey.Metadata, v, { topics: [{ name: 'a', topicId: ID_B }, { name: 'c', topicId: ZERO_UUID }, { name: null, topicId: ID_UNKNOWN }] });
      expect(ruleFor(ApiKey.Metadata)!.topicIds!(req, v)).toEqual([ID_B, ID_UNKNOWN]);
    });
  });

  it.each(versions(ApiKey.Metadata, 8))('v%i: authorized operations are recomputed when asked for', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: named('a'), allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true, includeClusterAuthorizedOperations: true }, {
      decide: allowOnly('Describe topic:a', 'Read topic:a', 'Describe cluster:kafka-cluster'),
      broker: echo(v),
    });
    expect(r.outcome.kind).toBe('filter');
    expect(r.merged!.topics[0].topicAuthorizedOperations).toBe((1 << 3) | (1 << 8));
    if (v <= 10) expect(r.merged!.clusterAuthorizedOperations).toBe(1 << 8);
  });

  it.each(versions(ApiKey.Metadata, 10))('v%i: topics named by id: resolved, unknown ids UNKNOWN_TOPIC_ID', (v) => {
    const r = run(ApiKey.Metadata, v, { topics: [{ topicId: ID_A, name: null }, { topicId: ID_UNKNOWN, name: null }], allowAutoTopicCreation: false }, { ids: IDS, broker: echo(v) });
    expect(r.outcome.kind).toBe('split');
    expect(r.forwarded!.topics).toEqual([{ topicId: ID_A, name: null }]);
    expect((r.merged!.topics as Obj[]).map((t) => [t.topicId, t.errorCode])).toEqual([
      [ID_A, 0],
      [ID_UNKNOWN, ErrorCode.UNKNOWN_TOPIC_ID],
    ]);
  });

  it('topicIdsFromMetadata reports the ids of topics without error', () => {
    const res = brokerTopics(['a', 'b'])() as metadataRes.MetadataResponse;
    res.topics.push({ ...metadataRes.defaultMetadataResponseTopic(), name: 'x', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, topicId: ID_UNKNOWN });
    res.topics.push({ ...metadataRes.defaultMetadataResponseTopic(), name: 'y' });
    expect(topicIdsFromMetadata(res)).toEqual([
      [ID_A, 'a'],
      [ID_B, 'b'],
    ]);
  });
});

describe('DescribeTopicPartitions', () => {
  const broker = (names: string[]) => () => ({
    ...dtpRes.defaultDescribeTopicPartitionsResponse(),
    topics: names.map((name) => ({ ...dtpRes.defaultDescribeTopicPartitionsResponseTopic(), name, topicId: ID_OF[name] })),
  });
  it('all topics → only describable ones, operations recomputed', () => {
    const r = run(ApiKey.DescribeTopicPartitions, 0, { topics: [] }, { decide: denyOnly('Describe topic:b'), broker: broker(['a', 'b']) });
    expect(r.outcome.kind).toBe('filter');
    expect((r.merged!.topics as Obj[]).map((t) => t.name)).toEqual(['a']);
    expect(r.merged!.topics[0].topicAuthorizedOperations).not.toBe(OPS_OMITTED);
  });
  it('named topics: a denied one answered TOPIC_AUTHORIZATION_FAILED in place', () => {
    const r = run(ApiKey.DescribeTopicPartitions, 0, { topics: [{ name: 'b' }, { name: 'a' }] }, { decide: denyOnly('Describe topic:b'), broker: broker(['a']) });
    expect(r.outcome.kind).toBe('split');
    expect(r.forwarded!.topics).toEqual([{ name: 'a' }]);
    expect((r.merged!.topics as Obj[]).map((t) => [t.name, t.errorCode])).toEqual([
      ['b', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ['a', 0],
    ]);
  });
  it('every named topic denied → still forwarded (nothing named), only the denied entries', () => {
    const r = run(ApiKey.DescribeTopicPartitions, 0, { topics: [{ name: 'a' }] }, { decide: allowOnly(), broker: broker([]) });
    expect(r.outcome.kind).toBe('split');
    expect((r.merged!.topics as Obj[]).map((t) => [t.name, t.errorCode])).toEqual([['a', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
  });
});

describe('DescribeCluster', () => {
  it.each(versions(ApiKey.DescribeCluster))('v%i: allowed for anyone; cluster operations recomputed only when asked', (v) => {
    const plain = run(ApiKey.DescribeCluster, v, { includeClusterAuthorizedOperations: false }, { decide: () => false });
    expect(plain.outcome.kind).toBe('allow');
    expect(plain.asked).toEqual([]);
    const ops = run(ApiKey.DescribeCluster, v, { includeClusterAuthorizedOperations: true }, { decide: allowOnly('Alter cluster:kafka-cluster') });
    expect(ops.outcome.kind).toBe('filter');
    expect(ops.merged!.clusterAuthorizedOperations).toBe(1 << 7);
    expect(fakeContext(v, () => false).asked).toEqual([]);
  });
});
