/**
 * Payload capture, a per-topic policy: `none` (the default: offsets and counts only),
 * `keys-headers` (record keys and headers), or `full` (keys, headers and values). Captured
 * records pass the masker (the hook the masking stage will fill) before they go into an event.
 * Keys and values are written as UTF-8 text when they are valid UTF-8, else as "base64:…".
 * Compressed batches are decompressed with their codec (off the event loop when large); one that
 * cannot be (its codec's package missing, corrupt data) is noted as `compressed` instead.
 */
import { batches, type KafkaRecord } from '../../protocol/runtime/record-batch.js';
import { CodecError } from '../../protocol/runtime/codecs/index.js';
import { readRecords } from '../../protocol/runtime/record-transform.js';
import type { CapturedRecord } from './events.js';

export type CaptureMode = 'none' | 'keys-headers' | 'full';

export interface CaptureRule {
  /** Topic names; `*` matches any run of characters. */
  topics: string[];
  mode: CaptureMode;
}

/** Applied to every captured record before it is written (masking); may drop fields. */
export type AuditMasker = (topic: string, record: CapturedRecord) => CapturedRecord;

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Captured text per partition and event, at most (keys, header values and values). */
export const CAPTURE_MAX_BYTES = 256 * 1024;

export class CapturePolicy {
  private readonly rules: Array<{ re: RegExp[]; mode: CaptureMode }>;
  private readonly cache = new Map<string, CaptureMode>();

  constructor(rules: readonly CaptureRule[] = [], private readonly masker?: AuditMasker) {
    this.rules = rules.map((r) => ({ re: r.topics.map(globToRegExp), mode: r.mode }));
  }

  get enabled(): boolean {
    return this.rules.some((r) => r.mode !== 'none');
  }

  /** The first matching rule's mode, else none. */
  modeFor(topic: string): CaptureMode {
    let m = this.cache.get(topic);
    if (m === undefined) {
      m = this.rules.find((r) => r.re.some((re) => re.test(topic)))?.mode ?? 'none';
      if (this.cache.size < 10_000) this.cache.set(topic, m);
    }
    return m;
  }

  /** The records of a records field, as the topic's mode captures them (undefined for none). */
  /**
   * The records of a partition as the topic's mode captures them: at most `maxRecords`, and at
   * most `maxBytes` of keys, header values and values (so that an event stays well below the
   * audit topic's message size limit); what is over either is left out.
   */
  async capture(topic: string, records: Buffer | null, maxRecords = 1000, maxBytes = CAPTURE_MAX_BYTES): Promise<CapturedRecord[] | undefined> {
    const mode = this.modeFor(topic);
    if (mode === 'none' || !records || records.length === 0) return undefined;
    const out: CapturedRecord[] = [];
    let bytes = 0;
    for (const b of batches(records)) {
      if (b.control) continue;
      let decoded: KafkaRecord[];
      try {
        decoded = await readRecords(b);
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
        out.push({ offset: Number(b.baseOffset), key: null, headers: [], value: null, compressed: true } as CapturedRecord);
        continue;
      }
      for (const r of decoded) {
        if (out.length >= maxRecords) return out;
        let rec: CapturedRecord = {
          offset: Number(b.baseOffset) + r.offsetDelta,
          key: text(r.key),
          headers: r.headers.map((h) => ({ key: h.key, value: text(h.value) })),
        };
        if (mode === 'full') rec.value = text(r.value);
        if (this.masker) rec = this.masker(topic, rec);
        bytes += (rec.key?.length ?? 0) + (rec.value?.length ?? 0) + rec.headers.reduce((n, h) => n + h.key.length + (h.value?.length ?? 0), 0);
        if (bytes > maxBytes) return out;
        out.push(rec);
      }
    }
    return out;
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function text(b: Buffer | null): string | null {
  if (b === null) return null;
  try {
    return decoder.decode(b);
  } catch {
    return `base64:${b.toString('base64')}`;
  }
}
