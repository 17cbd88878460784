import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { Chain, GENESIS_HASH, canonicalJson, verifyChain, type StoredMessage } from './chain.js';
import type { AuditEvent, AuditKind } from './events.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/audit-event.v1.json', import.meta.url), 'utf8')) as object;

function sampleEvents(chain: Chain): AuditEvent[] {
  const sid = `${chain.instance}/c1`;
  const ev = (kind: AuditKind, data: unknown, subject = sid) => chain.stamp({ kind, subject, data }) as AuditEvent;
  return [
    ev('session.opened', { sessionId: sid, client: { address: '127.0.0.1', port: 5555 }, listener: 'bootstrap', nodeId: -1, tls: null, clientSoftware: { name: 'apache-kafka-java', version: '4.3.1' }, openedAt: new Date().toISOString() }),
    ev('session.opened', { sessionId: `${sid}-tls`, client: { address: '::1', port: 1 }, listener: 'tls-bootstrap', nodeId: -1, tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', peerSubject: 'CN=app' }, clientSoftware: null, openedAt: new Date().toISOString() }, `${sid}-tls`),
    ev('session.authentication_failed', { sessionId: sid, claimedPrincipal: 'admin', mechanism: null, errorCode: 58, reason: 'Authentication failed: token expired' }),
    ev('session.authenticated', { sessionId: sid, principal: 'admin', issuer: 'http://idp', subject: 'admin', groups: ['ops'], clientId: 'admin', mechanism: 'OAUTHBEARER', tokenExpiresAt: new Date().toISOString() }),
    ev('request', {
      sessionId: sid, principal: 'admin', api: 'Produce', apiKey: 0, apiVersion: 9, correlationId: 4, clientId: 'console-producer', category: 'mutation', operation: 'Write',
      resources: [{ type: 'topic', name: 'orders', operation: 'Write' }], decision: { outcome: 'none', rule: null }, errorCodes: [], synthetic: false, bytesIn: 120, bytesOut: 60, latencyMs: 1.25,
      produced: [{ topic: 'orders', partition: 0, records: 3, baseOffset: 10, errorCode: 0, captured: [{ offset: 10, key: 'k', headers: [{ key: 'h', value: 'v' }], value: 'x' }] }],
    }),
    ev('request', {
      sessionId: sid, principal: 'admin', api: 'Fetch', apiKey: 1, apiVersion: 16, correlationId: 5, clientId: 'c', category: 'query', operation: 'Read',
      resources: [], decision: { outcome: 'allow', rule: 'admins/0' }, errorCodes: [], synthetic: false, bytesIn: 80, bytesOut: 300, latencyMs: 3,
      fetched: [{ topic: 'orders', partition: 0, fetchOffset: 10, firstOffset: 10, lastOffset: 12, records: 3, highWatermark: 13, errorCode: 0 }],
    }),
    ev('session.closed', { sessionId: sid, principal: 'admin', reason: 'GH_CLIENT_CLOSED', durationMs: 30, requests: 5, bytesIn: 300, bytesOut: 500, clientSoftware: null }),
    ev('session.closed', { sessionId: `${sid}-tls`, principal: null, reason: 'GH_CLIENT_CLOSED', durationMs: 3, requests: 40, bytesIn: 900, bytesOut: 1500, clientSoftware: null, eventsNotRecorded: 30 }, `${sid}-tls`),
    ev('sessions.summary', {
      address: '10.0.0.9', windowStart: new Date().toISOString(), windowEnd: new Date().toISOString(), recordedInFull: 20, connections: 7, requests: 21, bytesIn: 700, bytesOut: 900,
      failedLogins: { count: 7, byReason: { 'unknown service account': 5, '(other)': 2 }, byClaimedPrincipal: { admin: 7 } }, closeReasons: { GH_CLIENT_CLOSED: 7 },
      firstOpenedAt: new Date().toISOString(), lastClosedAt: new Date().toISOString(),
    }, `summary/${chain.instance}/10.0.0.9`),
    ev('checkpoint', { instance: chain.instance, lastSeq: chain.lastSeq, lastHash: chain.lastHash, events: 7, dropped: 0 }, `checkpoint/${chain.instance}`),
  ];
}

const stored = (events: AuditEvent[], partitionOf = (_e: AuditEvent) => 0): StoredMessage[] => {
  const offsets = new Map<number, number>();
  return events.map((e) => {
    const partition = partitionOf(e);
    const offset = offsets.get(partition) ?? 0;
    offsets.set(partition, offset + 1);
    return { partition, offset: String(offset), key: e.subject, value: JSON.stringify(e) };
  });
};

describe('audit chain', () => {
  it('events of every kind match the JSON Schema', () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    const validate = ajv.compile(schema);
    for (const e of sampleEvents(new Chain('test-1'))) {
      expect(validate(e), `${e.type}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const bad = { ...sampleEvents(new Chain('x'))[3]!, data: { api: 'Produce' } };
    expect(validate(bad)).toBe(false);
  });

  it('chains events: seq from 0, genesis prevhash, each prevhash the previous hash', () => {
    const events = sampleEvents(new Chain('i1'));
    expect(events[0]!.seq).toBe(0);
    expect(events[0]!.prevhash).toBe(GENESIS_HASH);
    for (let i = 1; i < events.length; i++) expect(events[i]!.prevhash).toBe(events[i - 1]!.hash);
    expect(verifyChain(stored(events)).problems).toEqual([]);
  });

  it('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [1, { e: 3, f: 2 }] }, b: 1 }));
  });

  it('reports an edited event with its offset', () => {
    const msgs = stored(sampleEvents(new Chain('i1')));
    const e = JSON.parse(msgs[3]!.value!) as AuditEvent;
    (e.data as { principal: string }).principal = 'someone-else';
    msgs[3] = { ...msgs[3]!, value: JSON.stringify(e) };
    const r = verifyChain(msgs);
    expect(r.problems.map((p) => [p.kind, p.offset])).toEqual([['altered', '3']]);
  });

  it('reports an edited event whose hash was recomputed (the next link breaks)', async () => {
    const { eventHash } = await import('./chain.js');
    const msgs = stored(sampleEvents(new Chain('i1')));
    const e = JSON.parse(msgs[2]!.value!) as AuditEvent;
    (e.data as { principal: string }).principal = 'mallory';
    e.hash = eventHash(e);
    msgs[2] = { ...msgs[2]!, value: JSON.stringify(e) };
    const kinds = verifyChain(msgs).problems.map((p) => `${p.kind}@${p.offset}`);
    expect(kinds).toContain('broken-link@3');
  });

  it('reports a deleted event as a gap', () => {
    const msgs = stored(sampleEvents(new Chain('i1')));
    msgs.splice(4, 1);
    const problems = verifyChain(msgs).problems;
    expect(problems.some((p) => p.kind === 'gap' && p.seq === 4)).toBe(true);
    expect(problems.find((p) => p.kind === 'gap')!.offset).toBe('5'); // where the chain resumes
  });

  it('reports duplicates, reordering within a partition and unreadable messages', () => {
    const events = sampleEvents(new Chain('i1'));
    const msgs = stored([events[0]!, events[2]!, events[1]!, events[3]!, events[3]!, events[4]!, events[5]!, events[6]!]);
    msgs.push({ partition: 0, offset: '99', key: null, value: 'not json' });
    const kinds = new Set(verifyChain(msgs).problems.map((p) => p.kind));
    expect(kinds).toEqual(new Set(['reordered', 'duplicate', 'unreadable']));
  });

  it('events spread over partitions verify in any partition order; a read from a point in time starts anywhere', () => {
    const events = sampleEvents(new Chain('i1'));
    const msgs = stored(events, (e) => e.seq % 3);
    const shuffled = [...msgs.filter((m) => m.partition === 2), ...msgs.filter((m) => m.partition === 0), ...msgs.filter((m) => m.partition === 1)];
    expect(verifyChain(shuffled).problems).toEqual([]);
    expect(verifyChain(stored(events.slice(3)), { fromStart: false }).problems).toEqual([]);
    expect(verifyChain(stored(events.slice(3))).problems.map((p) => p.kind)).toEqual(['gap']);
  });

  it('a checkpoint naming a missing or different event is reported', () => {
    const events = sampleEvents(new Chain('i1'));
    const msgs = stored(events);
    msgs.splice(events.length - 2, 1); // the event the checkpoint vouches for
    expect(verifyChain(msgs).problems.map((p) => p.kind)).toContain('checkpoint-mismatch');
  });
});

describe('fast canonical JSON and stamping (same bytes, same hashes)', () => {
  /** A small deterministic generator (mulberry32). */
  const random = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const KEYS = ['a', 'b', 'B', 'ab', 'a b', '10', '9', '0', '-1', '1.5', 'é', 'z', '\u2028', '"q"', 'ü', '😀', 'data', 'hash', '__proto__x', ''];
  const STRINGS = ['', 'x', 'line\nbreak', 'quote"s', 'back\\slash', '\u0000\u001f', 'é😀', '\ud800 lone', '\u2028\u2029', '</script>'];
  /** A value of the kinds events hold; with `loose`, also members JSON leaves out or changes. */
  function value(rnd: () => number, depth: number, loose: boolean): unknown {
    const r = rnd();
    if (depth > 3 || r < 0.35) {
      const p = Math.floor(rnd() * (loose ? 12 : 8));
      return [null, true, false, Math.floor(rnd() * 1e6) - 5e5, rnd() * 1e3, STRINGS[Math.floor(rnd() * STRINGS.length)], 1e21, -0, NaN, Infinity, undefined, () => 1][p];
    }
    if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(rnd, depth + 1, loose));
    const o: Record<string, unknown> = rnd() < 0.1 ? Object.create(null) : {};
    for (let i = Math.floor(rnd() * 6); i > 0; i--) o[KEYS[Math.floor(rnd() * KEYS.length)]!] = value(rnd, depth + 1, loose);
    return o;
  }

  it('canonicalJsonOfParsed gives canonicalJson\'s bytes for parsed JSON', async () => {
    const { canonicalJsonOfParsed } = await import('./chain.js');
    const rnd = random(1);
    for (let i = 0; i < 3000; i++) {
      const parsed = JSON.parse(JSON.stringify({ v: value(rnd, 0, false) })) as unknown;
      expect(canonicalJsonOfParsed(parsed)).toBe(canonicalJson(parsed));
    }
    expect(canonicalJsonOfParsed(JSON.parse('{"10":1,"9":2,"b":[],"a":{}}'))).toBe('{"10":1,"9":2,"a":{},"b":[]}');
  });

  it('canonicalJsonOfPlain gives the bytes of the JSON round trip, or nothing for what is not plain data', async () => {
    const { canonicalJsonOfPlain } = await import('./chain.js');
    const rnd = random(2);
    for (let i = 0; i < 3000; i++) {
      const v = { v: value(rnd, 0, true), s: Symbol('s'), f: () => 1, u: undefined, a: [undefined, () => 1, Symbol('x'), NaN, -0] };
      expect(canonicalJsonOfPlain(v)).toBe(canonicalJson(JSON.parse(JSON.stringify(v))));
    }
    class Thing {
      x = 1;
    }
    for (const odd of [new Date(0), Buffer.from('x'), new Thing(), new Map([[1, 2]]), { toJSON: () => 'x' }, [1, new Date(0)], 10n, Object.assign([1], { toJSON: () => 2 })]) {
      expect(canonicalJsonOfPlain({ data: odd })).toBeUndefined();
    }
  });

  it('stampJson: the value is JSON.stringify(event), the hash eventHash()\'s; data that is not plain is hashed and kept as the round trip has it', async () => {
    const { eventHash } = await import('./chain.js');
    const chain = new Chain('fast-1');
    const rnd = random(3);
    const events: AuditEvent[] = [];
    const datas: unknown[] = [
      { sessionId: 's', nested: { b: 1, a: [1, { d: undefined, c: 'x' }] }, skipped: undefined },
      { when: new Date(5), bytes: Buffer.from('ab'), big: { toJSON: () => ({ z: 1, y: 2 }) } },
      undefined,
      ...Array.from({ length: 200 }, () => value(rnd, 0, true)),
    ];
    for (const data of datas) {
      const { event, json } = chain.stampJson({ kind: 'request', subject: 'fast-1/c1', data });
      expect(json).toBe(JSON.stringify(event));
      const read = JSON.parse(json) as AuditEvent;
      expect(read.hash).toBe(event.hash);
      expect(eventHash(read)).toBe(event.hash);
      events.push(read);
    }
    expect(events[1]!.data).toEqual({ when: new Date(5).toISOString(), bytes: { type: 'Buffer', data: [97, 98] }, big: { z: 1, y: 2 } });
    const odd = chain.stampJson({ kind: 'request', subject: 's', data: { when: new Date(5) } }).event;
    expect(odd.data).toEqual({ when: new Date(5).toISOString() });
    expect(verifyChain(stored(events)).problems).toEqual([]);
    // stamp() and stampJson() are one chain
    events.push(chain.stamp({ kind: 'request', subject: 'fast-1/c1', data: { n: 1 } }) as unknown as AuditEvent);
    expect(verifyChain(stored([...events.slice(0, -1), odd as unknown as AuditEvent, events.at(-1)!])).problems).toEqual([]);
  });
});
