/**
 * Masks in the audit trail: payload capture (src/audit/capture.ts) passes every captured record
 * through this before it is written, and every masking rule for the record's topic applies,
 * whoever the reader was. An exempt reader sees the clear value; the trail never holds it.
 * A captured value that is not JSON follows the rule's onError, as for consumers: `withhold`
 * writes null, `pass` writes it as captured.
 */
import type { AuditMasker } from '../audit/capture.js';
import type { CapturedRecord } from '../audit/events.js';
import { maskText } from './apply.js';
import type { MaskingRule, MaskingRules } from './rules.js';

/** The masker for the policy in force (`rules()` is read for each record: hot reloads apply). */
export function auditMasker(rules: () => MaskingRules): AuditMasker {
  return (topic, record) => {
    const applying = rules().rules.filter((r) => r.topics.some((p) => p.matches(topic)));
    if (applying.length === 0) return record;
    const out: CapturedRecord = { ...record, headers: record.headers.map((h) => ({ ...h })) };
    const masked = (text: string | null | undefined, rule: MaskingRule): string | null | undefined => (text === null || text === undefined ? text : maskText(text, rule).text);
    for (const rule of applying) {
      if (rule.part === 'value') out.value = masked(out.value, rule);
      else if (rule.part === 'key') out.key = masked(out.key, rule) ?? null;
      else {
        const name = rule.part.slice('header:'.length);
        for (const h of out.headers) if (h.key === name) h.value = masked(h.value, rule) ?? null;
      }
    }
    return out;
  };
}
