/**
 * A header-level view of the records in a message (Produce requests, Fetch and ShareFetch
 * responses), read where the bytes lie: the message's structure is skimmed (records skipped, not
 * joined), each records field is located in the frame, and in it only the 61-byte header of each
 * record batch is read. Nothing of the records is copied; a frame that arrived in chunks stays in
 * its chunks.
 */
import { ProtocolError } from './errors.js';
import { BATCH_OVERHEAD, readBatchHeader, type BatchHeaderView } from './record-batch.js';

export { readBatchHeader, type BatchHeaderView };
import type { Reader } from './reader.js';
import { SegmentedReader } from './segmented-reader.js';

/** One partition of a record-carrying message, at the level of its batch headers. */
export interface PartitionRecords {
  /** The topic's name as the message gives it ('' on versions that name topics by id). */
  topic: string;
  topicId: string;
  partition: number;
  /** Responses: the partition's error code (0 for requests). */
  errorCode: number;
  /** Fetch responses: the partition's offsets. */
  highWatermark?: bigint;
  lastStableOffset?: bigint;
  logStartOffset?: bigint;
  /** Where the records lie; null when the message has none for this partition. */
  field: RecordsField | null;
  batches: BatchHeaderView[];
  /** Bytes of a batch cut short at the end (a Fetch at its size limit). */
  truncatedBytes: number;
}

/** Where a records field lies in a frame (logical offsets, size prefix included). */
export interface RecordsField {
  offset: number;
  length: number;
}

/** The batches of one records field: whole batches' headers, and the bytes of a batch cut short at the end. */
export interface RecordsHeaders {
  batches: BatchHeaderView[];
  /** Bytes after the last whole batch (a broker cuts a Fetch at its size limit); 0 for a Produce. */
  truncatedBytes: number;
}

/** A SegmentedReader that notes where every bytes field it skips lies. */
class LocatingReader extends SegmentedReader {
  readonly fields: RecordsField[] = [];
  override raw(n: number): Buffer {
    this.fields.push({ offset: this.pos, length: n });
    return super.raw(n);
  }
}

/**
 * Skims a body with `read` (a generated reader) over `segments` from `start`, and returns the
 * skimmed body with the location of each bytes field it has, in reading order. For the messages
 * that carry records, records are their only bytes fields, so the n-th location is the n-th
 * non-null records field in the body's order.
 */
export function locateRecords<T>(segments: readonly Buffer[], start: number, read: (r: Reader) => T): { body: T; fields: RecordsField[] } {
  const r = new LocatingReader(segments, start);
  const body = read(r);
  return { body, fields: r.fields };
}

/**
 * The batch headers of one records field, read in place (61 bytes a batch). A batch cut short at
 * the end is counted in truncatedBytes, as clients skip it; a batch whose length is below the
 * header's size, or not magic 2, is refused (GH_PROTOCOL_INVALID / GH_PROTOCOL_UNSUPPORTED).
 */
export function batchHeaders(segments: readonly Buffer[], field: RecordsField): RecordsHeaders {
  const end = field.offset + field.length;
  const batches: BatchHeaderView[] = [];
  let pos = field.offset;
  while (end - pos >= BATCH_OVERHEAD) {
    const h = readBatchHeader(new SegmentedReader(segments, pos, end));
    if (h.size < BATCH_OVERHEAD) throw new ProtocolError('GH_PROTOCOL_INVALID', `record batch at ${pos - field.offset}: length ${h.size - 12} is below the minimum`);
    if (h.magic !== 2) throw new ProtocolError('GH_PROTOCOL_UNSUPPORTED', `record batch at ${pos - field.offset}: magic ${h.magic} (only v2 is supported)`);
    if (pos + h.size > end) break;
    batches.push(h);
    pos += h.size;
  }
  return { batches, truncatedBytes: end - pos };
}

/** The bytes of a records field as one buffer: a view when it lies in one chunk, else a copy. */
export function recordsBytes(segments: readonly Buffer[], field: RecordsField): Buffer {
  let at = 0;
  for (const seg of segments) {
    if (field.offset >= at && field.offset + field.length <= at + seg.length) return seg.subarray(field.offset - at, field.offset - at + field.length);
    at += seg.length;
  }
  const out = Buffer.allocUnsafe(field.length);
  let copied = 0;
  at = 0;
  for (const seg of segments) {
    const from = Math.max(field.offset - at, 0);
    const to = Math.min(field.offset + field.length - at, seg.length);
    if (to > from) copied += seg.copy(out, copied, from, to);
    at += seg.length;
  }
  return out;
}
