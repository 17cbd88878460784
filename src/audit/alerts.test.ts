/**
 * The auth-failures alert counts in bounded memory without ever starting over: an attacker who
 * rotates through more fresh names than the table holds does not reset the count of the name (or
 * address) it keeps trying, and the table stays within its bound.
 */
import { describe, expect, it } from 'vitest';
import { AlertEngine, AUTH_FAILURE_KEYS } from './alerts.js';
import { eventType, type AuditEvent } from './events.js';
import type { AlertNotice } from './webhooks.js';

/** Just what the alert engine reads of an event (no chain: hashing 200k events is not the point). */
function event(kind: 'session.opened' | 'session.authentication_failed', subject: string, data: Record<string, unknown>): AuditEvent {
  return { type: eventType(kind), subject, data } as unknown as AuditEvent;
}

describe('auth-failures alert', () => {
  it('counting survives a rotation through more names than the table holds', () => {
    const fired: AlertNotice[] = [];
    let now = 1_000_000;
    const engine = new AlertEngine({ authFailures: { threshold: 5, windowMs: 60_000, by: ['principal', 'address'] } }, (a) => fired.push(a), () => now);
    let session = 0;
    const fail = (name: string, address: string) => {
      const sid = `s${session++}`;
      engine.onEvent(event('session.opened', sid, { client: { address, port: 1 } }));
      engine.onEvent(event('session.authentication_failed', sid, { claimedPrincipal: name, reason: 'bad' }));
    };
    // Four tries at alice, then far more fresh names than the table holds (each from its own
    // address, so no address alert either), all within the window, then alice once more.
    for (let i = 0; i < 4; i++) fail('alice', '10.0.0.1');
    const rotation = Math.ceil(AUTH_FAILURE_KEYS * 0.6);
    for (let i = 0; i < rotation; i++) {
      now += 0.1;
      fail(`user-${i}`, `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    }
    expect(engine.countedKeys).toBeLessThanOrEqual(AUTH_FAILURE_KEYS);
    expect(fired).toEqual([]);
    fail('alice', '10.0.0.2');
    expect(fired.map((a) => a.message)).toEqual([expect.stringContaining('principal alice')]);
    // And once more, after the rotation, for the address that keeps failing.
    for (let i = 0; i < 5; i++) fail(`other-${i}`, '10.0.0.1');
    expect(fired.map((a) => a.message)).toEqual([expect.stringContaining('principal alice'), expect.stringContaining('address 10.0.0.1')]);
  });

  it('forgets names idle for a window: the table shrinks back', () => {
    let now = 0;
    const engine = new AlertEngine({ authFailures: { threshold: 3, windowMs: 60_000, by: ['principal'] } }, () => undefined, () => now);
    for (let i = 0; i < 1000; i++) engine.onEvent(event('session.authentication_failed', `s${i}`, { claimedPrincipal: `n${i}` }));
    expect(engine.countedKeys).toBe(1000);
    now += 60_001;
    engine.onEvent(event('session.authentication_failed', 'late', { claimedPrincipal: 'late' }));
    expect(engine.countedKeys).toBe(1);
  });
});
