import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Snappy from 'snappy';
import { describe, expect, it } from 'vitest';
import { Compression } from '../record-batch.js';
import { codecFor, SYNC_BELOW } from './index.js';
import { isXerial, XERIAL_BLOCK_INPUT, XERIAL_MAGIC, xerialBlocks, xerialFrame } from './xerial.js';

const snappy = createRequire(import.meta.url)('snappy') as typeof Snappy;
const codec = codecFor(Compression.Snappy);
const text = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 31) % 26))).join(''));
const raw = (b: Buffer): Buffer => snappy.compressSync(b);

describe('snappy framing (snappy-java / xerial)', () => {
  it('is what the codec writes: magic, version 1 and compatible 1 (int32 BE), blocks of at most 32 KiB of input', async () => {
    for (const size of [1000, 3 * XERIAL_BLOCK_INPUT + 17]) {
      const data = text(size);
      const framed = await codec.compress(data);
      expect(framed.subarray(0, 8).equals(XERIAL_MAGIC)).toBe(true);
      expect([framed.readInt32BE(8), framed.readInt32BE(12)]).toEqual([1, 1]);
      const blocks = xerialBlocks(framed);
      expect(blocks).toHaveLength(Math.ceil(size / XERIAL_BLOCK_INPUT));
      expect(Buffer.concat(blocks.map((b) => snappy.uncompressSync(b) as Buffer)).equals(data)).toBe(true);
    }
  });

  it('raw snappy (what librdkafka writes) is read as one block', async () => {
    for (const size of [10, 2 * SYNC_BELOW]) {
      const data = text(size);
      expect(isXerial(raw(data))).toBe(false);
      expect((await codec.decompress(raw(data))).equals(data)).toBe(true);
    }
  });

  it('is recognised by the magic alone: little-endian or odd version fields are read too', async () => {
    const data = text(5000);
    const framed = xerialFrame([raw(data)]);
    framed.writeInt32LE(1, 8);
    framed.writeInt32LE(1, 12);
    expect((await codec.decompress(framed)).equals(data)).toBe(true);
    framed.writeInt32BE(0x0102, 8);
    expect((await codec.decompress(framed)).equals(data)).toBe(true);
  });

  it('reads concatenated streams (a second header mid-way) and empty blocks', () => {
    const a = text(3000);
    const b = text(4000).reverse();
    const joined = Buffer.concat([xerialFrame([raw(a)]), xerialFrame([raw(Buffer.alloc(0)), raw(b)])]);
    expect(xerialBlocks(joined).map((x) => snappy.uncompressSync(x) as Buffer)).toEqual([a, Buffer.alloc(0), b]);
  });

  it('a frame cut short is GH_CODEC_CORRUPT, sync path and thread-pool path alike', async () => {
    for (const data of [text(5000), randomBytes(SYNC_BELOW)]) {
      const framed = xerialFrame([raw(data), raw(data)]);
      for (const cut of [framed.length - 1, 18, 12]) {
        await expect(codec.decompress(framed.subarray(0, cut))).rejects.toMatchObject({ code: 'GH_CODEC_CORRUPT' });
      }
    }
  });
});
