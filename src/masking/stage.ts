/**
 * The masking stage (issue 12): Fetch answers carrying a topic a masking rule applies to, for the
 * reader's roles, groups or name, have those partitions' batches decompressed, the selected
 * fields of each record's value (or key) replaced, and re-encoded with their own codec and a
 * fresh CRC (record-transform.ts). Every other Fetch keeps the fast path: the stage asks to hold
 * an answer only when its fetch session (src/apis/fetch-session.ts) holds such a topic, and
 * within a held answer every other partition leaves as the broker's bytes.
 *
 * A value that is not JSON follows its rule: `pass` leaves it (counted), `withhold` makes it
 * null (counted); the connection goes on either way. Produce is never masked: the broker keeps
 * the clear value.
 */
import { Counter, Registry } from 'prom-client';
import { ApiKey } from '../../protocol/generated/index.js';
import type { FetchResponse } from '../../protocol/generated/fetch-response.js';
import type { KafkaRecord } from '../../protocol/runtime/record-batch.js';
import { transformRecords } from '../../protocol/runtime/record-transform.js';
import { sessionAt } from '../apis/fetch-session.js';
import { getPrincipal } from '../identity/principal.js';
import type { PolicySource } from '../policy/store.js';
import type { TopicIds } from '../policy/topic-ids.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { isRequest, isResponse, type InterceptedRequest, type InterceptedResponse, type Stage } from '../stage/stage.js';
import { maskText } from './apply.js';
import type { MaskingRule, MaskingRules, Reader } from './rules.js';

export const maskingRegistry = new Registry();
const maskedFields = new Counter({ name: 'gatehouse_masking_fields_total', help: 'Fields masked in records handed to consumers, by rule', labelNames: ['rule'], registers: [maskingRegistry] });
const unparsable = new Counter({
  name: 'gatehouse_masking_unparsable_total',
  help: 'Record values or keys a masking rule could not parse, by rule and what was done (pass: handed on unchanged, withhold: nulled)',
  labelNames: ['rule', 'action'],
  registers: [maskingRegistry],
});

const READER = Symbol('masking reader');

/** What a rule masked in one partition of a Fetch answer (never the values): for the audit event. */
export interface MaskedPartition {
  topic: string;
  partition: number;
  rule: string;
  /** value, key, or header:<name>. */
  part: string;
  /** Fields the rule reached. */
  fields: number;
  /** Values it withheld (not parseable, onError withhold). */
  withheld: number;
}

const MASKED = new WeakMap<InterceptedRequest, MaskedPartition[]>();

/** What masking did to this request's answer (empty when nothing was masked). */
export function maskedIn(req: InterceptedRequest): readonly MaskedPartition[] {
  return MASKED.get(req) ?? [];
}

type Tally = Map<string, { part: string; fields: number; withheld: number }>;

export interface MaskingStageOptions {
  /** The policy in force: its masking section (and roles, to know who reads). */
  source: PolicySource;
  /** Topic names for ids (Fetch v13+), shared with policy and audit. */
  topicIds: TopicIds;
}

export class MaskingStage implements Stage {
  readonly name = 'masking';
  readonly interest = { requests: new Set<number>([ApiKey.Fetch]) };
  constructor(private readonly opts: MaskingStageOptions) {}

  onRequest(req: InterceptedRequest): void {
    if (!isRequest(req, ApiKey.Fetch)) return;
    const rules = this.opts.source.policy.masking;
    if (rules.empty) return;
    const session = sessionAt(req);
    const topics = session ? [...session.values()] : req.skim().topics;
    const reader = this.readerOf(req.connection);
    const masks = topics.some((t) => {
      const name = t.topic || this.opts.topicIds.name(t.topicId);
      return name === undefined ? rules.rules.length > 0 : rules.forTopic(name, reader).length > 0;
    });
    if (masks) req.interceptResponse((res) => this.mask(res, rules, reader));
  }

  /** The reader as the rules see it: name, groups and roles under the policy in force (kept per policy generation and login). */
  private readerOf(conn: ConnectionInfo): Reader {
    const p = getPrincipal(conn);
    const gen = this.opts.source.generation;
    const cached = conn.attributes.get(READER) as { gen: number; at: number; reader: Reader } | undefined;
    if (cached && cached.gen === gen && cached.at === (p?.authenticatedAt ?? 0)) return cached.reader;
    const subject = p ? { name: p.name, source: p.source, groups: p.groups, claims: p.claims } : { name: 'ANONYMOUS', groups: [], claims: {} };
    const reader: Reader = { name: subject.name, groups: subject.groups, roles: this.opts.source.policy.rolesFor(subject).map((r) => r.name) };
    conn.attributes.set(READER, { gen, at: p?.authenticatedAt ?? 0, reader });
    return reader;
  }

  private async mask(res: InterceptedResponse, rules: MaskingRules, reader: Reader): Promise<void> {
    if (!isResponse(res, ApiKey.Fetch) || res.synthetic) return;
    const body: FetchResponse = res.body();
    let modified = false;
    for (const t of body.responses) {
      const name = t.topic || this.opts.topicIds.name(t.topicId);
      // A topic whose id is still unknown here is masked by every rule that could apply to any topic: never the clear value.
      const applying = name === undefined ? rules.rules.filter((r) => r.appliesTo(reader)) : rules.forTopic(name, reader);
      if (applying.length === 0) continue;
      for (const p of t.partitions) {
        if (!p.records || p.records.length === 0) continue;
        const tally: Tally = new Map();
        const records = await transformRecords(p.records, (recs) => this.edit(recs, applying, tally));
        if (records !== p.records) {
          p.records = records;
          modified = true;
        }
        for (const [rule, n] of tally) {
          let list = MASKED.get(res.request);
          if (!list) MASKED.set(res.request, (list = []));
          list.push({ topic: name ?? t.topicId, partition: p.partitionIndex, rule, ...n });
        }
      }
    }
    if (modified) res.setBody(body);
  }

  /** The records of one batch with the rules applied; undefined when nothing changed. */
  private edit(records: KafkaRecord[], rules: readonly MaskingRule[], tally: Tally): KafkaRecord[] | undefined {
    let changed = false;
    /** The rule on one field's bytes: the bytes to hand on, or undefined when they stay as they are. */
    const masked = (bytes: Buffer | null, rule: MaskingRule): Buffer | null | undefined => {
      if (bytes === null) return undefined;
      const m = maskText(bytes.toString('utf8'), rule);
      if (m.unparsable) unparsable.inc({ rule: rule.name, action: rule.onError });
      if (m.matched > 0) maskedFields.inc({ rule: rule.name }, m.matched);
      if (m.matched === 0 && m.text !== null) return undefined;
      let t = tally.get(rule.name);
      if (!t) tally.set(rule.name, (t = { part: rule.part, fields: 0, withheld: 0 }));
      if (m.matched > 0) t.fields += m.matched;
      else t.withheld++;
      changed = true;
      return m.text === null ? null : Buffer.from(m.text, 'utf8');
    };
    for (const r of records) {
      for (const rule of rules) {
        if (rule.part === 'value') {
          const v = masked(r.value, rule);
          if (v !== undefined) r.value = v;
        } else if (rule.part === 'key') {
          const k = masked(r.key, rule);
          if (k !== undefined) r.key = k;
        } else {
          const name = rule.part.slice('header:'.length);
          for (const h of r.headers) {
            if (h.key !== name) continue;
            const v = masked(h.value, rule);
            if (v !== undefined) h.value = v;
          }
        }
      }
    }
    return changed ? records : undefined;
  }
}
