/**
 * Record batch v2 (magic 2), the on-wire form of records in Produce requests and Fetch
 * responses. Batches are walked as views over the original bytes; records are decoded only when
 * a stage asks, and a re-encoded batch gets a fresh CRC32C.
 *
 * Layout: baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
 * crc uint32 (CRC32C over attributes..end), attributes int16, lastOffsetDelta int32,
 * baseTimestamp int64, maxTimestamp int64, producerId int64, producerEpoch int16,
 * baseSequence int32, recordCount int32, records.
 */
import { crc32c } from '@node-rs/crc32';
import { ProtocolError } from './errors.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

export const BATCH_OVERHEAD = 61;
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;

export enum Compression {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export interface RecordBatchHeader {
  baseOffset: bigint;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface RecordBatchView extends RecordBatchHeader {
  /** The whole batch, a view into the input. */
  bytes: Buffer;
  /** The records section (compressed when compression != None), a view into the input. */
  recordsData: Buffer;
  compression: Compression;
  transactional: boolean;
  control: boolean;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface KafkaRecord {
  attributes: number;
  timestampDelta: bigint;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** What a record batch's header says, without its records. */
export interface BatchHeaderView extends RecordBatchHeader {
  /** The whole batch's size in bytes (its length field + 12). */
  size: number;
  /** Compression codec id (attributes & 7). */
  compression: number;
  transactional: boolean;
  control: boolean;
}

/** Parses a batch header from 61 bytes at `r`'s position. */
export function readBatchHeader(r: Reader): BatchHeaderView {
  const baseOffset = r.int64();
  const size = r.int32() + 12;
  const partitionLeaderEpoch = r.int32();
  const magic = r.int8();
  const crc = r.uint32();
  const attributes = r.int16();
  return {
    baseOffset,
    size,
    partitionLeaderEpoch,
    magic,
    crc,
    attributes,
    lastOffsetDelta: r.int32(),
    baseTimestamp: r.int64(),
    maxTimestamp: r.int64(),
    producerId: r.int64(),
    producerEpoch: r.int16(),
    baseSequence: r.int32(),
    recordCount: r.int32(),
    compression: attributes & 0x07,
    transactional: (attributes & 0x10) !== 0,
    control: (attributes & 0x20) !== 0,
  };
}

/**
 * The batches in a records field. A batch cut short at the end (brokers may return a partial
 * batch when a fetch hits its size limit) is left out, as clients do.
 */
export function* batches(records: Buffer): Generator<RecordBatchView> {
  let pos = 0;
  while (records.length - pos >= 12) {
    const batchLength = records.readInt32BE(pos + 8);
    if (batchLength < BATCH_OVERHEAD - 12) {
      throw new ProtocolError('GH_PROTOCOL_INVALID', `record batch at ${pos}: length ${batchLength} is below the minimum`);
    }
    const end = pos + 12 + batchLength;
    if (end > records.length) return;
    const bytes = records.subarray(pos, end);
    const { size: _size, ...header } = readBatchHeader(new Reader(bytes, 0)); // the view's bytes say its size
    if (header.magic !== 2) throw new ProtocolError('GH_PROTOCOL_UNSUPPORTED', `record batch at ${pos}: magic ${header.magic} (only v2 is supported)`);
    yield { ...header, compression: header.compression as Compression, bytes, recordsData: bytes.subarray(BATCH_OVERHEAD) };
    pos = end;
  }
}

export function computeCrc(batch: Buffer): number {
  return crc32c(batch.subarray(ATTRIBUTES_OFFSET)) >>> 0;
}

export function verifyCrc(batch: RecordBatchView): void {
  const actual = computeCrc(batch.bytes);
  if (actual !== batch.crc) {
    throw new ProtocolError('GH_PROTOCOL_CRC', `record batch at offset ${batch.baseOffset}: CRC32C ${actual} != ${batch.crc}`);
  }
}

/** Decodes uncompressed record bytes (`count` records). */
export function decodeRecords(data: Buffer, count: number): KafkaRecord[] {
  const r = new Reader(data);
  const out: KafkaRecord[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.varint();
    if (len < 0 || len > r.remaining) throw new ProtocolError('GH_PROTOCOL_TRUNCATED', `record ${i}: length ${len}, ${r.remaining} bytes left`);
    const end = r.pos + len;
    const rr = new Reader(data, r.pos, end);
    const attributes = rr.int8();
    const timestampDelta = rr.varlong();
    const offsetDelta = rr.varint();
    const key = varBytes(rr);
    const value = varBytes(rr);
    const nHeaders = rr.varint();
    if (nHeaders < 0 || nHeaders > rr.remaining) throw new ProtocolError('GH_PROTOCOL_INVALID', `record ${i}: ${nHeaders} headers`);
    const headers: RecordHeader[] = [];
    for (let h = 0; h < nHeaders; h++) {
      const k = varBytes(rr);
      if (k === null) throw new ProtocolError('GH_PROTOCOL_INVALID', `record ${i}: null header key`);
      headers.push({ key: k.toString('utf8'), value: varBytes(rr) });
    }
    rr.done(`record ${i}`);
    r.pos = end;
    out.push({ attributes, timestampDelta, offsetDelta, key, value, headers });
  }
  r.done('records');
  return out;
}

function varBytes(r: Reader): Buffer | null {
  const n = r.varint();
  if (n < -1) throw new ProtocolError('GH_PROTOCOL_INVALID', `record field length ${n}`);
  return n < 0 ? null : r.raw(n);
}

export function encodeRecords(records: KafkaRecord[]): Buffer {
  const w = new Writer(256);
  for (const rec of records) {
    const body = new Writer(64);
    body.int8(rec.attributes);
    body.varlong(rec.timestampDelta);
    body.varint(rec.offsetDelta);
    writeVarBytes(body, rec.key);
    writeVarBytes(body, rec.value);
    body.varint(rec.headers.length);
    for (const h of rec.headers) {
      writeVarBytes(body, Buffer.from(h.key, 'utf8'));
      writeVarBytes(body, h.value);
    }
    const b = body.finish();
    w.varint(b.length);
    w.raw(b);
  }
  return w.finish();
}

function writeVarBytes(w: Writer, b: Buffer | null): void {
  if (b === null) {
    w.varint(-1);
    return;
  }
  w.varint(b.length);
  w.raw(b);
}

/** A complete batch from a header and (already compressed, if so flagged) record bytes. */
export function encodeBatch(h: RecordBatchHeader, recordsData: Buffer): Buffer {
  const w = new Writer(BATCH_OVERHEAD + recordsData.length);
  w.int64(h.baseOffset);
  w.int32(BATCH_OVERHEAD - 12 + recordsData.length);
  w.int32(h.partitionLeaderEpoch);
  w.int8(2);
  w.uint32(0);
  w.int16(h.attributes);
  w.int32(h.lastOffsetDelta);
  w.int64(h.baseTimestamp);
  w.int64(h.maxTimestamp);
  w.int64(h.producerId);
  w.int16(h.producerEpoch);
  w.int32(h.baseSequence);
  w.int32(h.recordCount);
  w.raw(recordsData);
  const out = w.finish();
  out.writeUInt32BE(computeCrc(out), CRC_OFFSET);
  return out;
}
