export { ProtocolError, isProtocolError, type ProtocolErrorCode } from './errors.js';
export { Reader } from './reader.js';
export { Writer } from './writer.js';
export type { TaggedField } from './tagged.js';
export { readArray, writeArray, req, deepEqual, noTags, NO_TAGS, ZERO_UUID, EMPTY_BYTES } from './helpers.js';
export {
  batches,
  verifyCrc,
  computeCrc,
  decodeRecords,
  encodeRecords,
  encodeBatch,
  Compression,
  BATCH_OVERHEAD,
  type RecordBatchHeader,
  type RecordBatchView,
  type KafkaRecord,
  type RecordHeader,
} from './record-batch.js';
export { SegmentedReader, readInt32At } from './segmented-reader.js';
