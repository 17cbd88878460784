/**
 * zstd (Kafka compression id 4) with `@toondepauw/node-zstd` (napi-rs over the zstd crate,
 * libzstd 1.5.7; prebuilt binaries for Linux, macOS and Windows shipped in npm packages, sync
 * and thread-pool APIs). Chosen over zstd-napi, whose install fetches Node's headers from the
 * internet to compile (it fails where only the registry is reachable, and needs a C++
 * toolchain), over @mongodb-js/zstd (its current line downloads its binary from GitHub), and
 * over wasm builds (slower, sync only). Node's own zlib.zstd* (Node 22.15+) can replace it when
 * Node 20 support ends. Level 3 is zstd's and Kafka's default; decoding streams, so frames
 * without a content size (Java's zstd-jni writes those) and concatenated frames are read.
 */
import type * as NodeZstd from '@toondepauw/node-zstd';
import { Compression } from '../record-batch.js';
import { defineCodec, type CodecOps } from './codec.js';
import { lazyPackage } from './load.js';

const zstd = lazyPackage<typeof NodeZstd>('@toondepauw/node-zstd', 'zstd');
const LEVEL = 3;

let ops: CodecOps | undefined;

function load(): CodecOps {
  const { Encoder, Decoder } = zstd();
  const encoder = new Encoder(LEVEL);
  const decoder = new Decoder();
  return {
    compressSync: (data) => encoder.encodeSync(data),
    compress: (data) => encoder.encode(data),
    decompressSync: (data) => decoder.decodeSync(data),
    decompress: (data) => decoder.decode(data),
  };
}

export const zstdCodec = defineCodec(Compression.Zstd, 'zstd', () => (ops ??= load()));
