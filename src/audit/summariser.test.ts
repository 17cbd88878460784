import { describe, expect, it } from 'vitest';
import { AlertEngine } from './alerts.js';
import { Chain } from './chain.js';
import type { AuditEvent, AuditKind, SessionsSummaryData } from './events.js';
import type { AlertNotice } from './webhooks.js';
import { HOLD_EVENTS, OTHER, OTHER_ADDRESSES, Summariser, SUMMARY_KEYS, type SummariserOptions } from './summariser.js';

interface Emitted {
  kind: AuditKind;
  subject: string;
  data: unknown;
  time: number;
  background: boolean;
}

const options = (o: Partial<SummariserOptions> = {}): SummariserOptions => ({ inFullPerAddress: 3, inFullTotal: 100, windowMs: 60_000, addresses: 100, authRequired: true, ...o });

function setup(o: Partial<SummariserOptions> = {}) {
  const out: Emitted[] = [];
  const clock = { now: 1_000_000, pressed: false };
  const s = new Summariser(options(o), 'inst', (kind, subject, data, time, background) => out.push({ kind, subject, data, time, background }), () => clock.pressed, () => clock.now);
  let n = 0;
  /** One connection from `address` that fails to log in (claiming `name`) and closes; `settle` authenticates it instead. */
  const session = (address: string, { name = 'admin', reason = 'wrong secret', settle = false } = {}) => {
    const id = `inst/c${n++}`;
    const h = s.hold(address);
    h.add('session.opened', id, { sessionId: id, client: { address, port: 1 }, openedAt: new Date(clock.now).toISOString() }, clock.now);
    h.add('request', id, { api: 'SaslHandshake' }, clock.now);
    h.add('request', id, { api: 'SaslAuthenticate' }, clock.now);
    if (settle) {
      h.release();
      return id;
    }
    h.add('session.authentication_failed', id, { sessionId: id, claimedPrincipal: name, mechanism: 'PLAIN', errorCode: 58, reason }, clock.now);
    h.add('session.closed', id, { sessionId: id, principal: null, reason: 'GH_CLIENT_CLOSED', durationMs: 2, requests: 3, bytesIn: 100, bytesOut: 40, clientSoftware: null }, clock.now + 2);
    h.end();
    return id;
  };
  const summaries = () => out.filter((e) => e.kind === 'sessions.summary').map((e) => e.data as SessionsSummaryData);
  const sessionsInFull = () => new Set(out.filter((e) => e.kind !== 'sessions.summary').map((e) => e.subject));
  return { s, out, clock, session, summaries, sessionsInFull };
}

describe('summariser', () => {
  it('records the first N unauthenticated sessions of an address in full and counts the next k in one summary at the window end', () => {
    const t = setup();
    const ids = Array.from({ length: 7 }, (_, i) => t.session('10.0.0.1', { reason: i % 2 ? 'wrong secret' : 'unknown account', name: i < 5 ? 'admin' : 'root' }));
    expect(t.sessionsInFull()).toEqual(new Set(ids.slice(0, 3)));
    // In full: each session's events in order, marked background, with the times they happened.
    expect(t.out.filter((e) => e.subject === ids[0]).map((e) => e.kind)).toEqual(['session.opened', 'request', 'request', 'session.authentication_failed', 'session.closed']);
    expect(t.out.every((e) => e.background)).toBe(true);
    expect(t.summaries()).toEqual([]); // the window is still open
    t.clock.now += 60_000;
    t.s.flush();
    const [summary] = t.summaries();
    expect(t.summaries()).toHaveLength(1);
    expect(summary).toMatchObject({
      address: '10.0.0.1',
      recordedInFull: 3,
      connections: 4,
      requests: 12,
      bytesIn: 400,
      bytesOut: 160,
      failedLogins: { count: 4, byReason: { 'wrong secret': 2, 'unknown account': 2 }, byClaimedPrincipal: { admin: 2, root: 2 } },
      closeReasons: { GH_CLIENT_CLOSED: 4 },
    });
    expect(t.out.at(-1)).toMatchObject({ kind: 'sessions.summary', subject: 'summary/inst/10.0.0.1', background: true });
    // A new window: the address gets N in full again.
    const next = t.session('10.0.0.1');
    expect(t.sessionsInFull().has(next)).toBe(true);
  });

  it('never summarises a session that authenticates: its held events come out in order when it does, however many came before', () => {
    const t = setup({ inFullPerAddress: 0 });
    t.session('10.0.0.2');
    const id = t.session('10.0.0.2', { settle: true });
    const mine = t.out.filter((e) => e.subject === id);
    expect(mine.map((e) => e.kind)).toEqual(['session.opened', 'request', 'request']);
    expect(mine.every((e) => !e.background)).toBe(true);
    t.s.flush(true);
    expect(t.summaries()).toMatchObject([{ address: '10.0.0.2', connections: 1, recordedInFull: 0 }]);
  });

  it('limits sessions in full across addresses, gives addresses beyond the limit one shared summary, and counts everything while the sink is pressed', () => {
    const t = setup({ inFullPerAddress: 5, inFullTotal: 4, addresses: 2 });
    for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) for (let i = 0; i < 2; i++) t.session(a);
    expect(t.sessionsInFull().size).toBe(4);
    t.clock.pressed = true;
    t.session('10.0.0.4');
    t.session('10.0.0.5');
    t.s.flush(true);
    // .3 is past the total in full; .4 while pressed (its own summary: 2 addresses); .5 shares `*`.
    expect(t.summaries().map((d) => [d.address, d.connections])).toEqual([
      ['10.0.0.3', 2],
      ['10.0.0.4', 1],
      [OTHER_ADDRESSES, 1],
    ]);
    expect(t.summaries().reduce((n, d) => n + d.connections, 0) + t.sessionsInFull().size).toBe(8); // nothing left out uncounted
  });

  it('bounds what it keeps: request events beyond the hold are counted, count maps keep 20 keys and an (other)', () => {
    const t = setup({ inFullPerAddress: 0 });
    for (let i = 0; i < SUMMARY_KEYS + 5; i++) t.session('10.0.0.9', { reason: `reason ${i}`, name: `user-${i}` });
    t.s.flush(true);
    const [d] = t.summaries();
    expect(Object.keys(d!.failedLogins.byReason)).toHaveLength(SUMMARY_KEYS + 1);
    expect(d!.failedLogins.byReason[OTHER]).toBe(5);
    expect(d!.failedLogins.byClaimedPrincipal[OTHER]).toBe(5);
    expect(d!.failedLogins.count).toBe(SUMMARY_KEYS + 5);

    const h = t.s.hold('10.0.0.8');
    for (let i = 0; i < HOLD_EVENTS + 10; i++) h.add('request', 'inst/x', { api: 'ApiVersions' }, 0);
    expect(h.notRecorded).toBe(10);
    h.release();
    expect(t.out.filter((e) => e.subject === 'inst/x')).toHaveLength(HOLD_EVENTS);
  });

  it('failed logins counted in a summary feed the auth-failure alert, per address and per claimed name', () => {
    const t = setup({ inFullPerAddress: 0 });
    for (let i = 0; i < 6; i++) t.session('10.0.0.7', { name: i < 4 ? 'admin' : 'root' });
    t.s.flush(true);
    const fired: AlertNotice[] = [];
    const engine = new AlertEngine({ authFailures: { threshold: 4, windowMs: 60_000, by: ['address', 'principal'] } }, (a) => fired.push(a));
    const chain = new Chain('alerts');
    engine.onEvent(chain.stamp({ kind: 'sessions.summary', subject: 'summary/alerts/10.0.0.7', data: t.summaries()[0]! }) as AuditEvent);
    expect(fired.map((a) => a.message.replace(/^\d+ authentication failures from | within.*$/g, '')).sort()).toEqual(['address 10.0.0.7', 'principal admin']);
  });
});
