/**
 * The record-batch codecs, one per Kafka compression id. Packages load on first use (see
 * load.ts); importing this module loads none.
 */
import { Compression } from '../record-batch.js';
import type { Codec } from './codec.js';
import { CodecError } from './errors.js';
import { gzipCodec } from './gzip.js';
import { lz4Codec } from './lz4.js';
import { snappyCodec } from './snappy.js';
import { zstdCodec } from './zstd.js';

export { CodecError, type CodecErrorCode } from './errors.js';
export { SYNC_BELOW, type Codec, type CodecName } from './codec.js';

export const CODECS: ReadonlyMap<Compression, Codec> = new Map([gzipCodec, snappyCodec, lz4Codec, zstdCodec].map((c) => [c.id, c]));

/** The codec of a compressed batch (`compression` from its attributes). */
export function codecFor(compression: Compression): Codec {
  const codec = CODECS.get(compression);
  if (!codec) {
    const what = compression === Compression.None ? 'none (uncompressed)' : `${compression}, which no Kafka version defines`;
    throw new CodecError('GH_CODEC_UNKNOWN', `compression ${what} has no codec`);
  }
  return codec;
}
