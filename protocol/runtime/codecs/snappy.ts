/**
 * snappy (Kafka compression id 2) with the `snappy` package (napi-rs, prebuilt binaries shipped
 * in npm packages). Reads raw snappy (librdkafka) and snappy-java's framing (Java producers);
 * writes the framing, as Java producers do, which every client reads.
 */
import type * as Snappy from 'snappy';
import { Compression } from '../record-batch.js';
import { defineCodec } from './codec.js';
import { lazyPackage } from './load.js';
import { isXerial, xerialBlocks, xerialFrame, xerialSlices } from './xerial.js';

const snappy = lazyPackage<typeof Snappy>('snappy', 'snappy');

const asBuffer = (b: string | Buffer): Buffer => (typeof b === 'string' ? Buffer.from(b) : b);

export const snappyCodec = defineCodec(Compression.Snappy, 'snappy', () => {
  const s = snappy();
  return {
    compressSync: (data) => xerialFrame(xerialSlices(data).map((b) => s.compressSync(b))),
    compress: async (data) => xerialFrame(await Promise.all(xerialSlices(data).map((b) => s.compress(b)))),
    decompressSync: (data) =>
      isXerial(data) ? Buffer.concat(xerialBlocks(data).map((b) => asBuffer(s.uncompressSync(b)))) : asBuffer(s.uncompressSync(data)),
    decompress: async (data) =>
      isXerial(data) ? Buffer.concat((await Promise.all(xerialBlocks(data).map((b) => s.uncompress(b)))).map(asBuffer)) : asBuffer(await s.uncompress(data)),
  };
});
