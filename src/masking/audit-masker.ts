/**
 * Masks in the audit trail: payload capture (src/audit/capture.ts) passes every captured record
 * through this before it is written, and every masking rule for the record's topic applies,
 * whoever the reader was. An exempt reader sees the clear value; the trail never holds it.
 * A captured value that is not JSON follows the rule's onError, as for consumers: `withhold`
 * writes null, `pass` writes it as captured.
 */
import type { AuditMasker } from '../audit/capture.js';
import type { CapturedRecord } from '../audit/events.js';
import type { MaskingRules } from './rules.js';
import { applySelector } from './selectors.js';

/** The masker for the policy in force (`rules()` is read for each record: hot reloads apply). */
export function auditMasker(rules: () => MaskingRules): AuditMasker {
  return (topic, record) => {
    const applying = rules().rules.filter((r) => r.topics.some((p) => p.matches(topic)));
    if (applying.length === 0) return record;
    const out: CapturedRecord = { ...record };
    for (const rule of applying) {
      const text = rule.part === 'value' ? out.value : out.key;
      if (text === null || text === undefined) continue;
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        if (rule.onError === 'withhold') {
          if (rule.part === 'value') out.value = null;
          else out.key = null;
        }
        continue;
      }
      let matched = 0;
      for (const { selector, fn } of rule.fields) {
        const r = applySelector(doc, selector, fn);
        doc = r.value;
        matched += r.matched;
      }
      if (matched === 0) continue;
      if (rule.part === 'value') out.value = JSON.stringify(doc);
      else out.key = JSON.stringify(doc);
    }
    return out;
  };
}
