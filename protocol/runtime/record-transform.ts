/**
 * Changing the records of record batches, compressed or not: the building block for masking and
 * payload capture. A batch is decompressed with its codec, its records decoded, handed to an
 * edit callback, and re-encoded with the batch's own codec: lengths (batch and records) follow
 * the new records, every other header field and the attributes are kept, and the CRC32C is
 * computed afresh. Batches an edit leaves alone come back as their original bytes.
 */
import { codecFor } from './codecs/index.js';
import {
  batches,
  Compression,
  decodeRecords,
  encodeBatch,
  encodeRecords,
  verifyCrc,
  type KafkaRecord,
  type RecordBatchHeader,
  type RecordBatchView,
} from './record-batch.js';

/**
 * Returns the records to write in place of the batch's, or undefined to keep the batch as it
 * is. Records may be changed in place and returned. Offsets and timestamps are the caller's to
 * keep within the batch's span (lastOffsetDelta, maxTimestamp are not recomputed).
 */
export type RecordsEdit = (records: KafkaRecord[], batch: RecordBatchView) => KafkaRecord[] | undefined | Promise<KafkaRecord[] | undefined>;

export interface TransformOptions {
  /** Leave transactional batches as they are (default false: they are edited like others). */
  keepTransactional?: boolean;
}

/** The records of a batch, decompressed with its codec first when it is compressed. */
export async function readRecords(batch: RecordBatchView): Promise<KafkaRecord[]> {
  const data = batch.compression === Compression.None ? batch.recordsData : await codecFor(batch.compression).decompress(batch.recordsData);
  return decodeRecords(data, batch.recordCount);
}

/** A batch from a header and records, compressed with the codec its attributes name. */
export async function buildBatch(header: RecordBatchHeader, records: KafkaRecord[]): Promise<Buffer> {
  const compression = (header.attributes & 0x07) as Compression;
  const raw = encodeRecords(records);
  const data = compression === Compression.None ? raw : await codecFor(compression).compress(raw);
  return encodeBatch({ ...header, recordCount: records.length }, data);
}

/**
 * One batch through `edit`. Control batches (transaction markers) are never edited; a batch
 * whose CRC does not match is refused (ProtocolError GH_PROTOCOL_CRC) rather than given a valid
 * CRC over corrupt bytes.
 */
export async function transformBatch(batch: RecordBatchView, edit: RecordsEdit, opts: TransformOptions = {}): Promise<Buffer> {
  if (batch.control || (batch.transactional && opts.keepTransactional)) return batch.bytes;
  verifyCrc(batch);
  const edited = await edit(await readRecords(batch), batch);
  return edited ? buildBatch(batch, edited) : batch.bytes;
}

/**
 * Every batch of a records field (a Produce partition's or a Fetch partition's) through
 * transformBatch, one after another. A batch cut short at the end (a Fetch response that hit its
 * size limit) is dropped, as `batches()` leaves it out: clients discard it and fetch it again,
 * and passing it on would hand out records the edit never saw. Returns `records` itself when
 * nothing changed and nothing was dropped.
 */
export async function transformRecords(records: Buffer, edit: RecordsEdit, opts: TransformOptions = {}): Promise<Buffer> {
  const out: Buffer[] = [];
  let changed = false;
  let length = 0;
  for (const batch of batches(records)) {
    const bytes = await transformBatch(batch, edit, opts);
    changed ||= bytes !== batch.bytes;
    out.push(bytes);
    length += batch.bytes.length;
  }
  return changed || length !== records.length ? Buffer.concat(out) : records;
}
