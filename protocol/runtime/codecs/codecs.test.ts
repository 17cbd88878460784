import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Compression } from '../record-batch.js';
import { CODECS, codecFor, SYNC_BELOW } from './index.js';
import { defineCodec, type CodecOps } from './codec.js';
import { lazyPackage } from './load.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Compressible text of `n` bytes with some randomness in it. */
function sample(n: number): Buffer {
  const words = ['kafka', 'record', 'batch', 'proxy', 'gatehouse', randomBytes(6).toString('hex')];
  let s = '';
  while (s.length < n) s += `${words[(s.length * 7) % words.length]} ${s.length % 997} `;
  return Buffer.from(s.slice(0, n));
}

/** Runs a command line tool on `input`, its stderr (progress notes) dropped. */
const tool = (cmd: string, args: string[], input: Buffer): Buffer => execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'ignore'] });

describe.each([...CODECS.values()])('$name codec', (codec) => {
  it.each([
    ['empty', 0],
    ['small (sync path)', 300],
    ['large (thread-pool path)', 5 * SYNC_BELOW + 123],
    ['several MiB', 6 * 1024 * 1024 + 5],
  ])('round-trips %s input', async (_label, size) => {
    const data = sample(size);
    const packed = await codec.compress(data);
    if (size > 1000) expect(packed.length).toBeLessThan(data.length);
    expect((await codec.decompress(packed)).equals(data)).toBe(true);
  });

  it('round-trips incompressible input', async () => {
    const data = randomBytes(3 * SYNC_BELOW);
    expect((await codec.decompress(await codec.compress(data))).equals(data)).toBe(true);
  });

  it('refuses data it cannot decompress with GH_CODEC_CORRUPT', async () => {
    for (const junk of [Buffer.from('definitely not compressed, not in any format'), randomBytes(2 * SYNC_BELOW)]) {
      await expect(codec.decompress(junk)).rejects.toMatchObject({ code: 'GH_CODEC_CORRUPT', message: expect.stringContaining(codec.name) });
    }
  });
});

describe('codecFor', () => {
  it('has one codec per Kafka compression id', () => {
    expect([Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd].map((c) => codecFor(c).name)).toEqual(['gzip', 'snappy', 'lz4', 'zstd']);
  });

  it('refuses none and ids no Kafka version defines with GH_CODEC_UNKNOWN', () => {
    expect(() => codecFor(Compression.None)).toThrow(expect.objectContaining({ code: 'GH_CODEC_UNKNOWN' }));
    expect(() => codecFor(7 as Compression)).toThrow(expect.objectContaining({ code: 'GH_CODEC_UNKNOWN' }));
  });
});

describe('lz4 frames', () => {
  const lz4 = codecFor(Compression.Lz4);

  it('are written with independent blocks and no checksums, as Kafka writes them', async () => {
    for (const size of [100, 3 * SYNC_BELOW]) {
      const frame = await lz4.compress(sample(size));
      expect(frame.readUInt32LE(0)).toBe(0x184d2204);
      // FLG: version 01, block independence set, no block checksum, no content size or checksum.
      expect(frame[4]).toBe(0x60);
    }
  });

  it('the lz4 tool reads ours, and ours reads its linked-block, checksummed, sized frames', async () => {
    const data = sample(300_000);
    expect(tool('lz4', ['-d', '-c'], await lz4.compress(data)).equals(data)).toBe(true);
    for (const flags of [[], ['-BD'], ['-BX', '--content-size'], ['-B4', '-BD', '--no-frame-crc']]) {
      const frame = tool('lz4', ['-c', ...flags], data);
      expect((await lz4.decompress(frame)).equals(data), flags.join(' ')).toBe(true);
    }
  });
});

describe('zstd frames', () => {
  const zstd = codecFor(Compression.Zstd);

  it('the zstd tool reads ours; ours reads frames without a content size, and concatenated frames', async () => {
    const data = sample(200_000);
    expect(tool('zstd', ['-d', '-c', '-q'], await zstd.compress(data)).equals(data)).toBe(true);
    const streamed = tool('zstd', ['-c', '-q', '--no-content-size'], data);
    expect((await zstd.decompress(streamed)).equals(data)).toBe(true);
    const two = Buffer.concat([await zstd.compress(data.subarray(0, 1000)), await zstd.compress(data.subarray(1000))]);
    expect((await zstd.decompress(two)).equals(data)).toBe(true);
  });
});

describe('gzip', () => {
  it('reads a payload of several gzip members, as Java’s GZIPInputStream does', async () => {
    const gzip = codecFor(Compression.Gzip);
    const data = sample(50_000);
    const members = Buffer.concat([await gzip.compress(data.subarray(0, 20_000)), await gzip.compress(data.subarray(20_000))]);
    expect((await gzip.decompress(members)).equals(data)).toBe(true);
  });
});

/** Which codec packages a fresh Node process has loaded after importing the codecs and running `step`. */
function codecPackagesLoaded(step: string): string[] {
  const script = `
    const codecs = await import('./protocol/runtime/codecs/index.ts');
    ${step}
    const { createRequire } = await import('node:module');
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(loaded.filter((f) => /node_modules\\/(snappy|lz4-napi|@toondepauw)\\//.test(f))));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  return JSON.parse(out.toString()) as string[];
}

describe('loading', () => {
  it('importing the codecs loads no codec package; first use loads it', () => {
    expect(codecPackagesLoaded('')).toEqual([]);
    const afterSnappy = codecPackagesLoaded("await codecs.codecFor(2).compress(Buffer.from('x'));");
    expect(afterSnappy).toContainEqual(expect.stringContaining('node_modules/snappy/'));
    expect(afterSnappy.filter((f) => !f.includes('snappy'))).toEqual([]);
  });

  it('a package that cannot load fails on first use with GH_CODEC_UNAVAILABLE, naming the codec and the package', async () => {
    const get = lazyPackage<CodecOps>('gatehouse-no-such-codec-package', 'zstd');
    const codec = defineCodec(Compression.Zstd, 'zstd', get);
    const unavailable = {
      code: 'GH_CODEC_UNAVAILABLE',
      message: expect.stringMatching(/^zstd codec: the package gatehouse-no-such-codec-package could not be loaded \(Cannot find module/),
    };
    await expect(codec.decompress(Buffer.from('x'))).rejects.toMatchObject(unavailable);
    await expect(codec.compress(Buffer.from('x'))).rejects.toMatchObject(unavailable);
    // The failure is kept: later batches are not a module lookup each.
    let first: unknown;
    try {
      get();
    } catch (err) {
      first = err;
    }
    expect(() => get()).toThrow(first as Error);
  });
});
