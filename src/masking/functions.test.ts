/**
 * The masking functions: what each does to strings, numbers and the rest; deterministic tokens
 * equal for equal inputs and unrelated across keys; format-preserving output of the input's
 * shape; specs that cannot be honoured refused with the reason.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DROP, maskFunction, type MaskingKey } from './functions.js';

const key = (id: string, secret = `secret-${id}`): MaskingKey => ({ id, secret: Buffer.from(secret) });

describe('masking functions', () => {
  it('redact keeps the type: text for strings, zero for numbers, false for booleans, null stays null', () => {
    const f = maskFunction({ fn: 'redact' });
    expect([f('4111 1111'), f(42), f(true), f(null), f({ a: 1 })]).toEqual(['****', 0, false, null, '****']);
    expect(maskFunction({ fn: 'redact', text: '[hidden]' })('x')).toBe('[hidden]');
  });

  it('nullify and drop', () => {
    expect(maskFunction({ fn: 'nullify' })('x')).toBeNull();
    expect(maskFunction({ fn: 'drop' })('x')).toBe(DROP);
  });

  it('keepLast and keepFirst count characters, not UTF-16 units, and never show more than asked', () => {
    expect(maskFunction({ fn: 'keepLast', n: 4 })('4111111111111234')).toBe('************1234');
    expect(maskFunction({ fn: 'keepFirst', n: 2, char: '#' })('DE89370400440532013000')).toBe('DE' + '#'.repeat(20));
    expect(maskFunction({ fn: 'keepLast', n: 1 })('😀😀😀')).toBe('**😀');
    expect(maskFunction({ fn: 'keepLast', n: 10 })('abc')).toBe('abc');
    expect(maskFunction({ fn: 'keepLast', n: 0 })(1234)).toBe('****');
    fc.assert(
      fc.property(fc.string(), fc.nat(20), (s, n) => {
        const out = maskFunction({ fn: 'keepLast', n })(s) as string;
        expect([...out]).toHaveLength([...s].length);
        expect(out.endsWith([...s].slice(Math.max(0, [...s].length - n)).join(''))).toBe(true);
      }),
    );
  });

  it('token: equal for equal values under one key, different across keys and types, the key id written in', () => {
    const a = maskFunction({ fn: 'token', key: key('k1') });
    const b = maskFunction({ fn: 'token', key: key('k2') });
    expect(a('Jane Doe')).toBe(a('Jane Doe'));
    expect(a('Jane Doe')).toMatch(/^tok_k1_[\w-]{22}$/);
    expect(a('Jane Doe')).not.toBe(a('John Doe'));
    expect(String(b('Jane Doe')).slice(7)).not.toBe(String(a('Jane Doe')).slice(7));
    expect(a(1)).not.toBe(a('1'));
    expect(a(null)).toBeNull();
  });

  it('formatPreserving: digits replaced deterministically, length and separators kept, numbers stay numbers where they can', () => {
    const f = maskFunction({ fn: 'formatPreserving', key: key('k1') });
    const card = '4111-1111-1111-1234';
    const out = f(card) as string;
    expect(out).toMatch(/^\d{4}-\d{4}-\d{4}-\d{4}$/);
    expect(out).not.toBe(card);
    expect(f(card)).toBe(out);
    expect(maskFunction({ fn: 'formatPreserving', key: key('k2') })(card)).not.toBe(out);
    expect(f('+49 (0)30 123456')).toMatch(/^\+\d\d \(\d\)\d\d \d{6}$/);
    fc.assert(
      fc.property(fc.string(), (s) => {
        const o = f(s) as string;
        expect([...o].length).toBe([...s].length);
        expect(o.replace(/\d/g, '0')).toBe(s.replace(/\d/g, '0'));
      }),
    );
    expect(typeof f(123456)).toBe('number');
  });

  it('regex replaces in strings only', () => {
    const f = maskFunction({ fn: 'regex', pattern: '\\b[\\w.]+@([\\w.]+)\\b', replacement: '***@$1' });
    expect(f('mail jane.doe@example.com now')).toBe('mail ***@example.com now');
    expect(f(5)).toBe(5);
  });

  it('refuses specs it cannot honour, with the reason', () => {
    expect(() => maskFunction({ fn: 'keepLast', n: -1 })).toThrow(/whole number/);
    expect(() => maskFunction({ fn: 'keepFirst', n: 2, char: '**' })).toThrow(/one character/);
    expect(() => maskFunction({ fn: 'regex', pattern: '(', replacement: '' })).toThrow(/regex/);
  });
});
