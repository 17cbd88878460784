/**
 * Masking rules compiled from the policy file: who a rule applies to (exempt / only by role,
 * group, principal), which topics, and every problem refused at load time naming its rule.
 */
import { describe, expect, it } from 'vitest';
import { Policy } from '../policy/authorizer.js';
import { policySchema } from '../policy/schema.js';
import { compileMasking } from './rules.js';
import { maskingSchema } from './schema.js';

const section = (rules: unknown[], keys: unknown = {}) => maskingSchema.parse({ keys, rules });
const reader = (roles: string[], groups: string[] = [], name = 'someone') => ({ name, groups, roles });

describe('masking rules', () => {
  it('applies by topic pattern; exempt and only by role, group or principal', () => {
    const rules = compileMasking(
      section([
        { name: 'all-but-admins', topics: ['payments_*'], fields: ['card.number'], mask: { fn: 'redact' }, exempt: { roles: ['admin'], principals: ['auditor-bot'] } },
        { name: 'analytics-only', topics: 'payments_*', fields: ['card.holder'], mask: { fn: 'nullify' }, only: { groups: ['analytics'] } },
      ]),
    );
    expect(rules.forTopic('payments_eu', reader([])).map((r) => r.name)).toEqual(['all-but-admins']);
    expect(rules.forTopic('payments_eu', reader(['admin'])).map((r) => r.name)).toEqual([]);
    expect(rules.forTopic('payments_eu', reader([], [], 'auditor-bot')).map((r) => r.name)).toEqual([]);
    expect(rules.forTopic('payments_eu', reader([], ['analytics'])).map((r) => r.name)).toEqual(['all-but-admins', 'analytics-only']);
    expect(rules.forTopic('orders', reader([]))).toEqual([]);
    expect(rules.mayMask('payments_x')).toBe(true);
    expect(rules.mayMask('orders')).toBe(false);
  });

  it('refuses at load time, naming the rule: unknown or unset keys, bad selectors, bad regexes', () => {
    expect(() => compileMasking(section([{ name: 'tok', topics: ['t'], fields: ['a'], mask: { fn: 'token', key: 'nope' } }]))).toThrow(/masking rule tok: key nope/);
    expect(() => compileMasking(section([], { k1: { env: 'GH_TEST_UNSET_MASKING_KEY' } }), {})).toThrow(/masking key k1: environment variable GH_TEST_UNSET_MASKING_KEY is not set/);
    expect(() => compileMasking(section([{ name: 'sel', topics: ['t'], fields: ['a[x]'], mask: { fn: 'redact' } }]))).toThrow(/masking rule sel: selector/);
    expect(() => compileMasking(section([{ name: 're', topics: ['t'], fields: ['a'], mask: { fn: 'regex', pattern: '(', replacement: '' } }]))).toThrow(/masking rule re: regex/);
    expect(maskingSchema.safeParse({ rules: [{ name: 'both', topics: ['t'], fields: ['a'], mask: { fn: 'redact' }, exempt: {}, only: {} }] }).success).toBe(false);
  });

  it('a key from the environment works; a policy whose masking cannot compile is refused whole', () => {
    const rules = compileMasking(section([{ name: 'tok', topics: ['t'], fields: ['a'], mask: { fn: 'token', key: 'k1' } }], { k1: { env: 'GH_MASK' } }), { GH_MASK: 'x'.repeat(20) });
    expect(rules.rules).toHaveLength(1);
    const doc = policySchema.parse({ roles: {}, masking: { rules: [{ name: 'tok', topics: ['t'], fields: ['a'], mask: { fn: 'token', key: 'missing' } }] } });
    expect(() => new Policy(doc)).toThrow(/masking rule tok/);
    expect(new Policy(policySchema.parse({ roles: {} })).masking.empty).toBe(true);
  });
});
