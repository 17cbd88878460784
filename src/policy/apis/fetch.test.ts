import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import * as fetchReq from '../../../protocol/generated/fetch-request.js';
import { defaultFetchResponse } from '../../../protocol/generated/fetch-response.js';
import { ErrorCode } from '../model.js';
import { FETCH, FETCH_SESSION_KEY, type FetchSession } from './fetch.js';
import { IDS, allowOnly, denyOnly, run, topicCodes, topicRuleCases, topicsFor, versions, type Decide } from './test-kit.js';

const fetchCase = { rule: FETCH, topic: fetchReq.defaultFetchTopic, partition: fetchReq.defaultFetchPartition, fields: () => ({ sessionEpoch: -1 }) };
topicRuleCases('Fetch (full, sessionless)', fetchCase, versions(ApiKey.Fetch));
topicRuleCases('Fetch (full, new session)', { ...fetchCase, fields: () => ({ sessionEpoch: 0 }) }, versions(ApiKey.Fetch, 7));

const follower = (v: number) => (v >= 15 ? { replicaState: { ...fetchReq.defaultReplicaState(), replicaId: 2 } } : { replicaId: 2 });

describe('Fetch from a follower (replica id >= 0)', () => {
  it.each(versions(ApiKey.Fetch))('v%i: ClusterAction on the cluster → allow', (v) => {
    const r = run(ApiKey.Fetch, v, { ...follower(v), topics: topicsFor(fetchCase, v, ['a']) }, { ids: IDS, decide: allowOnly('ClusterAction cluster:kafka-cluster') });
    expect(r.outcome.kind).toBe('allow');
    expect(r.asked).toEqual(['ClusterAction cluster:kafka-cluster']);
  });
  it.each(versions(ApiKey.Fetch))('v%i: a client posing as a follower → CLUSTER_AUTHORIZATION_FAILED', (v) => {
    const r = run(ApiKey.Fetch, v, { ...follower(v), topics: topicsFor(fetchCase, v, ['a']) }, { ids: IDS, decide: allowOnly('Read topic:a') });
    expect(r.outcome.kind).toBe('deny');
    const code = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    if (v >= 7) expect(r.response!.errorCode).toBe(code);
    expect(topicCodes(FETCH, r.response!, v)).toEqual([['a', [code, code]]]);
  });
});

describe.each([7, 12, 13, 18])('Fetch sessions (KIP-227) at v%i', (v) => {
  const state = new Map<string, unknown>();
  let decide: Decide = () => true;
  const fetch = (fields: Record<string, unknown>) => run(ApiKey.Fetch, v, fields, { ids: IDS, state, decide, broker: () => ({ ...defaultFetchResponse(), throttleTimeMs: 7, sessionId: 42 }) });
  const forgotten = (name: string, partitions: number[]) => ({ ...fetchReq.defaultForgottenTopic(), topic: name, topicId: name === 'a' ? Object.keys(IDS)[0] : Object.keys(IDS)[1], partitions });
  const session = () => state.get(FETCH_SESSION_KEY) as FetchSession;
  const key = (name: string) => (v >= 13 ? Object.keys(IDS).find((id) => IDS[id] === name)! : name);

  it('a full fetch starts the session with what was forwarded', () => {
    const r = fetch({ sessionEpoch: 0, topics: topicsFor(fetchCase, v, ['a', 'b']) });
    expect(r.outcome.kind).toBe('allow');
    expect([...session().topics.keys()]).toEqual([key('a'), key('b')]);
  });

  it('an incremental fetch naming nothing re-authorizes every topic of the session (hot path: allow)', () => {
    const r = fetch({ sessionId: 42, sessionEpoch: 1, topics: [] });
    expect(r.outcome.kind).toBe('allow');
    expect(r.asked).toEqual(['Read topic:a', 'Read topic:b']);
  });

  it('a session topic no longer allowed is forgotten upstream and answered TOPIC_AUTHORIZATION_FAILED', () => {
    decide = denyOnly('Read topic:b');
    const r = fetch({ sessionId: 42, sessionEpoch: 2, topics: [] });
    expect(r.outcome.kind).toBe('split');
    expect(r.forwarded!.forgottenTopicsData.map((f: { topic: string; topicId: string; partitions: number[] }) => [v >= 13 ? IDS[f.topicId] : f.topic, f.partitions])).toEqual([['b', [0, 1]]]);
    expect(r.forwarded!.topics).toEqual([]);
    expect(r.merged!.throttleTimeMs).toBe(v >= 1 ? 7 : 0);
    expect(r.merged!.sessionId).toBe(42);
    const code = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    expect(topicCodes(FETCH, r.merged!, v)).toEqual([['b', [code, code]]]);
    expect([...session().topics.keys()]).toEqual([key('a')]);
  });

  it('the revoked partitions keep their error on later incremental fetches, without forgetting them again', () => {
    const r = fetch({ sessionId: 42, sessionEpoch: 3, topics: [] });
    expect(r.outcome.kind).toBe('split');
    expect(r.forwarded!.forgottenTopicsData).toEqual([]);
    expect(topicCodes(FETCH, r.merged!, v).map(([n]) => n)).toEqual(['b']);
  });

  it('once the client forgets them, the session is clean again', () => {
    const r = fetch({ sessionId: 42, sessionEpoch: 4, topics: [], forgottenTopicsData: [forgotten('b', [0, 1])] });
    expect(r.outcome.kind).toBe('allow');
    expect(session().revoked.size).toBe(0);
  });

  it('a denied topic added by an incremental fetch is not forwarded and answered with the error', () => {
    const r = fetch({ sessionId: 42, sessionEpoch: 5, topics: topicsFor(fetchCase, v, ['b']) });
    expect(r.outcome.kind).toBe('split');
    expect(r.forwarded!.topics).toEqual([]);
    expect(topicCodes(FETCH, r.merged!, v).map(([n]) => n)).toEqual(['b']);
    expect([...session().topics.keys()]).toEqual([key('a')]);
  });

  it('allowed again and sent again: forwarded and back in the session', () => {
    decide = () => true;
    const r = fetch({ sessionId: 42, sessionEpoch: 6, topics: topicsFor(fetchCase, v, ['b']) });
    expect(r.outcome.kind).toBe('allow');
    expect(session().revoked.size).toBe(0);
    expect([...session().topics.keys()].sort()).toEqual([key('a'), key('b')].sort());
  });

  it('a full fetch with a denied topic resets the session to the forwarded topics', () => {
    decide = denyOnly('Read topic:a');
    const r = fetch({ sessionId: 42, sessionEpoch: 0, topics: topicsFor(fetchCase, v, ['a', 'b']) });
    expect(r.outcome.kind).toBe('split');
    expect([...session().topics.keys()]).toEqual([key('b')]);
    expect(session().revoked.size).toBe(0);
  });
});
