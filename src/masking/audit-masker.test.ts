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

  it('withholds what it cannot parse where the rule says so, and leaves other topics alone', () => {
    expect(mask('payments', { key: 'not json', headers: [], value: 'also not json' })).toEqual({ key: null, headers: [], value: 'also not json' });
    const other = { key: 'x', headers: [], value: '{"card":{"number":"4111"}}' };
    expect(mask('orders', other)).toBe(other);
  });
});
