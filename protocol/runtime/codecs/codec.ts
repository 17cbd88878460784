/**
 * The one interface every record-batch codec has, and how a codec runs its work: inputs below
 * SYNC_BELOW bytes synchronously (a hop to libuv's thread pool costs more than the work), larger
 * ones through the package's async API, on the thread pool, so a big batch never stalls the
 * event loop.
 */
import type { Compression } from '../record-batch.js';
import { CodecError } from './errors.js';

export type CodecName = 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface Codec {
  readonly id: Compression;
  readonly name: CodecName;
  compress(data: Buffer): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

/** A codec's work, sync and async; obtained lazily (it may load a package). */
export interface CodecOps {
  compressSync(data: Buffer): Buffer;
  compress(data: Buffer): Promise<Buffer>;
  decompressSync(data: Buffer): Buffer;
  decompress(data: Buffer): Promise<Buffer>;
}

export const SYNC_BELOW = 16 * 1024;

export function defineCodec(id: Compression, name: CodecName, ops: () => CodecOps): Codec {
  return {
    id,
    name,
    async compress(data) {
      const o = ops();
      return data.length < SYNC_BELOW ? o.compressSync(data) : o.compress(data);
    },
    async decompress(data) {
      const o = ops();
      try {
        return data.length < SYNC_BELOW ? o.decompressSync(data) : await o.decompress(data);
      } catch (err) {
        if (err instanceof CodecError) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new CodecError('GH_CODEC_CORRUPT', `${name}: ${data.length} bytes could not be decompressed (${why})`, { cause: err });
      }
    },
  };
}
