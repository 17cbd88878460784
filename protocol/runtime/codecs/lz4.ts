/**
 * lz4 (Kafka compression id 3) with `lz4-napi` (napi-rs over lz4_flex). Kafka's lz4 is the LZ4
 * frame format; Java's consumer decodes each block on its own, so frames are written with
 * independent blocks (lz4_flex's default: FLG 0x60, no checksums), as Java producers write them.
 * Reading takes any frame (linked blocks, checksums, content size).
 */
import type * as Lz4 from 'lz4-napi';
import { Compression } from '../record-batch.js';
import { defineCodec } from './codec.js';
import { lazyPackage } from './load.js';

const lz4 = lazyPackage<typeof Lz4>('lz4-napi', 'lz4');

export const lz4Codec = defineCodec(Compression.Lz4, 'lz4', () => {
  const l = lz4();
  return {
    compressSync: (data) => l.compressFrameSync(data),
    compress: (data) => l.compressFrame(data),
    decompressSync: (data) => l.decompressFrameSync(data),
    decompress: (data) => l.decompressFrame(data),
  };
});
