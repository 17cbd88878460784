/**
 * One rule on one text (a record's value, key or header value, as the consumer or the audit
 * trail gets it): JSON is parsed, the rule's selectors applied, and the result written back as
 * JSON. Text that is not JSON is a plain string: a rule whose selectors include `$` (the whole
 * value) applies to it as a string; for any other rule it is unparsable, and the rule's onError
 * says what happens (`pass`: unchanged, `withhold`: null).
 */
import type { MaskingRule } from './rules.js';
import { applySelector } from './selectors.js';

export interface MaskedText {
  /** The text to hand on (null: withheld, or a masked plain string that became null). */
  text: string | null;
  /** Fields the rule reached (0: unchanged, unless withheld). */
  matched: number;
  /** The text was not JSON and the rule had no `$` selector. */
  unparsable: boolean;
}

export function maskText(text: string, rule: MaskingRule): MaskedText {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    const whole = rule.fields.filter((f) => f.selector.steps.length === 0);
    if (whole.length === 0) return { text: rule.onError === 'withhold' ? null : text, matched: 0, unparsable: true };
    let v: unknown = text;
    for (const { selector, fn } of whole) v = applySelector(v, selector, fn).value;
    return { text: v === null ? null : typeof v === 'string' ? v : JSON.stringify(v), matched: whole.length, unparsable: false };
  }
  let matched = 0;
  for (const { selector, fn } of rule.fields) {
    const r = applySelector(doc, selector, fn);
    doc = r.value;
    matched += r.matched;
  }
  return { text: matched === 0 ? text : JSON.stringify(doc), matched, unparsable: false };
}
