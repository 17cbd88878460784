import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { judgeCodes, NORMAL_STEPS, normalStep } from './normal-errors.js';

describe('normal protocol steps', () => {
  it('joining a consumer group: the first JoinGroup, rebalances, coordinator moves and rejoins', () => {
    for (const [code, api] of [[79, 'JoinGroup'], [27, 'Heartbeat'], [27, 'SyncGroup'], [27, 'OffsetCommit'], [16, 'JoinGroup'], [15, 'FindCoordinator'], [14, 'OffsetFetch'], [22, 'Heartbeat'], [25, 'JoinGroup'], [110, 'ConsumerGroupHeartbeat'], [113, 'OffsetCommit']] as const) {
      expect(normalStep(code, api), `${code} in ${api}`).toBeDefined();
    }
  });

  it('leadership, fetch sessions, transactions and version negotiation', () => {
    for (const [code, api] of [[6, 'Produce'], [5, 'Metadata'], [3, 'Metadata'], [74, 'Fetch'], [78, 'ListOffsets'], [70, 'Fetch'], [71, 'Fetch'], [51, 'AddPartitionsToTxn'], [88, 'OffsetFetch'], [35, 'ApiVersions']] as const) {
      expect(normalStep(code, api), `${code} in ${api}`).toBeDefined();
    }
  });

  it('denials and failed authentication are never steps, in any API', () => {
    for (const code of [29, 30, 31, 53, 65, 33, 34, 58]) expect(NORMAL_STEPS.has(code), String(code)).toBe(false);
  });

  it('retriable codes that report a write or read that did not happen are failures; so are plain errors', () => {
    // CORRUPT_MESSAGE, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS(_AFTER_APPEND), KAFKA_STORAGE_ERROR;
    // MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, TOPIC_ALREADY_EXISTS, INVALID_REQUEST, UNKNOWN_SERVER_ERROR
    for (const code of [2, 7, 19, 20, 56, 10, 18, 36, 42, -1]) expect(NORMAL_STEPS.has(code), String(code)).toBe(false);
  });

  it('some codes are steps only in some answers', () => {
    expect(normalStep(3, 'Produce')).toBeDefined();
    expect(normalStep(3, 'DeleteTopics')).toBeUndefined(); // the topic is not there
    expect(normalStep(35, 'ApiVersions')).toBeDefined();
    expect(normalStep(35, 'Produce')).toBeUndefined();
    expect(normalStep(69, 'ConsumerGroupDescribe')).toBeDefined(); // the admin client falls back to DescribeGroups
    expect(normalStep(69, 'DeleteGroups')).toBeUndefined();
  });

  it('judgeCodes splits an answer into failures and named steps, in order', () => {
    expect(judgeCodes('JoinGroup', [79])).toEqual({ failures: [], steps: ['MEMBER_ID_REQUIRED'] });
    expect(judgeCodes('OffsetCommit', [30, 27])).toEqual({ failures: [30], steps: ['REBALANCE_IN_PROGRESS'] });
    expect(judgeCodes('DeleteTopics', [3, 6])).toEqual({ failures: [3], steps: ['NOT_LEADER_OR_FOLLOWER'] });
    expect(judgeCodes('Metadata', [])).toEqual({ failures: [], steps: [] });
  });

  it('every entry is named and explained', () => {
    for (const [code, s] of NORMAL_STEPS) {
      expect(s.name, String(code)).toMatch(/^[A-Z_]+$/);
      expect(s.why.length, s.name).toBeGreaterThan(20);
    }
  });

  it('docs/audit.md lists every step', () => {
    const docs = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');
    for (const s of NORMAL_STEPS.values()) expect(docs, s.name).toContain(`\`${s.name}\``);
  });
});
