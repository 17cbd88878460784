/**
 * Failed-login counting on its own, with a stand-in clock: the limits per address and per
 * account, windows that end, and memory bounded whatever names an attacker makes up.
 */
import { describe, expect, it } from 'vitest';
import { LoginAttempts, WindowCounts } from './login-attempts.js';

function clock() {
  let now = 1_000_000;
  return { now: () => now, tick: (ms: number) => (now += ms) };
}

describe('login attempts', () => {
  it('refuses an address once it reached its failed logins in the window, until the window ends', () => {
    const t = clock();
    const a = new LoginAttempts({ perAddress: 3, perAccount: 0, windowMs: 60_000 }, t.now);
    for (let i = 0; i < 3; i++) {
      expect(a.refusal('10.0.0.1', undefined)).toBeUndefined();
      a.failed('10.0.0.1', undefined);
    }
    expect(a.refusal('10.0.0.1', undefined)).toBe('too many failed logins from 10.0.0.1: 3 in 60000 ms (limits.loginAttempts.perAddress)');
    expect(a.refusal('::ffff:10.0.0.1', 'anyone')).toMatch(/^too many failed logins from 10\.0\.0\.1/);
    expect(a.refusal('10.0.0.2', undefined)).toBeUndefined();
    t.tick(59_999);
    expect(a.refusal('10.0.0.1', undefined)).toBeDefined();
    t.tick(1);
    expect(a.refusal('10.0.0.1', undefined)).toBeUndefined();
  });

  it('refuses an account name once it reached its failed logins, from any address', () => {
    const t = clock();
    const a = new LoginAttempts({ perAddress: 0, perAccount: 2, windowMs: 10_000 }, t.now);
    a.failed('10.0.0.1', 'billing-batch');
    a.failed('10.0.0.2', 'billing-batch');
    a.failed('10.0.0.3', undefined); // named no account: counts for none
    expect(a.refusal('10.0.0.9', 'billing-batch')).toBe('too many failed logins naming "billing-batch": 2 in 10000 ms (limits.loginAttempts.perAccount)');
    expect(a.refusal('10.0.0.9', 'ledger-batch')).toBeUndefined();
    expect(a.refusal('10.0.0.9', undefined)).toBeUndefined();
    // perAddress 0: no limit per address, however many failures.
    for (let i = 0; i < 100; i++) a.failed('10.0.0.1', `n${i}`);
    expect(a.refusal('10.0.0.1', 'other')).toBeUndefined();
    t.tick(10_000);
    expect(a.refusal('10.0.0.9', 'billing-batch')).toBeUndefined();
  });

  it('counts a long name under its start', () => {
    const a = new LoginAttempts({ perAddress: 0, perAccount: 1, windowMs: 10_000 });
    a.failed('10.0.0.1', 'x'.repeat(300) + 'a');
    expect(a.refusal('10.0.0.1', 'x'.repeat(300) + 'b')).toMatch(/^too many failed logins naming "x{100}"/);
  });

  it('keeps at most maxTracked keys, dropping ended windows first, then the oldest', () => {
    const t = clock();
    const w = new WindowCounts(1_000, 100, t.now);
    for (let i = 0; i < 10_000; i++) {
      w.add(`name-${i}`);
      if (i % 50 === 0) t.tick(10);
      expect(w.size).toBeLessThanOrEqual(100);
    }
    // The newest keys are still counted.
    expect(w.count('name-9999')).toBe(1);
    // Ended windows are gone at the next new key even while there is room.
    const v = new WindowCounts(1_000, 100, t.now);
    for (let i = 0; i < 10; i++) v.add(`a${i}`);
    t.tick(1_000);
    v.add('fresh');
    expect(v.size).toBe(1);
  });
});
