export { ProtocolError, isProtocolError, type ProtocolErrorCode } from './errors.js';
export { Reader } from './reader.js';
export { Writer } from './writer.js';
export type { TaggedField } from './tagged.js';
export { readArray, writeArray, req, deepEqual, noTags, NO_TAGS, ZERO_UUID, EMPTY_BYTES } from './helpers.js';
