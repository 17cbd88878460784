/**
 * Differential fuzzing against the real broker (issue "Compatibility"): over mutated captured
 * request frames of every API, a request the broker answers without closing the connection is
 * never closed or left unanswered by the proxy.
 *
 * Each case is one mutated frame followed, on the same new connection, by a well-formed sentinel
 * ApiVersions v3 request. The broker (and the proxy) handle a connection's requests in order, so
 * the sentinel's answer means the connection survived the mutated request; a close before it
 * means it did not. Produce with acks=0 has no response of its own, and the sentinel still tells.
 * The case runs once directly against the broker and once through the proxy. The property:
 * broker answered ⇒ proxy answered, with the same correlation ids in the same order. The other
 * way round (the broker closes, the proxy answers) is allowed and only counted.
 *
 * Deterministic: a seeded PRNG picks the mutations, so a counterexample is reproduced by running
 * the test again. Requests that could hurt other tests on the shared broker are made harmless:
 * destructive APIs only get mutations that leave their fields as parsed (trailing bytes, tagged
 * fields), on renamed resources or with validateOnly set; SASL requests are not sent at all.
 */
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiCodec, ApiKey, readRequestHeader, writeRequestHeader } from '../../protocol/generated/index.js';
import { Reader, Writer, type TaggedField } from '../../protocol/runtime/index.js';
import { FrameReader, joinFrame } from '../../src/proxy/frame-reader.js';
import { connIdOf } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { decodeFrame, encodeFrame, loadFrame, loadIndex, type FixtureEntry } from '../protocol/fixtures.js';

const kafkaBootstrap = inject('kafkaBootstrap');

const SEED = 0x6a7e_2026;
/** Captured request frames taken per (API, version): from different clients where there are. */
const FIXTURES_PER_VERSION = 3;
/** Times each fixture goes through PLAN (with fresh random choices). */
const ROUNDS = 2;
/** How long a case waits for the sentinel's answer before calling it a timeout. */
const CASE_TIMEOUT_MS = 3000;
/** Cases in flight at once (each one runs broker then proxy, one after the other). */
const CONCURRENCY = 8;

/** Never sent: they change the connection's authentication state. */
const NEVER_SENT = new Set<number>([ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);
/**
 * Requests that change shared state. They are covered, but only with mutations that keep the
 * fields as the broker parses them (bytes after the last field, tagged-field entries of their
 * true size), on resources renamed to this run's own, and with validateOnly set where the
 * request has it.
 */
const DESTRUCTIVE = new Set<number>([
  ApiKey.DeleteTopics,
  ApiKey.DeleteRecords,
  ApiKey.DeleteGroups,
  ApiKey.AlterConfigs,
  ApiKey.IncrementalAlterConfigs,
  ApiKey.ElectLeaders,
  ApiKey.AlterPartitionReassignments,
  ApiKey.UpdateFeatures,
  ApiKey.UnregisterBroker,
  ApiKey.AlterUserScramCredentials,
  ApiKey.CreateAcls,
  ApiKey.DeleteAcls,
  ApiKey.AlterClientQuotas,
  // A shifted partition count could ask for thousands of partitions: validateOnly, and the
  // same restricted mutations.
  ApiKey.CreateTopics,
  ApiKey.CreatePartitions,
]);

// ---- deterministic randomness -------------------------------------------------------------------

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rand {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  bytes(n: number): number[] {
    return Array.from({ length: n }, () => this.int(0, 255));
  }
}

// ---- where the length fields and tagged sections are ----------------------------------------------

type MarkKind = 'i16' | 'i32' | 'uvarint' | 'tags';
interface Mark {
  kind: MarkKind;
  /** Offset in the payload (size prefix excluded). */
  at: number;
  /** What the field is (string, nullable array, ...), for the case description. */
  what: string;
}

/** A Reader that notes where each length prefix and tagged-field section starts. */
class MarkingReader extends Reader {
  readonly marks: Mark[] = [];
  private mark(kind: MarkKind, what: string): void {
    this.marks.push({ kind, at: this.pos, what });
  }
  override arrayLength(compact: boolean, nullable: boolean): number {
    this.mark(compact ? 'uvarint' : 'i32', `${nullable ? 'nullable ' : ''}${compact ? 'compact array' : 'array'}`);
    return super.arrayLength(compact, nullable);
  }
  override string(): string {
    this.mark('i16', 'string');
    return super.string();
  }
  override nullableString(): string | null {
    this.mark('i16', 'nullable string');
    return super.nullableString();
  }
  override compactString(): string {
    this.mark('uvarint', 'compact string');
    return super.compactString();
  }
  override compactNullableString(): string | null {
    this.mark('uvarint', 'compact nullable string');
    return super.compactNullableString();
  }
  override bytes(): Buffer {
    this.mark('i32', 'bytes');
    return super.bytes();
  }
  override nullableBytes(): Buffer | null {
    this.mark('i32', 'nullable bytes');
    return super.nullableBytes();
  }
  override compactBytes(): Buffer {
    this.mark('uvarint', 'compact bytes');
    return super.compactBytes();
  }
  override compactNullableBytes(): Buffer | null {
    this.mark('uvarint', 'compact nullable bytes');
    return super.compactNullableBytes();
  }
  override taggedFields(known: (tag: number, r: Reader) => boolean): TaggedField[] | undefined {
    this.mark('tags', 'tagged fields');
    return super.taggedFields(known);
  }
}

function headerVersionOf(apiKey: number, version: number): number {
  const codec = apiCodec(apiKey)!;
  return codec.requestFlexibleFrom >= 0 && version >= codec.requestFlexibleFrom ? 2 : 1;
}

/** Length and tagged-section marks of a payload, header included (as far as it decodes). */
function marksOf(payload: Buffer, apiKey: number, version: number): Mark[] {
  const r = new MarkingReader(payload);
  try {
    readRequestHeader(r, headerVersionOf(apiKey, version));
    apiCodec(apiKey)!.readRequest(r, version);
  } catch {
    // the marks up to the failure are still good
  }
  return r.marks;
}

function uvarintAt(buf: Buffer, at: number): { value: number; len: number } {
  let value = 0;
  for (let i = 0; i < 5 && at + i < buf.length; i++) {
    const b = buf[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, len: i + 1 };
  }
  return { value, len: 1 };
}

function uvarintBytes(value: number): Buffer {
  const out: number[] = [];
  let v = value >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function splice(buf: Buffer, at: number, deleteCount: number, insert: Buffer | number[]): Buffer {
  return Buffer.concat([buf.subarray(0, at), Buffer.from(insert), buf.subarray(at + deleteCount)]);
}

// ---- mutations -------------------------------------------------------------------------------------

const HEAD = 8; // api key, version, correlation id: never mutated

type Kind = 'crafted' | 'none' | 'tail' | 'flip' | 'set' | 'truncate' | 'insert' | 'delete' | 'length' | 'tag' | 'tagcount';

/** The kinds each fixture gets, in order; kinds a frame has no place for are left out. */
const PLAN: readonly Kind[] = ['none', 'tail', 'tail', 'flip', 'flip', 'set', 'set', 'truncate', 'insert', 'delete', 'length', 'length', 'length', 'tag', 'tag', 'tagcount'];
/** Kinds that keep every field as the broker parses it, for DESTRUCTIVE requests. */
const HARMLESS: ReadonlySet<Kind> = new Set(['none', 'tail', 'tag']);

const INTERESTING = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff];

interface Mutated {
  payload: Buffer;
  description: string;
}

/** `exactSizes`: tagged-field entries declare their true size, so every field parses as before. */
function mutate(kind: Kind, base: Buffer, marks: Mark[], rnd: Rand, exactSizes = false): Mutated | undefined {
  const bodyLen = base.length - HEAD;
  const at = () => HEAD + rnd.int(0, Math.max(0, bodyLen - 1));
  switch (kind) {
    case 'crafted':
      return undefined;
    case 'none':
      return { payload: base, description: 'unmutated' };
    case 'tail': {
      const extra = rnd.bytes(rnd.int(1, 8));
      return { payload: Buffer.concat([base, Buffer.from(extra)]), description: `append ${extra.length} bytes [${hex(extra)}]` };
    }
    case 'flip': {
      if (bodyLen <= 0) return undefined;
      const p = at();
      const bit = rnd.int(0, 7);
      const out = Buffer.from(base);
      out[p] = out[p]! ^ (1 << bit);
      return { payload: out, description: `flip bit ${bit} of byte ${p} (0x${hex([base[p]!])} -> 0x${hex([out[p]!])})` };
    }
    case 'set': {
      if (bodyLen <= 0) return undefined;
      const p = at();
      const v = rnd.int(0, 2) === 0 ? rnd.int(0, 255) : rnd.pick(INTERESTING);
      const out = Buffer.from(base);
      out[p] = v;
      return { payload: out, description: `set byte ${p} 0x${hex([base[p]!])} -> 0x${hex([v])}` };
    }
    case 'truncate': {
      if (bodyLen <= 0) return undefined;
      const n = Math.min(bodyLen, rnd.int(1, 4));
      return { payload: base.subarray(0, base.length - n), description: `truncate ${n} bytes` };
    }
    case 'insert': {
      const p = HEAD + rnd.int(0, bodyLen);
      const bytes = Array.from({ length: rnd.int(1, 4) }, () => (rnd.int(0, 1) ? rnd.pick(INTERESTING) : rnd.int(0, 255)));
      return { payload: splice(base, p, 0, bytes), description: `insert [${hex(bytes)}] at ${p}` };
    }
    case 'delete': {
      if (bodyLen <= 0) return undefined;
      const p = at();
      const n = Math.min(base.length - p, rnd.int(1, 4));
      return { payload: splice(base, p, n, []), description: `delete ${n} bytes at ${p} [${hex(base.subarray(p, p + n))}]` };
    }
    case 'length': {
      const lengths = marks.filter((m) => m.kind !== 'tags' && m.at >= HEAD);
      if (lengths.length === 0) return undefined;
      const m = rnd.pick(lengths);
      if (m.kind === 'i16') {
        const orig = base.readInt16BE(m.at);
        const v = rnd.pick([orig - 1, orig + 1, 0, -1, -2, -0x8000, 0x7fff].filter((x) => x >= -0x8000 && x <= 0x7fff));
        const out = Buffer.from(base);
        out.writeInt16BE(v, m.at);
        return { payload: out, description: `${m.what} length (int16) at ${m.at}: ${orig} -> ${v}` };
      }
      if (m.kind === 'i32') {
        const orig = base.readInt32BE(m.at);
        const v = rnd.pick([orig - 1, orig + 1, 0, -1, -2, -0x80000000, 0x7fffffff].filter((x) => x >= -0x80000000 && x <= 0x7fffffff));
        const out = Buffer.from(base);
        out.writeInt32BE(v, m.at);
        return { payload: out, description: `${m.what} length (int32) at ${m.at}: ${orig} -> ${v}` };
      }
      const { value, len } = uvarintAt(base, m.at);
      const v = rnd.pick([Math.max(0, value - 1), value + 1, 0, 1, 0x80000000, 0x80000001, 0xffffffff]);
      return {
        payload: splice(base, m.at, len, uvarintBytes(v)),
        description: `${m.what} length (uvarint, length+1) at ${m.at}: ${value} -> ${v} [${hex(uvarintBytes(v))}]`,
      };
    }
    case 'tag': {
      const sections = marks.filter((m) => m.kind === 'tags');
      if (sections.length === 0) return undefined;
      const m = rnd.pick(sections);
      const { value: count, len } = uvarintAt(base, m.at);
      const tag = rnd.pick([0, 0, 1, 1, 2, 3, rnd.int(4, 1000)]);
      const data = rnd.pick<number[]>([[0x00], [0x01], [0x02, 0x41], new Array<number>(8).fill(0), rnd.bytes(16), rnd.bytes(rnd.int(0, 4))]);
      const drawn = rnd.pick([data.length, data.length, data.length, 0, Math.max(0, data.length - 1), data.length + 1]);
      const size = exactSizes ? data.length : drawn;
      const entry = Buffer.concat([uvarintBytes(tag), uvarintBytes(size), Buffer.from(data)]);
      const where = m.at < HEAD + 2 ? 'header' : `at ${m.at}`;
      return {
        payload: splice(base, m.at, len, Buffer.concat([uvarintBytes(count + 1), entry])),
        description: `tagged section ${where}: count ${count} -> ${count + 1}, first entry tag ${tag} size ${size} data [${hex(data)}]`,
      };
    }
    case 'tagcount': {
      const sections = marks.filter((m) => m.kind === 'tags');
      if (sections.length === 0) return undefined;
      const m = rnd.pick(sections);
      const { value: count, len } = uvarintAt(base, m.at);
      const v = rnd.pick([0x80000000, 0xfffffffe + count, count + 1]) >>> 0;
      return {
        payload: splice(base, m.at, len, uvarintBytes(v)),
        description: `tagged field count at ${m.at}: ${count} -> ${v} [${hex(uvarintBytes(v))}]`,
      };
    }
  }
}

function hex(b: Buffer | number[]): string {
  return Buffer.from(b).toString('hex');
}

// ---- making the captured frames harmless -----------------------------------------------------------

const RUN = `dfz${process.pid.toString(36)}${Date.now().toString(36)}`;

/** Renames captured resources (fx-...) to this run's own and sets validateOnly where there is one. */
function defang(body: unknown): void {
  const walk = (x: unknown): void => {
    if (x === null || typeof x !== 'object' || Buffer.isBuffer(x)) return;
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        if (typeof x[i] === 'string' && (x[i] as string).startsWith('fx-')) x[i] = `${RUN}-${x[i] as string}`;
        else walk(x[i]);
      }
      return;
    }
    const o = x as Record<string, unknown>;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string' && v.startsWith('fx-')) o[k] = `${RUN}-${v}`;
      else if (k === 'validateOnly' && typeof v === 'boolean') o[k] = true;
      else walk(v);
    }
  };
  walk(body);
}

// ---- the cases -------------------------------------------------------------------------------------

interface Case {
  index: number;
  entry: FixtureEntry;
  kind: Kind;
  description: string;
  /** Size-prefixed mutated frame. */
  frame: Buffer;
  correlationId: number;
  sentinelCorrelationId: number;
}

function sizePrefixed(payload: Buffer): Buffer {
  const out = Buffer.alloc(4 + payload.length);
  out.writeInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}

function sentinelFrame(correlationId: number): Buffer {
  const w = new Writer(64);
  writeRequestHeader(w, 2, { requestApiKey: ApiKey.ApiVersions, requestApiVersion: 3, correlationId, clientId: 'differential-fuzz' });
  w.compactString('differential-fuzz');
  w.compactString('1');
  w.uvarint(0);
  return sizePrefixed(Buffer.from(w.finish()));
}

function pickFixtures(): FixtureEntry[] {
  const index = loadIndex();
  if (!index) throw new Error('no captured frames under test/fixtures/frames');
  const byVersion = new Map<string, FixtureEntry[]>();
  for (const e of index.frames) {
    if (e.direction !== 'request' || NEVER_SENT.has(e.apiKey)) continue;
    const key = `${e.apiKey}/${e.apiVersion}`;
    const list = byVersion.get(key) ?? [];
    list.push(e);
    byVersion.set(key, list);
  }
  const out: FixtureEntry[] = [];
  for (const list of byVersion.values()) {
    // different clients first, then further frames of the same client
    const chosen: FixtureEntry[] = [];
    for (const e of list) if (chosen.length < FIXTURES_PER_VERSION && !chosen.some((c) => c.client === e.client)) chosen.push(e);
    for (const e of list) if (chosen.length < FIXTURES_PER_VERSION && !chosen.includes(e)) chosen.push(e);
    out.push(...chosen);
  }
  return out.sort((a, b) => a.apiKey - b.apiKey || a.apiVersion - b.apiVersion || a.file.localeCompare(b.file));
}

function buildCases(): Case[] {
  const rnd = new Rand(SEED);
  const cases: Case[] = [];
  const add = (entry: FixtureEntry, kind: Kind, description: string, payload: Buffer): void => {
    const index = cases.length;
    const correlationId = 0x10000 + index;
    const sentinelCorrelationId = 0x40000000 + index;
    const p = Buffer.from(payload);
    p.writeInt32BE(correlationId, 4);
    cases.push({ index, entry, kind, description, frame: sizePrefixed(p), correlationId, sentinelCorrelationId });
  };
  for (const entry of pickFixtures()) {
    let payload: Buffer = Buffer.from(loadFrame(entry));
    const destructive = DESTRUCTIVE.has(entry.apiKey);
    if (destructive) {
      const d = decodeFrame(payload, 'request', entry.apiKey, entry.apiVersion);
      defang(d.body);
      payload = encodeFrame(d, 'request');
    }
    const marks = marksOf(payload, entry.apiKey, entry.apiVersion);
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of PLAN) {
        if (destructive && !HARMLESS.has(kind)) continue;
        if (kind === 'none' && round > 0) continue;
        // Group members get a group (and names) of their own per case, so that no case waits on
        // a rebalance another case started; same length, so the marks stay where they are.
        const own = GROUP_MEMBERSHIP.has(entry.apiKey) ? ownNames(payload, marks, cases.length) : payload;
        const m = mutate(kind, own, marks, rnd, destructive);
        if (m) add(entry, kind, m.description, m.payload);
      }
    }
  }
  for (const { entry, description, payload } of craftedCases()) add(entry, 'crafted', description, payload);
  return cases;
}

/** Requests that make a member of a group (or act as one): their group is the case's own. */
const GROUP_MEMBERSHIP = new Set<number>([
  ApiKey.JoinGroup,
  ApiKey.SyncGroup,
  ApiKey.Heartbeat,
  ApiKey.LeaveGroup,
  ApiKey.OffsetCommit,
  ApiKey.TxnOffsetCommit,
  ApiKey.ConsumerGroupHeartbeat,
  ApiKey.ShareGroupHeartbeat,
]);

/** Every string field starting "fx-" (the capture's names) gets a 3-character prefix of the case's own instead. */
function ownNames(payload: Buffer, marks: Mark[], index: number): Buffer {
  const code = Buffer.from(index.toString(36).padStart(3, '0').slice(-3));
  const out = Buffer.from(payload);
  for (const m of marks) {
    if (!m.what.includes('string')) continue;
    let at: number;
    let n: number;
    if (m.kind === 'i16') {
      n = out.readInt16BE(m.at);
      at = m.at + 2;
    } else {
      const v = uvarintAt(out, m.at);
      n = v.value - 1;
      at = m.at + v.len;
    }
    if (n >= 3 && at + 3 <= out.length && out.toString('latin1', at, at + 3) === 'fx-') code.copy(out, at);
  }
  return out;
}

/**
 * Mutations a random pick makes rarely, written out so every run tries them: each is a way Kafka's
 * generated readers (kafka-clients 4.3.1) accept a request that a stricter reader would refuse.
 */
function craftedCases(): Array<{ entry: FixtureEntry; description: string; payload: Buffer }> {
  const out: Array<{ entry: FixtureEntry; description: string; payload: Buffer }> = [];
  const fixtures = pickFixtures();
  const first = (api: number, pred: (e: FixtureEntry) => boolean = () => true) => fixtures.find((e) => e.apiKey === api && pred(e));
  /** The request's own (top-level) tagged section: read last, so the last one marked. */
  const topTags = (payload: Buffer, e: FixtureEntry) => marksOf(payload, e.apiKey, e.apiVersion).filter((m) => m.kind === 'tags').at(-1);
  const withEntry = (payload: Buffer, at: number, entry: number[]): Buffer => {
    const { value: count, len } = uvarintAt(payload, at);
    return splice(payload, at, len, Buffer.concat([uvarintBytes(count + 1), Buffer.from(entry)]));
  };

  // Java reads a tagged-field count as a signed int: 2^31 and above are negative, and its loop
  // over the fields does not run.
  const metadata = first(ApiKey.Metadata, (e) => e.apiVersion >= 9);
  if (metadata) {
    const payload = loadFrame(metadata);
    const top = topTags(payload, metadata)!;
    for (const v of [0x80000000, 0xffffffff]) {
      const { len } = uvarintAt(payload, top.at);
      out.push({ entry: metadata, description: `request tagged field count ${v} [${hex(uvarintBytes(v))}]`, payload: splice(payload, top.at, len, uvarintBytes(v)) });
    }
  }
  // Java reads a known tagged field's value from the message itself, whatever size the entry
  // declares: Fetch's clusterId (tag 0) declared with 0 bytes, or with more bytes than are left.
  const fetch = first(ApiKey.Fetch, (e) => e.apiVersion >= 12);
  if (fetch) {
    const payload = loadFrame(fetch);
    const top = topTags(payload, fetch)!;
    out.push({ entry: fetch, description: 'Fetch clusterId (tag 0) declared 0 bytes, value "" (1 byte) follows', payload: withEntry(payload, top.at, [0, 0, 0x01]) });
    out.push({ entry: fetch, description: 'Fetch clusterId (tag 0) declared 9 bytes, value "" (1 byte) ends the frame', payload: withEntry(payload, top.at, [0, 9, 0x01]) });
    // ...and does not skip what the declared size holds beyond the value: here the spare byte 5
    // is the next entry's tag for Java, whose size (9) runs past the frame, and the broker closes.
    // (The proxy's reader skips it, more leniently, which the property allows; through the proxy
    // the broker still closes the forwarded request.)
    const two = withEntry(withEntry(payload, top.at, [9, 0]), top.at, [0, 2, 0x01, 0x05]);
    out.push({ entry: fetch, description: 'Fetch clusterId (tag 0) declared 2 bytes, value "" (1 byte) and a spare byte 5, then tag 9 (0 bytes)', payload: two });
  }
  // Any negative length of a nullable field is null: the client id (-2), and a nullable array.
  const listGroups = first(ApiKey.ListGroups, (e) => e.apiVersion <= 3);
  if (listGroups) {
    const payload = Buffer.from(loadFrame(listGroups));
    payload.writeInt16BE(-2, 8);
    out.push({ entry: listGroups, description: 'client id length -2 (null), its bytes left after the (empty) body', payload });
  }
  // (a captured all-topics Metadata request: its topics are null already, -1)
  const topicsAt = (e: FixtureEntry) => marksOf(loadFrame(e), e.apiKey, e.apiVersion).find((m) => m.what === 'nullable array')?.at;
  const allTopics = first(ApiKey.Metadata, (e) => e.apiVersion >= 1 && e.apiVersion < 9 && loadFrame(e).readInt32BE(topicsAt(e) ?? 0) === -1);
  if (allTopics) {
    const p = Buffer.from(loadFrame(allTopics));
    p.writeInt32BE(-2, topicsAt(allTopics)!);
    out.push({ entry: allTopics, description: 'Metadata topics (nullable array) length -2', payload: p });
  }
  return out;
}

// ---- running one case against one endpoint ---------------------------------------------------------

type Outcome = 'answered' | 'closed' | 'timeout';

interface Run {
  outcome: Outcome;
  /** Correlation ids of the responses received up to and including the sentinel's. */
  correlationIds: number[];
  ms: number;
  localPort: number;
}

function runCase(bootstrap: string, c: Case, timeoutMs: number): Promise<Run> {
  const i = bootstrap.lastIndexOf(':');
  const started = Date.now();
  return new Promise((resolve) => {
    const frames = new FrameReader(1 << 30, 'differential-fuzz');
    const ids: number[] = [];
    let localPort = 0;
    let done = false;
    const socket: Socket = connect({ host: bootstrap.slice(0, i), port: Number(bootstrap.slice(i + 1)) });
    const finish = (outcome: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, correlationIds: ids, ms: Date.now() - started, localPort });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      localPort = socket.localPort ?? 0;
      socket.write(Buffer.concat([c.frame, sentinelFrame(c.sentinelCorrelationId)]));
    });
    socket.on('data', (chunk: Buffer) => {
      let got;
      try {
        got = frames.push(chunk);
      } catch {
        return finish('closed');
      }
      for (const f of got) {
        const id = joinFrame(f).readInt32BE(4);
        ids.push(id);
        if (id === c.sentinelCorrelationId) return finish('answered');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish('closed'));
  });
}

interface Result {
  c: Case;
  broker: Run;
  proxy: Run;
}

async function runAll<T, R>(items: T[], concurrency: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const k = next++;
        out[k] = await fn(items[k]!);
      }
    }),
  );
  return out;
}

// ---- the property ------------------------------------------------------------------------------------

describe('differential fuzz: mutated captured requests, broker vs proxy', () => {
  let gh: TestProxy;

  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap);
  });

  afterAll(async () => {
    await gh?.stop();
  });

  it('a request the broker answers without closing the connection is answered by the proxy as well', async () => {
    const cases = buildCases();
    const started = Date.now();
    const results = await runAll(cases, CONCURRENCY, async (c): Promise<Result> => {
      const broker = await runCase(kafkaBootstrap, c, CASE_TIMEOUT_MS);
      // An answer the broker took its time over (e.g. a mutated Fetch max wait) is given as long
      // and more through the proxy: a slow answer is not a missing one.
      const proxy = await runCase(gh.bootstrap, c, broker.outcome === 'answered' ? broker.ms + CASE_TIMEOUT_MS : CASE_TIMEOUT_MS);
      return { c, broker, proxy };
    });
    const elapsed = Date.now() - started;

    const count = (pred: (r: Result) => boolean) => results.filter(pred).length;
    const mismatches = results.filter(
      (r) =>
        r.broker.outcome === 'answered' &&
        (r.proxy.outcome !== 'answered' || r.proxy.correlationIds.join(',') !== r.broker.correlationIds.join(',')),
    );
    const apis = new Set(cases.map((c) => c.entry.apiName));
    const byKind = new Map<Kind, number>();
    for (const c of cases) byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1);
    const summary = [
      `differential fuzz (seed 0x${SEED.toString(16)}): ${cases.length} cases over ${apis.size} APIs in ${elapsed} ms`,
      `  by kind: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}`,
      `  broker answered ${count((r) => r.broker.outcome === 'answered')}, closed ${count((r) => r.broker.outcome === 'closed')}, timed out ${count((r) => r.broker.outcome === 'timeout')}`,
      `  proxy answered ${count((r) => r.proxy.outcome === 'answered')}, closed ${count((r) => r.proxy.outcome === 'closed')}, timed out ${count((r) => r.proxy.outcome === 'timeout')}`,
      `  both closed ${count((r) => r.broker.outcome === 'closed' && r.proxy.outcome === 'closed')}; broker closed but proxy answered (allowed) ${count((r) => r.broker.outcome === 'closed' && r.proxy.outcome === 'answered')}`,
      `  mismatches (broker answered, proxy did not, or not the same responses): ${mismatches.length}`,
    ];
    process.stderr.write(summary.join('\n') + '\n');

    const report = mismatches.map((r) => {
      const conn = connIdOf(gh.logs, r.proxy.localPort);
      const closed = conn ? gh.logs.find((l) => l.conn === conn && l.msg === 'connection closed') : undefined;
      return [
        `#${r.c.index} ${r.c.entry.apiName} v${r.c.entry.apiVersion} (${r.c.entry.file}): ${r.c.kind}: ${r.c.description}`,
        `  frame ${hex(r.c.frame)}`,
        `  broker: ${r.broker.outcome} in ${r.broker.ms} ms, responses [${r.broker.correlationIds.join(', ')}]`,
        `  proxy:  ${r.proxy.outcome} in ${r.proxy.ms} ms, responses [${r.proxy.correlationIds.join(', ')}]` +
          (closed ? `, closed ${String(closed.code)}: ${String(closed.reason)}` : conn ? ` (connection ${conn}, no close logged)` : ''),
      ].join('\n');
    });
    if (report.length > 0) process.stderr.write(`counterexamples:\n${report.join('\n')}\n`);
    // Every case and both outcomes, as JSON lines, for a closer look.
    const dump = process.env.GATEHOUSE_DFUZZ_DUMP;
    if (dump) {
      const lines = results.map((r) =>
        JSON.stringify({
          index: r.c.index,
          api: r.c.entry.apiName,
          version: r.c.entry.apiVersion,
          file: r.c.entry.file,
          kind: r.c.kind,
          mutation: r.c.description,
          frame: hex(r.c.frame),
          broker: r.broker.outcome,
          proxy: r.proxy.outcome,
          brokerIds: r.broker.correlationIds,
          proxyIds: r.proxy.correlationIds,
          ms: [r.broker.ms, r.proxy.ms],
        }),
      );
      writeFileSync(dump, lines.join('\n') + '\n');
    }

    // Every API of the captured frames was tried, and the broker answered some cases of each
    // (otherwise the comparison says nothing about it).
    const index = loadIndex()!;
    const captured = new Set(index.frames.filter((e) => e.direction === 'request' && !NEVER_SENT.has(e.apiKey)).map((e) => e.apiName));
    expect([...captured].filter((a) => !apis.has(a))).toEqual([]);
    const answeredApis = new Set(results.filter((r) => r.broker.outcome === 'answered').map((r) => r.c.entry.apiName));
    // On Kafka 4 the broker speaks every captured version; an older broker (the 3.9 compatibility
    // run) refuses the newer APIs and versions whole, unmutated frames included, so only the APIs
    // whose unmutated frames it answers must have answered cases there.
    const speaks = inject('kafkaVersion').startsWith('4.')
      ? captured
      : new Set(results.filter((r) => r.c.kind === 'none' && r.broker.outcome === 'answered').map((r) => r.c.entry.apiName));
    expect([...speaks].filter((a) => !answeredApis.has(a))).toEqual([]);
    expect(speaks.size).toBeGreaterThan(30);
    expect(report).toEqual([]);
  });
});
