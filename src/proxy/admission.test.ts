/**
 * The limits for strangers on their own: the frame limit before and after admission, the login
 * deadline (fake timers), and the per-address share of connections not admitted yet.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Admissions, type ConnectionAdmission } from './admission.js';
import { FrameReader } from './frame-reader.js';

const STRANGERS = { maxFrameBytes: 512 * 1024, timeoutMs: 10_000, perAddress: 3 };

function opened(a: Admissions, address: string): ConnectionAdmission {
  const got = a.open(address);
  if (typeof got === 'string') throw new Error(got);
  return got;
}

function sizePrefix(size: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(size);
  return b;
}

describe('connection admission', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('without a stage that admits, every connection has the ordinary limits from the start', () => {
    const a = new Admissions(100 * 1024 * 1024, null);
    for (let i = 0; i < 10; i++) {
      const c = opened(a, '10.0.0.1');
      expect(c.admitted).toBe(true);
      expect(c.maxFrameBytes).toBe(100 * 1024 * 1024);
      const expire = vi.fn();
      c.start(expire);
      vi.advanceTimersByTime(60_000);
      expect(expire).not.toHaveBeenCalled();
    }
    expect(a.waitingFrom('10.0.0.1')).toBe(0);
  });

  it('applies the small frame limit until admitted, then the ordinary one', () => {
    const a = new Admissions(100 * 1024 * 1024, STRANGERS);
    const c = opened(a, '10.0.0.1');
    expect(c.admitted).toBe(false);
    const frames = new FrameReader(c, 'client request', true);
    expect(() => frames.push(sizePrefix(512 * 1024 + 1))).toThrow(
      /^client request: frame of 524289 bytes exceeds the limit of 524288 before login \(limits\.maxUnauthenticatedFrameBytes\)$/,
    );
    const after = new FrameReader(c, 'client request', true);
    expect(after.push(sizePrefix(512 * 1024))).toEqual([]); // announced at the limit: taken
    c.admit();
    expect(c.admitted).toBe(true);
    expect(c.maxFrameBytes).toBe(100 * 1024 * 1024);
    const big = new FrameReader(c, 'client request', true);
    expect(big.push(sizePrefix(50 * 1024 * 1024))).toEqual([]);
    expect(() => new FrameReader(c, 'client request', true).push(sizePrefix(100 * 1024 * 1024 + 1))).toThrow(/exceeds the limit of 104857600$/);
  });

  it('closes a connection not admitted by the deadline, with the reason; an admitted one is left alone', () => {
    const a = new Admissions(1 << 20, STRANGERS);
    const late = opened(a, '10.0.0.1');
    const onTime = opened(a, '10.0.0.1');
    const expiredLate = vi.fn();
    const expiredOnTime = vi.fn();
    late.start(expiredLate);
    onTime.start(expiredOnTime);
    vi.advanceTimersByTime(9_999);
    onTime.admit();
    expect(expiredLate).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expiredLate).toHaveBeenCalledWith('no login within 10000 ms of connecting (limits.loginTimeoutMs)');
    vi.advanceTimersByTime(60_000);
    expect(expiredOnTime).not.toHaveBeenCalled();
    // A connection closed before its deadline is not expired either.
    const gone = opened(a, '10.0.0.2');
    const expiredGone = vi.fn();
    gone.start(expiredGone);
    gone.end();
    vi.advanceTimersByTime(60_000);
    expect(expiredGone).not.toHaveBeenCalled();
  });

  it('refuses an address that holds its share of connections not admitted yet, until one logs in or closes', () => {
    const a = new Admissions(1 << 20, STRANGERS);
    const held = [opened(a, '10.0.0.1'), opened(a, '10.0.0.1'), opened(a, '::ffff:10.0.0.1')];
    expect(a.waitingFrom('10.0.0.1')).toBe(3);
    expect(a.open('10.0.0.1')).toBe('10.0.0.1 already holds 3 connections that have not logged in (limits.maxUnauthenticatedConnectionsPerAddress)');
    expect(a.open('::ffff:10.0.0.1')).toMatch(/^10\.0\.0\.1 already holds 3/);
    // Other addresses are not affected.
    expect(opened(a, '10.0.0.2').admitted).toBe(false);
    // One logs in: a place is free; admitting or ending twice frees it once.
    held[0]!.admit();
    held[0]!.admit();
    held[0]!.end();
    expect(a.waitingFrom('10.0.0.1')).toBe(2);
    const next = opened(a, '10.0.0.1');
    expect(typeof a.open('10.0.0.1')).toBe('string');
    // One closes: a place is free.
    next.end();
    next.end();
    expect(a.waitingFrom('10.0.0.1')).toBe(2);
    held[1]!.end();
    held[2]!.admit();
    expect(a.waitingFrom('10.0.0.1')).toBe(0);
    // A closed connection stays what it was (not admitted); admitting it afterwards changes nothing.
    held[1]!.admit();
    expect(held[1]!.admitted).toBe(false);
    expect(a.waitingFrom('10.0.0.1')).toBe(0);
  });
});
