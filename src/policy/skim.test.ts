/**
 * Produce and Fetch are authorized from a skim (stage.ts). A Fetch request has no bytes or
 * records fields, so its skim is its whole body at every version, and the stage never asks for
 * more: not to allow, split or deny it, nor on the incremental fetches of a session.
 */
import { describe, expect, it } from 'vitest';
import { ApiKey, apiCodec } from '../../protocol/generated/index.js';
import * as fetchReq from '../../protocol/generated/fetch-request.js';
import * as produceReq from '../../protocol/generated/produce-request.js';
import { Reader, SegmentedReader, Writer } from '../../protocol/runtime/index.js';
import { setPrincipal, type Principal } from '../identity/principal.js';
import { fakeConnection, fakeRequest } from '../../test/helpers/fake-request.js';
import { versions } from './apis/test-kit.js';
import { parsePolicy } from './load.js';
import { getDecision } from './model.js';
import { PolicyStage } from './stage.js';
import { StaticPolicy } from './store.js';

type Obj = Record<string, any>;

/** A request body read whole and skimmed from the same bytes cut into 1-byte reads. */
function readBoth(apiKey: number, v: number, body: unknown): { whole: Obj; skim: Obj } {
  const codec = apiCodec(apiKey)!;
  const w = new Writer();
  codec.writeRequest(w, v, body);
  const bytes = Buffer.from(w.finish());
  const chunks = [...bytes].map((b) => Buffer.from([b]));
  return { whole: codec.readRequest(new Reader(bytes), v) as Obj, skim: codec.readRequest(new SegmentedReader(chunks), v) as Obj };
}

function fetchBody(v: number): fetchReq.FetchRequest {
  const b = fetchReq.defaultFetchRequest();
  Object.assign(b, { clusterId: v >= 12 ? 'cluster-1' : null, replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 7, sessionEpoch: 3, rackId: 'rack-a' });
  b.topics = ['payments_in', 'orders'].map((topic, i) => ({
    ...fetchReq.defaultFetchTopic(),
    topic,
    topicId: i === 0 ? 'AAAAAAAAAAAAAAAAAAAAAQ' : 'AAAAAAAAAAAAAAAAAAAAAg',
    partitions: [0, 1].map((partition) => ({ ...fetchReq.defaultFetchPartition(), partition, fetchOffset: 42n, partitionMaxBytes: 1024 })),
  }));
  b.forgottenTopicsData = [{ ...fetchReq.defaultForgottenTopic(), topic: 'old', topicId: 'AAAAAAAAAAAAAAAAAAAAAw', partitions: [3] }];
  // A tagged field this codec does not know is kept, with its bytes.
  if (v >= 12) b._unknownTagged = [{ tag: 99, data: Buffer.from('future') }];
  return b;
}

describe('skimmed requests', () => {
  it.each(versions(ApiKey.Fetch))('Fetch v%i: the skim is the whole body', (v) => {
    const { whole, skim } = readBoth(ApiKey.Fetch, v, fetchBody(v));
    expect(skim).toEqual(whole);
    expect(whole.topics).toHaveLength(2);
  });

  it('Produce: the skim leaves the records out (which is why a split Produce is decoded whole)', () => {
    const b = produceReq.defaultProduceRequest();
    b.topicData = [{ ...produceReq.defaultTopicProduceData(), name: 't', partitionData: [{ ...produceReq.defaultPartitionProduceData(), index: 0, records: Buffer.from('not really a batch') }] }];
    const { whole, skim } = readBoth(ApiKey.Produce, 9, b);
    expect(whole.topicData[0].partitionData[0].records).toEqual(Buffer.from('not really a batch'));
    expect(skim.topicData[0].partitionData[0].records).toHaveLength(0);
  });

  it('the stage decides Fetch from the skim alone: allowed, split, denied, and incremental', () => {
    const doc = parsePolicy({ roles: { app: { members: { groups: ['team'] }, rules: [{ resource: 'topic', name: 'payments_*', operations: ['Read', 'Write'] }] } } });
    const stage = new PolicyStage({ source: new StaticPolicy(doc) });
    const c = fakeConnection();
    setPrincipal(c, { name: 'alice', source: 'oidc', qualifiedName: 'oidc:alice', groups: ['team'], issuer: 'i', clientId: undefined, mechanism: 'OAUTHBEARER', expiresAt: Infinity, authenticatedAt: 1, claims: {} } as Principal);
    let wholeBodies = 0;
    const send = (apiKey: number, v: number, body: Obj) => {
      const req = fakeRequest(c, apiKey, body, v);
      const decode = req.body;
      req.body = () => {
        wholeBodies++;
        return decode();
      };
      stage.onRequest(req);
      return { outcome: getDecision(req)!.outcome, forwarded: req.current() as Obj };
    };
    const fetch = (topics: string[], sessionEpoch: number) => {
      const b = fetchReq.defaultFetchRequest();
      b.sessionId = sessionEpoch > 0 ? 7 : 0;
      b.sessionEpoch = sessionEpoch;
      b.topics = topics.map((topic) => ({ ...fetchReq.defaultFetchTopic(), topic, partitions: [{ ...fetchReq.defaultFetchPartition(), partition: 0 }] }));
      return b;
    };

    expect(send(ApiKey.Fetch, 12, fetch(['payments_in'], 0)).outcome).toBe('allow');
    const split = send(ApiKey.Fetch, 12, fetch(['payments_in', 'orders'], 0));
    expect(split.outcome).toBe('partial');
    expect(split.forwarded.topics.map((t: Obj) => t.topic)).toEqual(['payments_in']);
    expect(send(ApiKey.Fetch, 12, fetch(['orders'], 0)).outcome).toBe('deny');
    expect(send(ApiKey.Fetch, 12, fetch(['payments_in'], 0)).outcome).toBe('allow');
    expect(send(ApiKey.Fetch, 12, fetch([], 1)).outcome).toBe('allow');
    expect(send(ApiKey.Fetch, 12, fetch(['orders'], 2)).outcome).toBe('partial');
    expect(wholeBodies).toBe(0);

    // Control: a Produce the policy splits is decoded whole, one allowed is not.
    const produce = (...names: string[]) => ({ ...produceReq.defaultProduceRequest(), topicData: names.map((name) => ({ ...produceReq.defaultTopicProduceData(), name, partitionData: [{ ...produceReq.defaultPartitionProduceData(), index: 0 }] })) });
    expect(send(ApiKey.Produce, 9, produce('payments_in')).outcome).toBe('allow');
    expect(wholeBodies).toBe(0);
    expect(send(ApiKey.Produce, 9, produce('payments_in', 'orders')).outcome).toBe('partial');
    expect(wholeBodies).toBe(1);
  });
});
