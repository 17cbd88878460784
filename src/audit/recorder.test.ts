import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { Compression, encodeBatch, encodeRecords } from '../../protocol/runtime/record-batch.js';
import { buildBatch } from '../../protocol/runtime/record-transform.js';
import { setPrincipal, type Principal } from '../identity/principal.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import type { InterceptedRequest, InterceptedResponse } from '../stage/stage.js';
import { locatedFrom } from '../../test/helpers/fake-request.js';
import { FetchSessionStage } from '../apis/fetch-session.js';
import { CapturePolicy } from './capture.js';
import { Chain } from './chain.js';
import { kindOf, type AuditEvent, type AuditKind, type RequestData } from './events.js';
import { AuditErrorCode, AuditIntake, AuditRecorder, type Recorder } from './recorder.js';
import { Summariser } from './summariser.js';

class Events implements Recorder {
  readonly chain = new Chain('t');
  readonly list: AuditEvent[] = [];
  refuse = false;
  emit(kind: AuditKind, subject: string, data: unknown): AuditEvent {
    const e = this.chain.stamp({ kind, subject, data }) as AuditEvent;
    this.list.push(e);
    return e;
  }
  refusing(): boolean {
    return this.refuse;
  }
  kinds(): string[] {
    return this.list.map((e) => kindOf(e.type)!);
  }
}

const conn = (): ConnectionInfo => ({ id: 'c1', remoteAddress: '10.0.0.5', remotePort: 40000, listener: 'bootstrap', nodeId: -1, openedAt: Date.now() - 5, attributes: new Map() });

function request(c: ConnectionInfo, apiName: string, apiKey: number, apiVersion: number, body: unknown): InterceptedRequest {
  return {
    header: { apiKey, apiVersion, correlationId: 7, clientId: 'test', apiName },
    connection: c,
    frame: Buffer.alloc(40),
    size: 40,
    body: <T>() => body as T,
    skim: <T>() => body as T,
    setBody: () => undefined,
    locate: () => locatedFrom(body),
    modified: false,
    expectsResponse: true,
    interceptResponse: () => undefined,
  };
}

function response(req: InterceptedRequest, body: unknown, synthetic = false): InterceptedResponse {
  const locate = () => locatedFrom(body);
  return { request: req, connection: req.connection, frame: Buffer.alloc(60), size: 60, synthetic, body: <T>() => body as T, skim: <T>() => body as T, setBody: () => undefined, locate, modified: false };
}

const principal = (name: string): Principal => ({ name, source: 'oidc', qualifiedName: `oidc:${name}`, groups: ['g'], issuer: 'http://idp', clientId: name, mechanism: 'OAUTHBEARER', expiresAt: Date.now() + 60_000, authenticatedAt: Date.now(), claims: { sub: name } });

describe('audit stages', () => {
  it('a session: opened, authentication failure, authenticated, re-authenticated, requests, closed with totals', () => {
    const ev = new Events();
    const intake = new AuditIntake(ev, 't');
    const rec = new AuditRecorder(ev, 't', new CapturePolicy());
    const c = conn();
    intake.onConnect(c);
    const run = (name: string, key: number, v: number, body: unknown, resBody: unknown, before?: () => void) => {
      const req = request(c, name, key, v, body);
      intake.onRequest(req);
      before?.();
      rec.onResponse(response(req, resBody, true));
    };
    run('ApiVersions', ApiKey.ApiVersions, 3, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.3.0' }, { errorCode: 0, apiKeys: [] });
    run('SaslHandshake', ApiKey.SaslHandshake, 1, { mechanism: 'OAUTHBEARER' }, { errorCode: 0, mechanisms: [] });
    run('SaslAuthenticate', ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('n,a=mallory,\x01auth=Bearer secret-token\x01\x01') }, { errorCode: 58, errorMessage: 'Authentication failed: token expired' });
    run('SaslAuthenticate', ApiKey.SaslAuthenticate, 2, {}, { errorCode: 0, errorMessage: null }, () => setPrincipal(c, principal('alice')));
    run('SaslAuthenticate', ApiKey.SaslAuthenticate, 2, {}, { errorCode: 0, errorMessage: null }, () => setPrincipal(c, principal('alice')));
    rec.onClose(c, 'GH_CLIENT_CLOSED');
    expect(ev.kinds()).toEqual([
      'session.opened', 'request', 'request', 'request', 'session.authentication_failed', 'request', 'session.authenticated', 'request', 'session.reauthenticated', 'session.closed',
    ]);
    const opened = ev.list[0]!.data as { clientSoftware: unknown; client: unknown };
    expect(opened).toMatchObject({ clientSoftware: { name: 'librdkafka', version: '2.3.0' }, client: { address: '10.0.0.5', port: 40000 } });
    expect(ev.list[4]!.data).toMatchObject({ claimedPrincipal: 'mallory', mechanism: 'OAUTHBEARER', errorCode: 58, reason: 'Authentication failed: token expired' });
    expect(JSON.stringify(ev.list)).not.toContain('secret-token');
    expect(ev.list[6]!.data).toMatchObject({ principal: 'alice', subject: 'alice', groups: ['g'] });
    expect(ev.list.at(-1)!.data).toMatchObject({ principal: 'alice', reason: 'GH_CLIENT_CLOSED', requests: 5, bytesIn: 5 * 44, bytesOut: 5 * 64 });
    expect(new Set(ev.list.map((e) => e.subject))).toEqual(new Set(['t/c1']));
  });

  it('Fetch: the offset range handed out, counted from the fetch offset; Produce: the assigned base offset', () => {
    const ev = new Events();
    const intake = new AuditIntake(ev, 't');
    const rec = new AuditRecorder(ev, 't', new CapturePolicy());
    const c = conn();
    intake.onConnect(c);
    const recs = [0, 1, 2].map((i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: Buffer.from(`v${i}`), headers: [] }));
    const batch = encodeBatch({ baseOffset: 5n, partitionLeaderEpoch: 0, magic: 2, crc: 0, attributes: 0, lastOffsetDelta: 2, baseTimestamp: 0n, maxTimestamp: 0n, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: 3 }, encodeRecords(recs));
    const fetchReq = request(c, 'Fetch', ApiKey.Fetch, 12, { topics: [{ topic: 'orders', topicId: '', partitions: [{ partition: 0, fetchOffset: 6n }] }] });
    intake.onRequest(fetchReq);
    rec.onResponse(response(fetchReq, { errorCode: 0, responses: [{ topic: 'orders', topicId: '', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 8n, records: batch }] }] }));
    const produceReq = request(c, 'Produce', ApiKey.Produce, 9, { acks: -1, topicData: [{ name: 'orders', topicId: '', partitionData: [{ index: 0, records: batch }] }] });
    intake.onRequest(produceReq);
    rec.onResponse(response(produceReq, { responses: [{ name: 'orders', topicId: '', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 42n }] }] }));
    const [fetch, produce] = ev.list.filter((e) => kindOf(e.type) === 'request').map((e) => e.data as RequestData);
    expect(fetch!.fetched).toEqual([{ topic: 'orders', partition: 0, fetchOffset: 6, firstOffset: 6, lastOffset: 7, records: 2, highWatermark: 8, errorCode: 0 }]);
    expect(fetch!.category).toBe('query');
    expect(produce!.produced).toEqual([{ topic: 'orders', partition: 0, records: 3, baseOffset: 42, errorCode: 0 }]);
    expect(produce!).toMatchObject({ category: 'mutation', operation: 'Write', resources: [{ type: 'topic', name: 'orders', operation: 'Write' }] });
  });

  it('Fetch in an incremental session: a partition the request did not name is counted from the session\'s offset', () => {
    const ev = new Events();
    const sessions = new FetchSessionStage();
    const intake = new AuditIntake(ev, 't');
    const rec = new AuditRecorder(ev, 't', new CapturePolicy());
    const c = conn();
    intake.onConnect(c);
    const recs = [0, 1, 2, 3, 4].map((i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: Buffer.from(`v${i}`), headers: [] }));
    const batch = encodeBatch({ baseOffset: 0n, partitionLeaderEpoch: 0, magic: 2, crc: 0, attributes: 0, lastOffsetDelta: 4, baseTimestamp: 0n, maxTimestamp: 0n, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: 5 }, encodeRecords(recs));
    const send = (body: unknown) => {
      const req = request(c, 'Fetch', ApiKey.Fetch, 12, body);
      sessions.onRequest(req);
      intake.onRequest(req);
      return req;
    };
    const full = send({ sessionId: 0, sessionEpoch: 0, forgottenTopicsData: [], topics: [{ topic: 'orders', topicId: '', partitions: [{ partition: 0, fetchOffset: 0n }, { partition: 1, fetchOffset: 3n }] }] });
    sessions.onResponseView({ request: full, connection: c, size: 0, errorCode: 0, sessionId: 7, partitions: [] });
    const incremental = send({ sessionId: 7, sessionEpoch: 1, forgottenTopicsData: [], topics: [] });
    rec.onResponse(response(incremental, { errorCode: 0, responses: [{ topic: 'orders', topicId: '', partitions: [{ partitionIndex: 1, errorCode: 0, highWatermark: 5n, records: batch }] }] }));
    const fetched = ev.list.filter((e) => kindOf(e.type) === 'request').map((e) => (e.data as RequestData).fetched).at(-1);
    expect(fetched).toEqual([{ topic: 'orders', partition: 1, fetchOffset: 3, firstOffset: 3, lastOffset: 4, records: 2, highWatermark: 5, errorCode: 0 }]);
  });

  it('fail-closed: Produce answered with a retriable error per partition, a data read closes, housekeeping passes', () => {
    const ev = new Events();
    ev.refuse = true;
    const intake = new AuditIntake(ev, 't');
    const c = conn();
    intake.onConnect(c);
    const produce = intake.onRequest(request(c, 'Produce', ApiKey.Produce, 9, { acks: -1, topicData: [{ name: 'orders', topicId: '', partitionData: [{ index: 0, records: null }, { index: 1, records: null }] }] }));
    const parts = (produce as { respond: { responses: Array<{ partitionResponses: Array<{ errorCode: number }> }> } }).respond.responses[0]!.partitionResponses;
    expect(parts.map((p) => p.errorCode)).toEqual([AuditErrorCode.NOT_ENOUGH_REPLICAS, AuditErrorCode.NOT_ENOUGH_REPLICAS]);
    const fetch = intake.onRequest(request(c, 'Fetch', ApiKey.Fetch, 12, { sessionId: 5, topics: [{ topic: 'orders', topicId: '', partitions: [{ partition: 3, fetchOffset: 10n }] }] }));
    const fr = (fetch as { respond: { sessionId: number; responses: Array<{ topic: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }> } }).respond;
    expect(fr.sessionId).toBe(0);
    expect(fr.responses[0]!.partitions).toEqual([expect.objectContaining({ partitionIndex: 3, errorCode: AuditErrorCode.KAFKA_STORAGE_ERROR })]);
    expect(intake.onRequest(request(c, 'DescribeConfigs', ApiKey.DescribeConfigs, 4, { resources: [] }))).toEqual({ close: expect.stringContaining('fail-closed') });
    expect(intake.onRequest(request(c, 'ListOffsets', ApiKey.ListOffsets, 7, { topics: [] }))).toBeUndefined();
    expect(intake.onRequest(request(c, 'Metadata', ApiKey.Metadata, 12, { topics: [] }))).toBeUndefined();
    expect((ev.list.at(-1)!.data as RequestData).decision.outcome).toBe('refused-audit');
  });

  it('payload capture of a compressed batch: the request event waits for its records to be decompressed', async () => {
    const ev = new Events();
    const intake = new AuditIntake(ev, 't');
    const rec = new AuditRecorder(ev, 't', new CapturePolicy([{ topics: ['orders'], mode: 'full' }]));
    const c = conn();
    intake.onConnect(c);
    const recs = [0, 1].map((i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), headers: [] }));
    const zstd = await buildBatch({ baseOffset: 0n, partitionLeaderEpoch: -1, magic: 2, crc: 0, attributes: Compression.Zstd, lastOffsetDelta: 1, baseTimestamp: 0n, maxTimestamp: 0n, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: 2 }, recs);
    const produceReq = request(c, 'Produce', ApiKey.Produce, 9, { acks: -1, topicData: [{ name: 'orders', topicId: '', partitionData: [{ index: 0, records: zstd }] }] });
    intake.onRequest(produceReq);
    const pending = rec.onResponse(response(produceReq, { responses: [{ name: 'orders', topicId: '', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 40n }] }] }));
    expect(pending).toBeInstanceOf(Promise);
    expect(ev.kinds()).not.toContain('request');
    await pending;
    const produce = ev.list.find((e) => kindOf(e.type) === 'request')!.data as RequestData;
    expect(produce.produced![0]!.captured).toEqual([
      { offset: 40, key: 'k0', headers: [], value: 'v0' },
      { offset: 41, key: 'k1', headers: [], value: 'v1' },
    ]);
  });

  describe('with a summariser (sessions that never authenticate)', () => {
    /** Events, holding unauthenticated sessions; one in full per address. */
    class Summarised extends Events {
      readonly background: boolean[] = [];
      readonly refusedFor: string[] = [];
      readonly summariser: Summariser;
      constructor(authRequired: boolean) {
        super();
        this.summariser = new Summariser({ inFullPerAddress: 1, inFullTotal: 100, windowMs: 60_000, addresses: 100, authRequired }, 't', (kind, subject, data, _time, background) => {
          this.emit(kind, subject, data);
          this.background.push(background);
        });
      }
      override refusing(sessionId?: string): boolean {
        if (sessionId) this.refusedFor.push(sessionId);
        return this.refuse;
      }
    }
    let next = 0;
    /** A connection through both stages: `steps` are [api name, key, version, body, response body, before-response]. */
    const connection = (ev: Summarised, steps: Array<[string, number, number, unknown, unknown, (() => void)?]>, c = { ...conn(), id: `c${next++}` }) => {
      const intake = new AuditIntake(ev, 't');
      const rec = new AuditRecorder(ev, 't', new CapturePolicy());
      intake.onConnect(c);
      for (const [name, key, v, body, resBody, before] of steps) {
        const req = request(c, name, key, v, body);
        intake.onRequest(req);
        before?.();
        rec.onResponse(response(req, resBody, true));
      }
      rec.onClose(c, 'GH_CLIENT_CLOSED');
      return `t/${c.id}`;
    };
    const failing = (): Array<[string, number, number, unknown, unknown]> => [
      ['ApiVersions', ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }, { errorCode: 0, apiKeys: [] }],
      ['SaslHandshake', ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' }, { errorCode: 0, mechanisms: [] }],
      ['SaslAuthenticate', ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\0admin\0guess') }, { errorCode: 58, errorMessage: 'Authentication failed' }],
    ];

    it('the first failed session of an address is recorded in full, the next only counted; an authenticated one always in full, in order', () => {
      const ev = new Summarised(true);
      const first = connection(ev, failing());
      const second = connection(ev, failing());
      const c = { ...conn(), id: 'alice' };
      const authed = connection(ev, [
        ...failing().slice(0, 2),
        ['SaslAuthenticate', ApiKey.SaslAuthenticate, 2, {}, { errorCode: 0, errorMessage: null }, () => setPrincipal(c, principal('alice'))],
        ['Metadata', ApiKey.Metadata, 12, { topics: [] }, { brokers: [], topics: [] }],
      ], c);
      const subjects = ev.list.map((e) => e.subject);
      expect(subjects.filter((x) => x === first)).toHaveLength(6);
      expect(subjects).not.toContain(second);
      expect(ev.list.filter((e) => e.subject === authed).map((e) => kindOf(e.type))).toEqual([
        'session.opened', 'request', 'request', 'request', 'session.authenticated', 'request', 'session.closed',
      ]);
      // Through the summariser: the unauthenticated session's events as background, the
      // authenticated one's held events (opened, 2 requests) not; the rest of it went straight on.
      expect(ev.background).toEqual([...Array(6).fill(true), ...Array(3).fill(false)]);
      ev.summariser.flush(true);
      const summary = ev.list.at(-1)!;
      expect(kindOf(summary.type)).toBe('sessions.summary');
      expect(summary.data).toMatchObject({ address: '10.0.0.5', recordedInFull: 1, connections: 1, requests: 3, failedLogins: { count: 1, byClaimedPrincipal: { admin: 1 } } });
    });

    it('a request before authentication (closed by the identity stage) does not make a session a working one; without identity it does', () => {
      const withIdentity = new Summarised(true);
      connection(withIdentity, failing());
      connection(withIdentity, [['Metadata', ApiKey.Metadata, 12, { topics: [] }, { brokers: [], topics: [] }]]);
      expect(new Set(withIdentity.list.map((e) => e.subject)).size).toBe(1);
      const anonymous = new Summarised(false);
      connection(anonymous, failing());
      const working = connection(anonymous, [['Metadata', ApiKey.Metadata, 12, { topics: [] }, { brokers: [], topics: [] }]]);
      expect(anonymous.list.filter((e) => e.subject === working).map((e) => kindOf(e.type))).toEqual(['session.opened', 'request', 'session.closed']);
    });

    it('fail-closed asks about the request\'s own session', () => {
      const ev = new Summarised(false);
      ev.refuse = true;
      const intake = new AuditIntake(ev, 't');
      const c = conn();
      intake.onConnect(c);
      expect(intake.onRequest(request(c, 'CreateTopics', ApiKey.CreateTopics, 7, { topics: [] }))).toEqual({ close: expect.stringContaining('fail-closed') });
      expect(ev.refusedFor).toEqual(['t/c1']);
      expect((ev.list.at(-1)!.data as RequestData).decision.outcome).toBe('refused-audit');
    });
  });
});
