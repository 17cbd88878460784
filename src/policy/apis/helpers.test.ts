import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import { ErrorCode } from '../model.js';
import { authorizedOpsWithin, gate, genericDenial, splitItems, type ItemSplit } from './helpers.js';
import { allowOnly, fakeContext } from './test-kit.js';

type Entry = { name: string; code: number; from: string };

function split(items: string[], denied: string[], extra: Partial<ItemSplit<string, Entry>> = {}) {
  return splitItems<string, Entry>({
    items,
    code: (n) => (denied.includes(n) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : 0),
    request: (kept) => ({ items: kept }),
    denied: (name, code) => ({ name, code, from: 'proxy' }),
    results: (res) => res.entries,
    withResults: (res, entries) => ({ ...res, entries }),
    empty: () => ({ throttle: 0, entries: [] }),
    key: (n) => n,
    resultKey: (r) => r.name,
    ...extra,
  });
}

const broker = (...names: string[]) => ({ throttle: 9, entries: names.map((name) => ({ name, code: 0, from: 'broker' })) });

describe('splitItems', () => {
  it('nothing denied: allow, or filter when answers are post-processed', () => {
    expect(split(['a'], []).kind).toBe('allow');
    expect(split(['a'], [], { finish: (r) => r }).kind).toBe('filter');
  });
  it('merges in request order, keeps the broker fields, appends entries matching no item', () => {
    const o = split(['b', 'a', 'c'], ['a']);
    if (o.kind !== 'split') throw new Error(o.kind);
    expect(o.request).toEqual({ items: ['b', 'c'] });
    const merged = o.merge(broker('c', 'b', 'x')) as { throttle: number; entries: Entry[] };
    expect(merged.throttle).toBe(9);
    expect(merged.entries.map((e) => [e.name, e.from])).toEqual([
      ['b', 'broker'],
      ['a', 'proxy'],
      ['c', 'broker'],
      ['x', 'broker'],
    ]);
  });
  it('dropUnmatched leaves out broker entries matching no forwarded item', () => {
    const o = split(['a', 'b'], ['a'], { dropUnmatched: true });
    if (o.kind !== 'split') throw new Error(o.kind);
    expect((o.merge(broker('a', 'b', 'x')) as { entries: Entry[] }).entries.map((e) => [e.name, e.from])).toEqual([
      ['a', 'proxy'],
      ['b', 'broker'],
    ]);
  });
  it('everything denied: deny with the proxy entries, unless the request must be forwarded anyway', () => {
    const o = split(['a', 'b'], ['a', 'b']);
    expect(o.kind).toBe('deny');
    expect(o.kind === 'deny' && (o.response as { entries: Entry[] }).entries.map((e) => e.name)).toEqual(['a', 'b']);
    expect(split(['a'], ['a'], { alwaysForward: true }).kind).toBe('split');
  });
  it('gate asks once per name', () => {
    const ctx = fakeContext(0, allowOnly('Read topic:a'));
    const ok = gate(ctx, 'topic', 'Read');
    expect([ok('a'), ok('b'), ok('a')]).toEqual([true, false, true]);
    expect(ctx.asked).toEqual(['Read topic:a', 'Read topic:b']);
  });
  it('genericDenial sets the top-level errorCode on a fresh default each time', () => {
    const a = genericDenial(ApiKey.Heartbeat, 4, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    expect(a).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
    expect(genericDenial(ApiKey.Heartbeat, 4, 0).errorCode).toBe(0);
    expect(() => genericDenial(1000, 0, 1)).toThrow();
  });
});

describe('authorized operations within what the broker reports', () => {
  it('keeps only what both allow, and the policy alone when the broker omitted them', () => {
    const READ = 1 << 3, DESCRIBE = 1 << 8, DELETE = 1 << 6, DESCRIBE_CONFIGS = 1 << 10;
    const policy = READ | DESCRIBE | DELETE | DESCRIBE_CONFIGS; // Kafka 4's group operations
    const broker39 = READ | DESCRIBE | DELETE; // a 3.9 broker's: groups have no configs
    expect(authorizedOpsWithin(policy, broker39)).toBe(broker39);
    expect(authorizedOpsWithin(READ, broker39)).toBe(READ);
    expect(authorizedOpsWithin(policy, -2147483648)).toBe(policy); // AUTHORIZED_OPERATIONS_OMITTED
    expect(authorizedOpsWithin(policy, undefined)).toBe(policy);
  });
});
