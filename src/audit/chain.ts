/**
 * Tamper evidence: each proxy instance numbers its events (seq from 0) and chains them — every
 * event carries the SHA-256 of the previous one (`prevhash`) and its own (`hash`, over the
 * canonical JSON of the event without `hash`). Editing an event changes its hash; deleting one
 * leaves a gap in seq and a prevhash that matches nothing; moving one breaks the order within
 * its partition. verifyChain() reports all of these with the Kafka offsets involved.
 */
import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DATA_SCHEMA, eventType, kindOf, SPEC_VERSION, type AuditEvent, type UnchainedEvent } from './events.js';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level: the same bytes whoever re-serializes the event. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

export function eventHash(event: Omit<AuditEvent, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = event;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

// ---- the same canonical JSON, fast, for values fresh from JSON.parse ----

/** One object shape (its own keys, in order) and its keys sorted, each quoted with its colon. */
interface Shape {
  readonly keys: readonly string[];
  readonly sorted: readonly string[];
  readonly quoted: readonly string[];
}

/**
 * Shapes seen, by key count and first key: events are made by a few code paths, so their
 * objects come in a few shapes whose sorted key order is worked out once. Bounded: past the
 * limit a new shape is sorted for each use and not kept.
 */
const shapes = new Map<number, Map<string, Shape[]>>();
let shapeCount = 0;
const MAX_SHAPES = 2048;

function shapeOf(keys: string[]): Shape {
  const first = keys[0]!;
  let byFirst = shapes.get(keys.length);
  let list = byFirst?.get(first);
  if (list) {
    outer: for (const shape of list) {
      const k = shape.keys;
      for (let i = 1; i < keys.length; i++) if (k[i] !== keys[i]) continue outer;
      return shape;
    }
  }
  const sorted = [...keys].sort();
  const shape: Shape = { keys, sorted, quoted: sorted.map((k) => `${JSON.stringify(k)}:`) };
  if (shapeCount < MAX_SHAPES) {
    shapeCount++;
    if (!byFirst) shapes.set(keys.length, (byFirst = new Map()));
    if (!list) byFirst.set(first, (list = []));
    list.push(shape);
  }
  return shape;
}

/**
 * canonicalJson() of a value that JSON.parse made, to the byte. Parsed JSON is plain data, so
 * the fast walk serves it; canonicalJson() takes anything it declines (an own `toJSON` key).
 */
export function canonicalJsonOfParsed(v: unknown): string {
  return canonicalJsonOfPlain(v) ?? canonicalJson(v);
}

/**
 * canonicalJson(JSON.parse(JSON.stringify(v))) without the round trip, for plain data: strings,
 * numbers, booleans, null, arrays and objects made as literals (prototype Object.prototype or
 * null, no toJSON), whose undefined, function and symbol members JSON leaves out (null in
 * arrays) and whose non-finite numbers JSON writes as null. undefined: `v` holds something else
 * (a Date, a Buffer, a class instance, a bigint…); the caller then makes the round trip.
 */
export function canonicalJsonOfPlain(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto === Array.prototype) {
        const a = v as unknown[];
        if ((a as { toJSON?: unknown }).toJSON !== undefined) return undefined;
        if (a.length === 0) return '[]';
        let s = '[';
        for (let i = 0; i < a.length; i++) {
          if (i > 0) s += ',';
          const x = a[i];
          const t = typeof x;
          if (x === undefined || t === 'function' || t === 'symbol') s += 'null';
          else {
            const c = canonicalJsonOfPlain(x);
            if (c === undefined) return undefined;
            s += c;
          }
        }
        return `${s}]`;
      }
      if (proto !== Object.prototype && proto !== null) return undefined;
      const o = v as Record<string, unknown>;
      if (o.toJSON !== undefined) return undefined;
      const keys = Object.keys(o);
      if (keys.length === 0) return '{}';
      const { sorted, quoted } = shapeOf(keys);
      let s = '';
      for (let i = 0; i < sorted.length; i++) {
        const x = o[sorted[i]!];
        const t = typeof x;
        if (x === undefined || t === 'function' || t === 'symbol') continue;
        const c = canonicalJsonOfPlain(x);
        if (c === undefined) return undefined;
        s += s === '' ? '{' : ',';
        s += quoted[i]!;
        s += c;
      }
      return s === '' ? '{}' : `${s}}`;
    }
    default:
      // undefined, functions and symbols are left out by the caller; bigint: JSON.stringify threw already.
      return undefined;
  }
}

/** SHA-256 in hex of a string (UTF-8): one call where Node has crypto.hash (20.12+). */
const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => (crypto as unknown as { hash(alg: string, data: string, enc: 'hex'): string }).hash('sha256', text, 'hex')
    : (text) => createHash('sha256').update(text).digest('hex');

/** A default instance id: host name and a random suffix, new for each process. */
export function defaultInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${randomBytes(4).toString('hex')}`;
}

export class Chain {
  private nextSeq = 0;
  private last = GENESIS_HASH;

  private readonly source: string;

  constructor(readonly instance: string) {
    this.source = `urn:gatehouse:proxy:${instance}`;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get lastHash(): string {
    return this.last;
  }

  /** Stamps an event with the envelope and the chain attributes. Call in the order events happen. */
  stamp<D>(e: UnchainedEvent<D>): AuditEvent<D> {
    return this.stampJson(e).event;
  }

  /**
   * stamp(), and the event as JSON.stringify(event) writes it (the message value), made from
   * the serialization the stamp needs anyway.
   */
  stampJson<D>(e: UnchainedEvent<D>): { event: AuditEvent<D>; json: string } {
    const seq = this.nextSeq++;
    const unhashed = {
      specversion: SPEC_VERSION,
      id: `${this.instance}-${seq}`,
      source: this.source,
      type: eventType(e.kind),
      time: new Date(e.time ?? Date.now()).toISOString(),
      subject: e.subject,
      datacontenttype: 'application/json',
      dataschema: DATA_SCHEMA,
      instance: this.instance,
      seq,
      prevhash: this.last,
      data: e.data,
    } as const;
    // Hash what a reader will see: the event after a JSON round trip (undefined fields gone).
    // The hash is eventHash()'s: SHA-256 of canonicalJson() of the event without `hash`. Plain
    // data (what the recorder makes) is hashed as the round trip would have it, without making
    // it; anything else makes the round trip, and the event holds its result.
    const text = JSON.stringify(unhashed);
    let canonical = canonicalJsonOfPlain(unhashed);
    let event: Omit<AuditEvent<D>, 'hash'> = unhashed as Omit<AuditEvent<D>, 'hash'>;
    if (canonical === undefined) {
      event = JSON.parse(text) as Omit<AuditEvent<D>, 'hash'>;
      canonical = canonicalJsonOfParsed(event);
    }
    const hash = sha256Hex(canonical);
    this.last = hash;
    // `hash` goes last, as in JSON.stringify({ ...event, hash }).
    return { event: { ...event, hash } as AuditEvent<D>, json: `${text.slice(0, -1)},"hash":"${hash}"}` };
  }

}

// ---- verification ----

/** One message of the audit topic as read back. */
export interface StoredMessage {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
}

export type ProblemKind = 'unreadable' | 'altered' | 'gap' | 'broken-link' | 'duplicate' | 'reordered' | 'checkpoint-mismatch';

export interface ChainProblem {
  kind: ProblemKind;
  instance?: string;
  seq?: number;
  partition?: number;
  offset?: string;
  message: string;
}

export interface VerifyReport {
  events: number;
  instances: Record<string, { first: number; last: number; events: number; checkpoints: number }>;
  problems: ChainProblem[];
}

function isEvent(v: unknown): v is AuditEvent {
  const e = v as AuditEvent;
  return !!e && typeof e === 'object' && e.specversion === '1.0' && typeof e.instance === 'string' && Number.isInteger(e.seq) &&
    typeof e.prevhash === 'string' && typeof e.hash === 'string' && typeof e.type === 'string';
}

/**
 * Checks the chains in a set of messages (any order across partitions; offset order within
 * each). `fromStart`: the messages begin at each instance's seq 0 (a full read of the topic);
 * otherwise an instance's chain may begin anywhere (a read from a point in time).
 */
export function verifyChain(messages: Iterable<StoredMessage>, { fromStart = true }: { fromStart?: boolean } = {}): VerifyReport {
  const problems: ChainProblem[] = [];
  const byInstance = new Map<string, Array<{ e: AuditEvent; partition: number; offset: string }>>();
  const lastSeqInPartition = new Map<string, { seq: number; offset: string }>();
  let events = 0;
  for (const m of messages) {
    let e: unknown;
    try {
      e = m.value === null ? null : JSON.parse(m.value);
    } catch {
      e = null;
    }
    if (!isEvent(e) || !kindOf(e.type)) {
      problems.push({ kind: 'unreadable', partition: m.partition, offset: m.offset, message: `partition ${m.partition} offset ${m.offset}: not an audit event` });
      continue;
    }
    events++;
    const at = { partition: m.partition, offset: m.offset };
    if (eventHash(e) !== e.hash) {
      problems.push({ kind: 'altered', instance: e.instance, seq: e.seq, ...at, message: `${e.instance} seq ${e.seq} (partition ${m.partition} offset ${m.offset}): content does not match its hash` });
    }
    const pk = `${e.instance}/${m.partition}`;
    const prev = lastSeqInPartition.get(pk);
    if (prev && e.seq < prev.seq) {
      problems.push({
        kind: 'reordered', instance: e.instance, seq: e.seq, ...at,
        message: `${e.instance} seq ${e.seq} at partition ${m.partition} offset ${m.offset} comes after seq ${prev.seq} (offset ${prev.offset})`,
      });
    }
    lastSeqInPartition.set(pk, { seq: Math.max(e.seq, prev?.seq ?? -1), offset: m.offset });
    let list = byInstance.get(e.instance);
    if (!list) byInstance.set(e.instance, (list = []));
    list.push({ e, ...at });
  }

  const instances: VerifyReport['instances'] = {};
  for (const [instance, list] of byInstance) {
    list.sort((a, b) => a.e.seq - b.e.seq);
    const bySeq = new Map<number, (typeof list)[number]>();
    let checkpoints = 0;
    let expected = fromStart ? 0 : list[0]!.e.seq;
    let prevHash: string | undefined = fromStart ? undefined : list[0]!.e.prevhash;
    for (const item of list) {
      const { e } = item;
      const where = `partition ${item.partition} offset ${item.offset}`;
      const seen = bySeq.get(e.seq);
      if (seen) {
        problems.push({ kind: 'duplicate', instance, seq: e.seq, partition: item.partition, offset: item.offset, message: `${instance} seq ${e.seq} appears twice (partition ${seen.partition} offset ${seen.offset} and ${where})` });
        continue;
      }
      bySeq.set(e.seq, item);
      if (e.seq > expected) {
        const missing = e.seq - expected === 1 ? `seq ${expected}` : `seq ${expected}..${e.seq - 1}`;
        problems.push({ kind: 'gap', instance, seq: expected, partition: item.partition, offset: item.offset, message: `${instance}: ${missing} missing (before ${where})` });
        prevHash = undefined;
      }
      if (e.seq === 0 && e.prevhash !== GENESIS_HASH) {
        problems.push({ kind: 'broken-link', instance, seq: 0, partition: item.partition, offset: item.offset, message: `${instance} seq 0 (${where}) does not start from the genesis hash` });
      } else if (prevHash !== undefined && e.prevhash !== prevHash) {
        problems.push({ kind: 'broken-link', instance, seq: e.seq, partition: item.partition, offset: item.offset, message: `${instance} seq ${e.seq} (${where}): previous-event hash does not match seq ${e.seq - 1}` });
      }
      prevHash = e.hash;
      expected = e.seq + 1;
      if (kindOf(e.type) === 'checkpoint') checkpoints++;
    }
    // Checkpoints vouch for the events before them.
    for (const { e, partition, offset } of list) {
      if (kindOf(e.type) !== 'checkpoint') continue;
      const d = e.data as { lastSeq?: number; lastHash?: string };
      if (typeof d.lastSeq !== 'number' || d.lastSeq < 0) continue;
      const target = bySeq.get(d.lastSeq);
      if (!target) {
        if (fromStart || d.lastSeq >= list[0]!.e.seq) {
          problems.push({ kind: 'checkpoint-mismatch', instance, seq: e.seq, partition, offset, message: `${instance} checkpoint seq ${e.seq} names seq ${d.lastSeq}, which is missing` });
        }
      } else if (target.e.hash !== d.lastHash) {
        problems.push({ kind: 'checkpoint-mismatch', instance, seq: e.seq, partition, offset, message: `${instance} checkpoint seq ${e.seq}: seq ${d.lastSeq} has a different hash than recorded` });
      }
    }
    instances[instance] = { first: list[0]!.e.seq, last: list[list.length - 1]!.e.seq, events: list.length, checkpoints };
  }
  return { events, instances, problems };
}
