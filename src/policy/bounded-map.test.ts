import { describe, expect, it } from 'vitest';
import { BoundedMap } from './bounded-map.js';

describe('BoundedMap', () => {
  it('never holds more than max entries, whatever is added', () => {
    const m = new BoundedMap<string, number>(100);
    for (let i = 0; i < 10_000; i++) {
      m.set(`k${i}`, i);
      expect(m.size).toBeLessThanOrEqual(100);
    }
    expect(m.get('k9999')).toBe(9999);
    expect(m.get('k0')).toBeUndefined();
  });

  it('keeps an entry used since the last turnover through the next one', () => {
    const m = new BoundedMap<string, number>(10);
    m.set('hot', 1);
    for (let i = 0; i < 1_000; i++) {
      m.set(`cold${i}`, i);
      expect(m.get('hot')).toBe(1);
    }
    expect(m.size).toBeLessThanOrEqual(10);
  });

  it('replaces a value in place and counts each key once', () => {
    const m = new BoundedMap<string, number>(4);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3); // a and b move to the older half
    m.set('a', 10);
    expect(m.get('a')).toBe(10);
    expect(m.size).toBe(3);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.get('a')).toBeUndefined();
  });

  it('refuses a bound it cannot keep', () => {
    expect(() => new BoundedMap(1)).toThrow(RangeError);
    expect(() => new BoundedMap(2.5)).toThrow(RangeError);
  });
});
