/**
 * Fetch sessions as the client sees them: a full fetch starts over, an incremental one adds and
 * moves partitions and forgets the ones it names; each request keeps the session as it left it.
 */
import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultFetchRequest } from '../../protocol/generated/fetch-request.js';
import { fakeConnection, fakeRequest } from '../../test/helpers/fake-request.js';
import { FetchSessionStage, fetchSession, partitionKey, sessionAt } from './fetch-session.js';

const fetch = (sessionEpoch: number, topics: Array<[string, number, bigint]>, forgotten: Array<[string, number]> = []) => ({
  ...defaultFetchRequest(),
  sessionEpoch,
  topics: topics.map(([topic, partition, fetchOffset]) => ({ topic, topicId: '', partitions: [{ partition, fetchOffset, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1, replicaDirectoryId: '' }] })),
  forgottenTopicsData: forgotten.map(([topic, p]) => ({ topic, topicId: '', partitions: [p] })),
});

describe('fetch sessions', () => {
  it('full, incremental, forgotten, and full again', () => {
    const stage = new FetchSessionStage();
    const conn = fakeConnection();
    const offsets = () => [...fetchSession(conn).partitions.values()].map((p) => `${p.topic}/${p.partition}@${p.fetchOffset}`);

    const full = fakeRequest(conn, ApiKey.Fetch, fetch(0, [['a', 0, 5n], ['b', 1, 7n]]), 12);
    stage.onRequest(full);
    expect(offsets()).toEqual(['a/0@5', 'b/1@7']);

    const inc = fakeRequest(conn, ApiKey.Fetch, fetch(1, [['a', 0, 9n], ['c', 2, 0n]], [['b', 1]]), 12);
    stage.onRequest(inc);
    expect(offsets()).toEqual(['a/0@9', 'c/2@0']);
    // Each request keeps the session as it left it, for reading its own answer.
    expect(sessionAt(full)!.get(partitionKey('b', '', 1))?.fetchOffset).toBe(7n);
    expect(sessionAt(inc)!.has(partitionKey('b', '', 1))).toBe(false);

    stage.onRequest(fakeRequest(conn, ApiKey.Fetch, fetch(-1, [['d', 0, 1n]]), 12));
    expect(offsets()).toEqual(['d/0@1']);
  });

  it('connections have sessions of their own', () => {
    const stage = new FetchSessionStage();
    const one = fakeConnection({ id: 'c1' });
    const two = fakeConnection({ id: 'c2' });
    stage.onRequest(fakeRequest(one, ApiKey.Fetch, fetch(0, [['a', 0, 1n]]), 12));
    expect(fetchSession(two).partitions.size).toBe(0);
  });
});
