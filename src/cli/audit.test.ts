import { describe, expect, it } from 'vitest';
import { Chain } from '../audit/chain.js';
import type { AuditEvent, AuditKind, RequestData } from '../audit/events.js';
import { describe as describeEvent, summarize } from './audit.js';

const chain = new Chain('cli');
const SESSION = 'cli/c1';
const event = (kind: AuditKind, data: object): AuditEvent => chain.stamp({ kind, subject: SESSION, data }) as AuditEvent;

function request(api: string, errorCodes: number[], over: Partial<RequestData> = {}): AuditEvent {
  return event('request', {
    sessionId: SESSION, principal: 'app', api, apiKey: 0, apiVersion: 9, correlationId: 1, clientId: 'c', category: 'query', operation: null,
    resources: [{ type: 'group', name: 'g' }], decision: { outcome: 'none', rule: null }, errorCodes, synthetic: false, bytesIn: 1, bytesOut: 1, latencyMs: 1, ...over,
  } satisfies RequestData);
}

const authenticated = event('session.authenticated', { sessionId: SESSION, principal: 'app', issuer: 'i', subject: null, groups: [], clientId: null, mechanism: 'OAUTHBEARER', tokenExpiresAt: null });
const authFailed = event('session.authentication_failed', { sessionId: SESSION, claimedPrincipal: 'app', mechanism: 'PLAIN', errorCode: 58, reason: 'bad password' });

describe('audit session outcomes', () => {
  it("a consumer group's join, rebalance and coordinator moves are ok; the codes stay in the events", () => {
    const join = [
      authenticated,
      request('FindCoordinator', [15]),
      request('JoinGroup', [79]),
      request('JoinGroup', []),
      request('SyncGroup', [27]),
      request('Heartbeat', [16]),
      request('OffsetFetch', [14]),
      request('Fetch', [], { fetched: [{ topic: 't', partition: 0, fetchOffset: 0, firstOffset: null, lastOffset: null, records: 0, highWatermark: 0, errorCode: 6 }] }),
    ];
    expect(summarize(join)).toMatchObject({ outcome: 'ok', errors: 0, requests: 7 });
    expect((join[2]!.data as RequestData).errorCodes).toEqual([79]);
  });

  it('a genuine failure is an error', () => {
    expect(summarize([authenticated, request('JoinGroup', [79]), request('Produce', [10])])).toMatchObject({ outcome: 'error', errors: 1 });
    expect(summarize([authenticated, request('DeleteTopics', [3])])).toMatchObject({ outcome: 'error', errors: 1 });
  });

  it('a denial and a failed authentication still stand out', () => {
    const denied = request('JoinGroup', [30], { decision: { outcome: 'deny', rule: 'default-deny' } });
    expect(summarize([authenticated, request('JoinGroup', [79]), denied])).toMatchObject({ outcome: 'denied', denied: 1 });
    expect(summarize([authFailed, request('SaslAuthenticate', [58], { principal: null })])).toMatchObject({ outcome: 'auth-failed', authFailures: 1 });
    // A broker's own authorization error (no policy decision) is not a step either.
    expect(summarize([authenticated, request('Metadata', [29])]).outcome).toBe('error');
  });
});

describe('audit replay lines', () => {
  it('mark normal steps as retries and failures as errors', () => {
    expect(describeEvent(request('JoinGroup', [79]))).toContain('→ retry MEMBER_ID_REQUIRED (');
    expect(describeEvent(request('OffsetCommit', [30, 27]))).toContain('→ errors 30, retry REBALANCE_IN_PROGRESS (');
    expect(describeEvent(request('Heartbeat', []))).toContain('→ ok (');
    const fetch = request('Fetch', [6, 56], {
      fetched: [
        { topic: 't', partition: 0, fetchOffset: 0, firstOffset: null, lastOffset: null, records: 0, highWatermark: -1, errorCode: 6 },
        { topic: 't', partition: 1, fetchOffset: 0, firstOffset: null, lastOffset: null, records: 0, highWatermark: -1, errorCode: 56 },
      ],
    });
    expect(describeEvent(fetch)).toContain('read t[0]: 0 record(s) (retry NOT_LEADER_OR_FOLLOWER)');
    expect(describeEvent(fetch)).toContain('read t[1]: 0 record(s) (error 56)');
  });
});
