/**
 * The scrypt limiter: at most perSecond checks admitted per second and maxInFlight running at
 * once, the rest of those admitted waiting their turn (a second's worth at most); an attempt
 * with no room is refused at once and its check never runs.
 */
import { describe, expect, it } from 'vitest';
import { SecretCheckLimiter, type RefusedBecause } from './secret-check-limiter.js';

/** Checks that finish when the test says, counting how many ran and how many at once. */
function checks() {
  const finish: Array<() => void> = [];
  const stats = { started: 0, running: 0, most: 0 };
  const check = () => {
    stats.started++;
    stats.running++;
    stats.most = Math.max(stats.most, stats.running);
    return new Promise<boolean>((r) =>
      finish.push(() => {
        stats.running--;
        r(true);
      }),
    );
  };
  /** Finishes the checks running now and lets the next ones start. */
  const finishRunning = async () => {
    for (const f of finish.splice(0)) f();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return { check, stats, finishRunning };
}

function limiter(maxInFlight: number, perSecond: number) {
  let now = 0;
  const refused: RefusedBecause[] = [];
  const l = new SecretCheckLimiter({ maxInFlight, perSecond, onRefused: (why) => refused.push(why), now: () => now });
  return { l, refused, advance: (ms: number) => (now += ms) };
}

describe('secret check limiter', () => {
  it('admits a second\'s worth, runs at most maxInFlight at once, and refuses the rest without running them', async () => {
    const { l, refused } = limiter(2, 5);
    const c = checks();
    const runs = Array.from({ length: 12 }, () => l.run(c.check));
    expect(runs.filter((r) => r === undefined).length).toBe(7);
    expect(refused).toEqual(Array(7).fill('rate'));
    await new Promise((r) => setImmediate(r));
    expect(c.stats.started).toBe(2);
    expect(l.queued).toBe(3);
    while (c.stats.started < 5 || c.stats.running > 0) await c.finishRunning();
    expect(await Promise.all(runs.filter((r) => r !== undefined))).toEqual(Array(5).fill(true));
    expect(c.stats.started).toBe(5);
    expect(c.stats.most).toBe(2);
    expect(l.running).toBe(0);
  });

  it('admits more as the second passes, in proportion', async () => {
    const { l, advance } = limiter(4, 10);
    const c = checks();
    for (let i = 0; i < 10; i++) expect(l.run(c.check)).toBeDefined();
    expect(l.run(c.check)).toBeUndefined();
    advance(300); // three more
    expect([1, 2, 3, 4].map(() => l.run(c.check) !== undefined)).toEqual([true, true, true, false]);
    advance(10_000); // never more than a second's worth at once
    while (c.stats.running > 0 || l.queued > 0) await c.finishRunning();
    expect(Array.from({ length: 12 }, () => l.run(c.check) !== undefined).filter(Boolean).length).toBe(10);
  });

  it('refuses once a second\'s worth is waiting, even with budget left', async () => {
    const { l, refused, advance } = limiter(1, 3);
    const c = checks();
    for (let i = 0; i < 3; i++) expect(l.run(c.check)).toBeDefined(); // one runs, two wait
    advance(1000);
    expect(l.run(c.check)).toBeDefined(); // three waiting now
    expect(l.run(c.check)).toBeUndefined();
    expect(refused).toEqual(['queue']);
    await new Promise((r) => setImmediate(r));
    expect(c.stats.started).toBe(1);
  });

  it('frees the slot of a check that fails', async () => {
    const { l } = limiter(1, 10);
    await expect(l.run(async () => Promise.reject(new Error('scrypt failed')))).rejects.toThrow('scrypt failed');
    expect(l.running).toBe(0);
    expect(await l.run(async () => 'ok')).toBe('ok');
  });
});
