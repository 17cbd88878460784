/**
 * The proxy's fetch and share sessions: a full fetch starts over, an incremental one adds and
 * moves partitions and forgets the ones it names; each request keeps the session as it left it.
 * Sessions are the proxy's, by broker and id, and belong to the principal that opened them: an
 * incremental fetch on a session this proxy did not see opened, or one another principal opened,
 * never reaches the broker.
 */
import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultFetchRequest } from '../../protocol/generated/fetch-request.js';
import { defaultShareFetchRequest } from '../../protocol/generated/share-fetch-request.js';
import { defaultShareAcknowledgeRequest } from '../../protocol/generated/share-acknowledge-request.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import type { InterceptedRequest, InterceptedResponse, ResponseRecordsView } from '../stage/stage.js';
import { fakeConnection, fakeRequest } from '../../test/helpers/fake-request.js';
import { FETCH_SESSION_ID_NOT_FOUND, FetchSessionStage, FetchSessions, SHARE_SESSION_NOT_FOUND, partitionKey, sessionAt, sessionOf } from './fetch-session.js';

const fetch = (sessionId: number, sessionEpoch: number, topics: Array<[string, number, bigint]>, forgotten: Array<[string, number]> = []) => ({
  ...defaultFetchRequest(),
  sessionId,
  sessionEpoch,
  topics: topics.map(([topic, partition, fetchOffset]) => ({ topic, topicId: '', partitions: [{ partition, fetchOffset, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1, replicaDirectoryId: '' }] })),
  forgottenTopicsData: forgotten.map(([topic, p]) => ({ topic, topicId: '', partitions: [p] })),
});

/** A principal's connection to broker 1. */
const connectionOf = (principal: string, id = principal): ConnectionInfo => {
  const conn = fakeConnection({ id, nodeId: 1, listener: 'broker-1' });
  conn.attributes.set('principal', principal);
  return conn;
};
const stageFor = (sessions = new FetchSessions()) => new FetchSessionStage({ sessions, owner: (c) => c.attributes.get('principal') as string });

/** The broker's answer to `req`, as a records view (the fast path). */
const answer = (stage: FetchSessionStage, req: InterceptedRequest, sessionId: number, errorCode = 0): void =>
  stage.onResponseView({ request: req, connection: req.connection, size: 0, errorCode, sessionId, partitions: [] } satisfies ResponseRecordsView);

const offsets = (req: InterceptedRequest) => [...sessionAt(req)!.values()].map((p) => `${p.topic}/${p.partition}@${p.fetchOffset}`);

describe('fetch sessions', () => {
  it('full, incremental, forgotten, and full again', async () => {
    const stage = stageFor();
    const conn = connectionOf('alice');

    const full = fakeRequest(conn, ApiKey.Fetch, fetch(0, 0, [['a', 0, 5n], ['b', 1, 7n]]), 12);
    expect(stage.onRequest(full)).toBeUndefined();
    expect(offsets(full)).toEqual(['a/0@5', 'b/1@7']);
    answer(stage, full, 77);

    const inc = fakeRequest(conn, ApiKey.Fetch, fetch(77, 1, [['a', 0, 9n], ['c', 2, 0n]], [['b', 1]]), 12);
    expect(stage.onRequest(inc)).toBeUndefined();
    expect(offsets(inc)).toEqual(['a/0@9', 'c/2@0']);
    expect(sessionOf(inc)).toBe(sessionOf(full));
    // Each request keeps the session as it left it, for reading its own answer.
    expect(sessionAt(full)!.get(partitionKey('b', '', 1))?.fetchOffset).toBe(7n);
    expect(sessionAt(inc)!.has(partitionKey('b', '', 1))).toBe(false);

    // A sessionless full fetch naming the session ends it (the broker closes it too).
    const closing = fakeRequest(conn, ApiKey.Fetch, fetch(77, -1, [['d', 0, 1n]]), 12);
    stage.onRequest(closing);
    expect(offsets(closing)).toEqual(['d/0@1']);
    expect(stage.sessions.size).toBe(0);
  });

  it('a session goes on from another connection of its principal, not from another principal', async () => {
    const sessions = new FetchSessions();
    const stage = stageFor(sessions);
    const open = fakeRequest(connectionOf('alice', 'c1'), ApiKey.Fetch, fetch(0, 0, [['a', 0, 1n]]), 12);
    stage.onRequest(open);
    answer(stage, open, 42);

    const again = fakeRequest(connectionOf('alice', 'c2'), ApiKey.Fetch, fetch(42, 1, []), 12);
    expect(stage.onRequest(again)).toBeUndefined();
    expect(offsets(again)).toEqual(['a/0@1']);

    const foreign = fakeRequest(connectionOf('mallory', 'c3'), ApiKey.Fetch, fetch(42, 2, []), 12);
    expect(stage.onRequest(foreign)).toEqual({ respond: expect.objectContaining({ errorCode: FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] }) });
    // Nor may another principal end it.
    stage.onRequest(fakeRequest(connectionOf('mallory', 'c3'), ApiKey.Fetch, fetch(42, -1, []), 12));
    expect(sessions.size).toBe(1);
  });

  it('an incremental fetch on a session this proxy never saw opened is answered FETCH_SESSION_ID_NOT_FOUND', () => {
    const stage = stageFor();
    const req = fakeRequest(connectionOf('alice'), ApiKey.Fetch, fetch(1234, 5, []), 12);
    expect(stage.onRequest(req)).toEqual({ respond: expect.objectContaining({ errorCode: FETCH_SESSION_ID_NOT_FOUND }) });
    expect(sessionOf(req)).toBeUndefined();
  });

  it('sessions are per broker: the same id on another broker is another session', () => {
    const stage = stageFor();
    const open = fakeRequest(connectionOf('alice'), ApiKey.Fetch, fetch(0, 0, [['a', 0, 1n]]), 12);
    stage.onRequest(open);
    answer(stage, open, 42);
    const other = fakeConnection({ id: 'c9', nodeId: 2, listener: 'broker-2' });
    other.attributes.set('principal', 'alice');
    expect(stage.onRequest(fakeRequest(other, ApiKey.Fetch, fetch(42, 1, []), 12))).toEqual({ respond: expect.objectContaining({ errorCode: FETCH_SESSION_ID_NOT_FOUND }) });
  });

  it('an incremental fetch that arrives before the answer opening its session was read waits for it', async () => {
    const stage = stageFor();
    const conn = connectionOf('alice');
    const open = fakeRequest(conn, ApiKey.Fetch, fetch(0, 0, [['a', 0, 1n]]), 12);
    stage.onRequest(open);
    const early = stage.onRequest(fakeRequest(conn, ApiKey.Fetch, fetch(9, 1, []), 12));
    expect(early).toBeInstanceOf(Promise);
    answer(stage, open, 9);
    await expect(early).resolves.toBeUndefined();
    // Had the broker not opened it, the wait ends in FETCH_SESSION_ID_NOT_FOUND.
    const open2 = fakeRequest(conn, ApiKey.Fetch, fetch(0, 0, [['a', 0, 1n]]), 12);
    stage.onRequest(open2);
    const early2 = stage.onRequest(fakeRequest(conn, ApiKey.Fetch, fetch(10, 1, []), 12));
    answer(stage, open2, 0);
    await expect(early2).resolves.toEqual({ respond: expect.objectContaining({ errorCode: FETCH_SESSION_ID_NOT_FOUND }) });
  });

  it('forgets a session the broker says it no longer has, and learns ids from whole responses too', () => {
    const stage = stageFor();
    const conn = connectionOf('alice');
    const open = fakeRequest(conn, ApiKey.Fetch, fetch(0, 0, [['a', 0, 1n]]), 12);
    stage.onRequest(open);
    stage.onResponse({ request: open, connection: conn, skim: () => ({ errorCode: 0, sessionId: 5 }) } as unknown as InterceptedResponse);
    const inc = fakeRequest(conn, ApiKey.Fetch, fetch(5, 1, []), 12);
    expect(stage.onRequest(inc)).toBeUndefined();
    answer(stage, inc, 0, FETCH_SESSION_ID_NOT_FOUND);
    expect(stage.sessions.size).toBe(0);
  });

  it('stays within its bound: the session used least lately goes first', () => {
    const sessions = new FetchSessions(2);
    const stage = stageFor(sessions);
    const conn = connectionOf('alice');
    for (const id of [1, 2, 3]) {
      const open = fakeRequest(conn, ApiKey.Fetch, fetch(0, 0, []), 12);
      stage.onRequest(open);
      answer(stage, open, id);
    }
    expect(sessions.size).toBe(2);
    expect(stage.onRequest(fakeRequest(conn, ApiKey.Fetch, fetch(1, 1, []), 12))).toEqual({ respond: expect.objectContaining({ errorCode: FETCH_SESSION_ID_NOT_FOUND }) });
    expect(stage.onRequest(fakeRequest(conn, ApiKey.Fetch, fetch(3, 1, []), 12))).toBeUndefined();
  });

  it('share sessions belong to the principal that opened them', () => {
    const stage = stageFor();
    const share = (epoch: number) => ({ ...defaultShareFetchRequest(), groupId: 'g', memberId: 'm1', shareSessionEpoch: epoch, topics: [{ topicId: 'T', partitions: [{ partitionIndex: 0, partitionMaxBytes: 1, acknowledgementBatches: [] }] }] });
    const open = fakeRequest(connectionOf('alice'), ApiKey.ShareFetch, share(0), 1);
    expect(stage.onRequest(open)).toBeUndefined();
    expect(stage.onRequest(fakeRequest(connectionOf('alice', 'c2'), ApiKey.ShareFetch, share(1), 1))).toBeUndefined();
    expect(stage.onRequest(fakeRequest(connectionOf('mallory'), ApiKey.ShareFetch, share(2), 1))).toEqual({ respond: expect.objectContaining({ errorCode: SHARE_SESSION_NOT_FOUND }) });
    const ack = { ...defaultShareAcknowledgeRequest(), groupId: 'g', memberId: 'm1', shareSessionEpoch: 3 };
    expect(stage.onRequest(fakeRequest(connectionOf('mallory'), ApiKey.ShareAcknowledge, ack, 1))).toEqual({ respond: expect.objectContaining({ errorCode: SHARE_SESSION_NOT_FOUND }) });
    expect(stage.onRequest(fakeRequest(connectionOf('alice'), ApiKey.ShareAcknowledge, ack, 1))).toBeUndefined();
  });
});
