/**
 * Counting per key within a sliding window in bounded memory: counts are exact within the window,
 * idle keys are forgotten, the table never holds more than its bound, and a flood of fresh keys
 * pushes out only keys seen as few times as they are — never a key with more events.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WindowCounts } from './window-counts.js';

describe('WindowCounts', () => {
  it('counts the events of the last window, up to what it keeps', () => {
    const c = new WindowCounts(1000, 3, 10);
    expect(c.hit('k', 0).times).toEqual([0]);
    expect(c.hit('k', 400).times).toEqual([0, 400]);
    expect(c.hit('k', 1000).times).toEqual([400, 1000]); // 0 is a window old
    expect(c.hit('k', 1100).times).toEqual([400, 1000, 1100]);
    expect(c.hit('k', 1200).times).toEqual([1000, 1100, 1200]); // keeps the last 3
  });

  it('agrees with a plain list of every event, within what it keeps, whatever the keys and times', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), gap: fc.nat({ max: 700 }) }), { maxLength: 200 }), (hits) => {
        const c = new WindowCounts(1000, 4, 100);
        const all = new Map<string, number[]>();
        let now = 0;
        for (const { key, gap } of hits) {
          now += gap;
          const list = [...(all.get(key) ?? []), now];
          all.set(key, list);
          const inWindow = list.filter((t) => t > now - 1000);
          expect(c.hit(key, now).times).toEqual(inWindow.slice(-4));
        }
      }),
    );
  });

  it('forgets a key idle for a whole window', () => {
    const c = new WindowCounts(1000, 3, 10);
    c.hit('a', 0);
    c.hit('a', 10);
    c.hit('b', 500);
    expect(c.size).toBe(2);
    c.hit('c', 1010); // a's last event (10) is a window old
    expect(c.peek('a')).toBeUndefined();
    expect(c.size).toBe(2);
    c.hit('c', 1600);
    expect(c.peek('b')).toBeUndefined();
    expect(c.size).toBe(1);
  });

  it('never holds more than its bound; a flood of fresh keys pushes out fresh keys, not one with more events', () => {
    const c = new WindowCounts(60_000, 5, 1000);
    for (let i = 0; i < 4; i++) c.hit('alice', i);
    let most = 0;
    for (let i = 0; i < 50_000; i++) {
      c.hit(`rotating-${i}`, 10 + i / 10);
      most = Math.max(most, c.size);
    }
    expect(most).toBe(1000);
    expect(c.peek('alice')?.times).toHaveLength(4);
    expect(c.hit('alice', 6000).times).toHaveLength(5);
    // The fresh keys that stayed are the latest ones.
    expect(c.peek('rotating-49999')).toBeDefined();
    expect(c.peek('rotating-0')).toBeUndefined();
  });

  it('when full of keys with more events, the one seen fewest times and longest ago goes first', () => {
    const c = new WindowCounts(60_000, 5, 3);
    c.hit('x', 0);
    c.hit('x', 1);
    c.hit('y', 2);
    c.hit('y', 3);
    c.hit('y', 4);
    c.hit('z', 5);
    c.hit('z', 6);
    c.hit('new', 7); // full: x (2 events, seen before z) goes, not the new key
    expect([...['x', 'y', 'z', 'new']].map((k) => c.peek(k)?.times.length ?? 0)).toEqual([0, 3, 2, 1]);
  });
});
