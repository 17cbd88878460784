/**
 * Field selectors: nested members, array elements, recursive descent, wildcards and quoted
 * names reach exactly the fields they name; DROP removes a member (an array keeps its length);
 * selectors that are not selectors are refused with where and why.
 */
import { describe, expect, it } from 'vitest';
import { maskFunction } from './functions.js';
import { applySelector, parseSelector } from './selectors.js';

const redact = maskFunction({ fn: 'redact' });
const apply = (value: unknown, selector: string, fn = redact) => applySelector(structuredClone(value), parseSelector(selector), fn);

const payment = {
  id: 7,
  card: { number: '4111111111111234', holder: 'Jane Doe', expiry: '12/29' },
  items: [{ sku: 'a', iban: 'DE89370400440532013000' }, { sku: 'b', iban: 'FR7630006000011234567890189' }, { sku: 'c' }],
  contact: { email: 'jane@example.com', backup: { email: 'j@example.org' } },
  'odd.name': 'x',
};

describe('masking selectors', () => {
  it('a nested member, with or without $', () => {
    for (const s of ['card.number', '$.card.number', "card['number']"]) {
      const { value, matched } = apply(payment, s);
      expect(matched).toBe(1);
      expect((value as typeof payment).card).toEqual({ ...payment.card, number: '****' });
      expect((value as typeof payment).items).toEqual(payment.items);
    }
  });

  it('every element of an array, and one element', () => {
    const all = apply(payment, 'items[*].iban');
    expect(all.matched).toBe(2);
    expect((all.value as typeof payment).items).toEqual([{ sku: 'a', iban: '****' }, { sku: 'b', iban: '****' }, { sku: 'c' }]);
    const one = apply(payment, 'items[1].iban');
    expect(one.matched).toBe(1);
    expect((one.value as typeof payment).items.map((i) => i.iban)).toEqual([payment.items[0]!.iban, '****', undefined]);
  });

  it('recursive descent reaches the name at any depth', () => {
    const { value, matched } = apply(payment, '$..email');
    expect(matched).toBe(2);
    expect((value as typeof payment).contact).toEqual({ email: '****', backup: { email: '****' } });
  });

  it('wildcard members, quoted names, the whole value', () => {
    const card = apply(payment, 'card.*');
    expect(card.matched).toBe(3);
    expect((card.value as typeof payment).card).toEqual({ number: '****', holder: '****', expiry: '****' });
    expect((apply(payment, "$['odd.name']").value as Record<string, unknown>)['odd.name']).toBe('****');
    expect(apply('4111', '$', maskFunction({ fn: 'keepLast', n: 2 }))).toEqual({ value: '**11', matched: 1 });
  });

  it('drop removes members and leaves array positions in place', () => {
    const drop = maskFunction({ fn: 'drop' });
    const v = apply(payment, 'card.holder', drop).value as typeof payment;
    expect(Object.keys(v.card)).toEqual(['number', 'expiry']);
    const arr = apply({ a: [1, 2, 3] }, 'a[1]', drop).value as { a: unknown[] };
    expect(arr.a).toEqual([1, null, 3]);
  });

  it('reaches nothing where the value has no such field, and leaves the value as it was', () => {
    for (const s of ['card.cvv', 'items[9].iban', 'id.x', '$..nothing', 'card[0]']) {
      const { value, matched } = apply(payment, s);
      expect(matched, s).toBe(0);
      expect(value).toEqual(payment);
    }
  });

  it('refuses what is not a selector, saying where', () => {
    expect(() => parseSelector('card..')).toThrow(/at \d+: a member name must follow/);
    expect(() => parseSelector('items[')).toThrow(/without "\]"/);
    expect(() => parseSelector('items[x]')).toThrow(/neither/);
    expect(() => parseSelector('a b')).toThrow(/unexpected/);
  });
});
