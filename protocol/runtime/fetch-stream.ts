/**
 * A Fetch response read as its bytes stream past, for responses cut through to the client: the
 * structure (topics, partitions, error codes, offsets, aborted transactions) and each record
 * batch's header, without holding or copying the records. Fed the frame's bytes in any chunking
 * (`push`), or told that a part of a records field went past without it (`skipRelayed`, with the
 * batch headers the zero-copy relay captured); once the frame is over, `result()` gives what a
 * skim would have given plus the batch headers of every partition.
 *
 * Layout (Fetch v4 and later; v12+ flexible): size, correlation id, [header tags], throttle time,
 * [v7+ error code, session id], topics [name (v<13) or id (v13+), partitions [index, error code,
 * high watermark, last stable offset, (v5+) log start offset, aborted transactions, (v11+)
 * preferred read replica, records, [tags]], [tags]], [tags].
 */
import { ProtocolError } from './errors.js';
import { BATCH_OVERHEAD } from './record-batch.js';
import { Reader } from './reader.js';
import { readBatchHeader, type BatchHeaderView, type PartitionRecords } from './records-view.js';

/** The lowest Fetch version this reader follows (older responses are buffered and decoded whole). */
export const FETCH_STREAM_MIN_VERSION = 4;

/** The responses read as they stream: Fetch, and ShareFetch (KIP-932). */
export type StreamedApi = 'Fetch' | 'ShareFetch';

/** Whether a response of `api` at `version` can be read as it streams. */
export function isStreamed(api: StreamedApi, version: number): boolean {
  return api === 'ShareFetch' ? version >= 0 : version >= FETCH_STREAM_MIN_VERSION;
}

export interface StreamedPartition {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  abortedTransactions: Array<{ producerId: bigint; firstOffset: bigint }> | null;
  preferredReadReplica: number;
  /** Null when the partition carried no records field (null), else always null too: records are never kept. */
  records: null;
  /** Bytes of the records field (0 for none). */
  recordsBytes: number;
  batches: BatchHeaderView[];
  truncatedBytes: number;
  /** A batch whose length could not be right was met: headers after it are unknown. */
  unreadable: boolean;
  /** ShareFetch: the offset ranges handed to this member, with their delivery counts. */
  acquired?: Array<{ firstOffset: bigint; lastOffset: bigint; deliveryCount: number }>;
}

export interface StreamedTopic {
  topic: string;
  topicId: string;
  partitions: StreamedPartition[];
}

/** The response as a skim gives it (records null), with each partition's batch headers. */
export interface StreamedFetch {
  throttleTimeMs: number;
  errorCode: number;
  sessionId: number;
  responses: StreamedTopic[];
}

type Need = { n: number } | { records: number };

const UUID_BYTES = 16;

/** What the reader is walking: the structure (n bytes at a time) or the inside of a records field. */
class RecordsWalk {
  pos = 0;
  next = 0; // where the next batch header starts
  readonly header = Buffer.alloc(BATCH_OVERHEAD);
  have = 0; // header bytes collected so far
  constructor(
    readonly length: number,
    readonly into: StreamedPartition,
  ) {}

  get remaining(): number {
    return this.length - this.pos;
  }

  /** Whether a batch header starts at pos with room for a whole one (else the tail is cut short). */
  private atHeader(): boolean {
    return !this.into.unreadable && this.pos >= this.next && this.length - this.next >= BATCH_OVERHEAD;
  }

  /** Takes bytes of the field from `part` at `at`; returns how many it used. */
  take(part: Buffer, at: number): number {
    let used = 0;
    while (used < part.length - at && this.pos < this.length) {
      if (this.have > 0 || (this.atHeader() && this.pos === this.next)) {
        const n = Math.min(BATCH_OVERHEAD - this.have, part.length - at - used);
        part.copy(this.header, this.have, at + used, at + used + n);
        this.have += n;
        this.pos += n;
        used += n;
        if (this.have === BATCH_OVERHEAD) this.headerDone(this.pos - BATCH_OVERHEAD, this.header);
        continue;
      }
      const stop = this.atBoundaryAhead() ? this.next : this.length;
      const n = Math.min(stop - this.pos, part.length - at - used);
      this.pos += n;
      used += n;
    }
    return used;
  }

  private atBoundaryAhead(): boolean {
    return !this.into.unreadable && this.next > this.pos && this.length - this.next >= BATCH_OVERHEAD;
  }

  private headerDone(start: number, bytes: Buffer): void {
    this.have = 0;
    const h = readBatchHeader(new Reader(bytes));
    if (h.size < BATCH_OVERHEAD) {
      this.into.unreadable = true;
      return;
    }
    this.next = start + h.size;
    // A batch that runs past the field was cut short (a Fetch at its size limit): clients skip it.
    if (this.next <= this.length) this.into.batches.push(h);
  }

  /**
   * Where a relay may start and move bytes of this field without the walk seeing them: only
   * between headers (none half-read). Its first header is `firstBoundary` bytes in.
   */
  relayable(): { length: number; firstBoundary: number } | null {
    if (this.have > 0 || this.pos >= this.length) return null;
    const firstBoundary = this.into.unreadable || this.length - this.next < BATCH_OVERHEAD ? this.length - this.pos : Math.max(this.next - this.pos, 0);
    return { length: this.length - this.pos, firstBoundary };
  }

  /** `length` bytes went past in the kernel; `headers` are the 61-byte headers it captured, in order. */
  skipped(length: number, firstBoundary: number, headers: Buffer, unreadable: boolean): void {
    let start = this.pos + firstBoundary;
    for (let at = 0; at + BATCH_OVERHEAD <= headers.length; at += BATCH_OVERHEAD) {
      this.headerDone(start, headers.subarray(at, at + BATCH_OVERHEAD));
      start = this.next;
    }
    if (unreadable) this.into.unreadable = true;
    this.pos += length;
  }

  finish(): void {
    this.into.recordsBytes = this.length;
    const lastEnd = this.into.batches.reduce((end, b) => end + b.size, 0);
    this.into.truncatedBytes = this.into.unreadable ? 0 : this.length - lastEnd;
  }
}

/** A partition as its first two fields give it, the rest at their defaults until read. */
function newPartition(partitionIndex: number, errorCode: number): StreamedPartition {
  return { partitionIndex, errorCode, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, abortedTransactions: null, preferredReadReplica: -1, records: null, recordsBytes: 0, batches: [], truncatedBytes: 0, unreadable: false };
}

/** Readers of the protocol's primitive types, as generators asking for n bytes at a time. */
function primitives(flexible: boolean) {
  const int16 = function* (): Generator<Need, number, Buffer | undefined> {
    return (yield { n: 2 })!.readInt16BE(0);
  };
  const int32 = function* (): Generator<Need, number, Buffer | undefined> {
    return (yield { n: 4 })!.readInt32BE(0);
  };
  const int64 = function* (): Generator<Need, bigint, Buffer | undefined> {
    return (yield { n: 8 })!.readBigInt64BE(0);
  };
  const uvarint = function* (): Generator<Need, number, Buffer | undefined> {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = (yield { n: 1 })![0]!;
      value |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) return value >>> 0;
    }
    throw new ProtocolError('GH_PROTOCOL_INVALID', 'varint longer than 5 bytes');
  };
  /** An array or bytes length: int32, or a compact length (uvarint - 1) in Java's int arithmetic. */
  const length = function* (): Generator<Need, number, Buffer | undefined> {
    return flexible ? ((yield* uvarint()) - 1) | 0 : yield* int32();
  };
  const skip = function* (n: number): Generator<Need, void, Buffer | undefined> {
    for (let left = n; left > 0; left -= 64) yield { n: Math.min(64, left) };
  };
  const tags = function* (): Generator<Need, void, Buffer | undefined> {
    if (!flexible) return;
    const count = (yield* uvarint()) | 0;
    for (let i = 0; i < count; i++) {
      yield* uvarint();
      yield* skip(yield* uvarint());
    }
  };
  const text = function* (): Generator<Need, string, Buffer | undefined> {
    const n = flexible ? ((yield* uvarint()) - 1) | 0 : yield* int16();
    if (n <= 0) return '';
    const parts: Buffer[] = [];
    for (let left = n; left > 0; left -= 64) parts.push(Buffer.from((yield { n: Math.min(64, left) })!));
    return Buffer.concat(parts).toString('utf8');
  };
  return { int16, int32, int64, uvarint, length, skip, tags, text };
}

export class FetchStreamReader {
  private readonly steps: Generator<Need, void, Buffer | undefined>;
  private need: Need | undefined;
  private scratch = Buffer.alloc(64);
  private have = 0;
  private walk: RecordsWalk | null = null;
  private done = false;
  private readonly out: StreamedFetch = { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [] };

  constructor(
    readonly version: number,
    /** The response read: Fetch (v4 on) or ShareFetch (every version). */
    readonly api: StreamedApi = 'Fetch',
  ) {
    if (!isStreamed(api, version)) throw new RangeError(`${api} v${version} is not streamed`);
    this.steps = api === 'Fetch' ? this.layout() : this.shareLayout();
    this.need = this.steps.next().value as Need;
  }

  /** Feeds the frame's next bytes (the first ones start with its size prefix). */
  push(part: Buffer): void {
    let at = 0;
    while (at < part.length) {
      if (this.done) throw new ProtocolError('GH_PROTOCOL_TRAILING', `${this.api} response v${this.version}: ${part.length - at} bytes after its end`);
      if (this.walk) {
        at += this.walk.take(part, at);
        if (this.walk.remaining === 0) this.endRecords();
        continue;
      }
      const n = (this.need as { n: number }).n;
      const take = Math.min(n - this.have, part.length - at);
      part.copy(this.scratch, this.have, at, at + take);
      this.have += take;
      at += take;
      if (this.have === n) {
        this.have = 0;
        this.advance(this.scratch.subarray(0, n));
      }
    }
  }

  /** While inside a records field: how much of it a relay may move now (see RecordsWalk.relayable). */
  relayable(): { length: number; firstBoundary: number } | null {
    return this.walk?.relayable() ?? null;
  }

  /**
   * A relay moved the rest of the current records field, `length` bytes (see relayable(); it must
   * be the rest: a relay ending inside a field could end inside a header).
   */
  skipRelayed(length: number, firstBoundary: number, headers: Buffer, unreadable = false): void {
    const walk = this.walk;
    if (!walk || length !== walk.remaining) throw new ProtocolError('GH_PROTOCOL_INVALID', `relayed ${length} bytes, not the rest of a records field`);
    walk.skipped(length, firstBoundary, headers, unreadable);
    if (walk.remaining === 0) this.endRecords();
  }

  /** The response, once its last byte went past. */
  result(): StreamedFetch {
    if (!this.done) throw new ProtocolError('GH_PROTOCOL_TRUNCATED', `${this.api} response v${this.version}: ended early`);
    return this.out;
  }

  get complete(): boolean {
    return this.done;
  }

  private endRecords(): void {
    this.walk!.finish();
    this.walk = null;
    this.advance(undefined);
  }

  private advance(value: Buffer | undefined): void {
    const r = this.steps.next(value!);
    if (r.done) {
      this.done = true;
      this.need = undefined;
      return;
    }
    this.need = r.value;
    if ('records' in this.need) {
      const partition = this.current!;
      if (this.need.records <= 0) return this.advance(undefined);
      this.walk = new RecordsWalk(this.need.records, partition);
    } else if (this.need.n > this.scratch.length) {
      this.scratch = Buffer.alloc(this.need.n);
    }
  }

  private current: StreamedPartition | undefined;

  /** The Fetch layout, as a generator that asks for n bytes at a time (and for records fields to walk). */
  private *layout(): Generator<Need, void, Buffer | undefined> {
    const v = this.version;
    const { int16, int32, int64, length, tags, text } = primitives(v >= 12);

    yield { n: 8 }; // size, correlation id
    yield* tags(); // response header v1
    const out = this.out;
    out.throttleTimeMs = yield* int32();
    if (v >= 7) {
      out.errorCode = yield* int16();
      out.sessionId = yield* int32();
    }
    const topics = yield* length();
    for (let t = 0; t < topics; t++) {
      const topic: StreamedTopic = { topic: '', topicId: '', partitions: [] };
      if (v >= 13) topic.topicId = (yield { n: UUID_BYTES })!.toString('base64url');
      else topic.topic = yield* text();
      const partitions = yield* length();
      for (let p = 0; p < partitions; p++) {
        const part = newPartition(yield* int32(), yield* int16());
        part.highWatermark = yield* int64();
        part.lastStableOffset = yield* int64();
        if (v >= 5) part.logStartOffset = yield* int64();
        const aborted = yield* length();
        if (aborted >= 0) {
          part.abortedTransactions = [];
          for (let a = 0; a < aborted; a++) {
            part.abortedTransactions.push({ producerId: yield* int64(), firstOffset: yield* int64() });
            yield* tags();
          }
        }
        if (v >= 11) part.preferredReadReplica = yield* int32();
        this.current = part;
        const records = yield* length();
        if (records > 0) yield { records };
        yield* tags();
        topic.partitions.push(part);
      }
      yield* tags();
      out.responses.push(topic);
    }
    yield* tags();
  }

  /**
   * The ShareFetch layout (KIP-932; flexible from v0): per partition its error, the acknowledge
   * error, the leader, the records and the acquired ranges.
   */
  private *shareLayout(): Generator<Need, void, Buffer | undefined> {
    const v = this.version;
    const { int16, int32, int64, length, tags, text } = primitives(true);
    yield { n: 8 }; // size, correlation id
    yield* tags(); // response header v1
    const out = this.out;
    out.throttleTimeMs = yield* int32();
    out.errorCode = yield* int16();
    yield* text(); // errorMessage
    if (v >= 1) yield* int32(); // acquisitionLockTimeoutMs
    const topics = yield* length();
    for (let t = 0; t < topics; t++) {
      const topic: StreamedTopic = { topic: '', topicId: (yield { n: UUID_BYTES })!.toString('base64url'), partitions: [] };
      const partitions = yield* length();
      for (let p = 0; p < partitions; p++) {
        const part = newPartition(yield* int32(), yield* int16());
        part.acquired = [];
        yield* text(); // errorMessage
        yield* int16(); // acknowledgeErrorCode
        yield* text(); // acknowledgeErrorMessage
        yield* int32(); // currentLeader.leaderId
        yield* int32(); // currentLeader.leaderEpoch
        yield* tags();
        this.current = part;
        const records = yield* length();
        if (records > 0) yield { records };
        const acquired = yield* length();
        for (let a = 0; a < acquired; a++) {
          part.acquired!.push({ firstOffset: yield* int64(), lastOffset: yield* int64(), deliveryCount: yield* int16() });
          yield* tags();
        }
        yield* tags();
        topic.partitions.push(part);
      }
      yield* tags();
      out.responses.push(topic);
    }
    const endpoints = yield* length();
    for (let e = 0; e < endpoints; e++) {
      yield* int32(); // nodeId
      yield* text(); // host
      yield* int32(); // port
      yield* text(); // rack
      yield* tags();
    }
    yield* tags();
  }
}

/** The partitions of a streamed response as header-level records views (records bytes gone: field null). */
export function streamedPartitions(res: StreamedFetch): PartitionRecords[] {
  const out: PartitionRecords[] = [];
  for (const t of res.responses) {
    for (const p of t.partitions) {
      out.push({
        topic: t.topic,
        topicId: t.topicId,
        partition: p.partitionIndex,
        errorCode: p.errorCode,
        highWatermark: p.highWatermark,
        lastStableOffset: p.lastStableOffset,
        logStartOffset: p.logStartOffset,
        field: null,
        batches: p.batches,
        truncatedBytes: p.truncatedBytes,
      });
    }
  }
  return out;
}

/** Reads a whole Fetch response frame (size prefix included; one buffer or its chunks) the streaming way. */
export function readFetchFrame(version: number, frame: Buffer | readonly Buffer[], api: StreamedApi = 'Fetch'): StreamedFetch {
  const reader = new FetchStreamReader(version, api);
  for (const part of Buffer.isBuffer(frame) ? [frame] : frame) reader.push(part);
  return reader.result();
}
