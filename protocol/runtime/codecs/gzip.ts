/** gzip (Kafka compression id 1) with node:zlib; a batch may hold several gzip members. */
import { promisify } from 'node:util';
import { gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib';
import { Compression } from '../record-batch.js';
import { defineCodec, type CodecOps } from './codec.js';

const ops: CodecOps = {
  compressSync: (data) => gzipSync(data),
  compress: promisify(gzip) as (data: Buffer) => Promise<Buffer>,
  decompressSync: (data) => gunzipSync(data),
  decompress: promisify(gunzip) as (data: Buffer) => Promise<Buffer>,
};

export const gzipCodec = defineCodec(Compression.Gzip, 'gzip', () => ops);
