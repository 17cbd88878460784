/**
 * Captured records in the audit trail: every rule for the topic applies whoever read them
 * (exempt and only are about consumers, not the trail); non-JSON follows the rule's onError.
 */
import { describe, expect, it } from 'vitest';
import { auditMasker } from './audit-masker.js';
import { compileMasking } from './rules.js';
import { maskingSchema } from './schema.js';

const rules = compileMasking(
  maskingSchema.parse({
    rules: [
      { name: 'num', topics: ['pay*'], fields: ['card.number'], mask: { fn: 'keepLast', n: 4 }, exempt: { roles: ['admin'] } },
      { name: 'key', topics: ['pay*'], part: 'key', fields: ['$'], mask: { fn: 'redact' }, only: { roles: ['nobody'] }, onError: 'withhold' },
      { name: 'hdr', topics: ['pay*'], part: 'header:customer', fields: ['email'], mask: { fn: 'nullify' }, onError: 'withhold' },
    ],
  }),
);
const mask = auditMasker(() => rules);

describe('audit masker', () => {
  it('applies every rule of the topic, exempt or only notwithstanding', () => {
    const out = mask('payments', { offset: 1, key: '"k1"', headers: [], value: JSON.stringify({ card: { number: '4111111111111234' } }) });
    expect(JSON.parse(out.value!)).toEqual({ card: { number: '************1234' } });
    expect(out.key).toBe('"****"');
  });

  it('masks a plain-string key as a whole ($), withholds what a field rule cannot parse, and leaves other topics alone', () => {
    const out = mask('payments', { key: 'not json', headers: [{ key: 'customer', value: 'jane@example.com' }, { key: 'other', value: 'x' }], value: 'also not json' });
    expect(out).toEqual({ key: '****', headers: [{ key: 'customer', value: null }, { key: 'other', value: 'x' }], value: 'also not json' });
    expect(mask('payments', { key: null, headers: [{ key: 'customer', value: '{"email":"j@x","id":1}' }] }).headers).toEqual([{ key: 'customer', value: '{"email":null,"id":1}' }]);
    const other = { key: 'x', headers: [], value: '{"card":{"number":"4111"}}' };
    expect(mask('orders', other)).toBe(other);
  });
});
