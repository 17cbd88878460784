/**
 * The framing Java's snappy-java (SnappyOutputStream) wraps around snappy blocks, which Java
 * producers write into Kafka batches: an 8-byte magic, two int32 (version, compatible version),
 * then blocks of [int32 BE length][raw snappy block], each from at most 32 KiB of input. Only
 * the magic identifies it (some writers put the version fields little-endian); a payload without
 * it is one raw snappy block, which is what librdkafka writes. A stream may continue with another
 * header (streams concatenated), which snappy-java skips, and so does this.
 */
import { CodecError } from './errors.js';

export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const HEADER = 16;
/** snappy-java's default block size. */
export const XERIAL_BLOCK_INPUT = 32 * 1024;

export function isXerial(data: Buffer, at = 0): boolean {
  return data.length - at >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, at, at + XERIAL_MAGIC.length) === 0;
}

/** The raw snappy blocks of a framed payload, as views. */
export function xerialBlocks(data: Buffer): Buffer[] {
  const blocks: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (isXerial(data, pos)) {
      if (data.length - pos < HEADER) throw new CodecError('GH_CODEC_CORRUPT', `snappy (xerial): header at ${pos} is cut short`);
      pos += HEADER;
      continue;
    }
    if (data.length - pos < 4) throw new CodecError('GH_CODEC_CORRUPT', `snappy (xerial): block length at ${pos} is cut short`);
    const len = data.readInt32BE(pos);
    if (len < 0 || pos + 4 + len > data.length) {
      throw new CodecError('GH_CODEC_CORRUPT', `snappy (xerial): block at ${pos} says ${len} bytes, ${data.length - pos - 4} left`);
    }
    blocks.push(data.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  return blocks;
}

/** A framed payload (version 1, compatible 1, as snappy-java writes) around compressed blocks. */
export function xerialFrame(blocks: readonly Buffer[]): Buffer {
  const out = Buffer.allocUnsafe(HEADER + blocks.reduce((n, b) => n + 4 + b.length, 0));
  XERIAL_MAGIC.copy(out, 0);
  out.writeInt32BE(1, 8);
  out.writeInt32BE(1, 12);
  let pos = HEADER;
  for (const b of blocks) {
    out.writeInt32BE(b.length, pos);
    b.copy(out, pos + 4);
    pos += 4 + b.length;
  }
  return out;
}

/** `data` in slices of at most XERIAL_BLOCK_INPUT bytes (views). */
export function xerialSlices(data: Buffer): Buffer[] {
  const slices: Buffer[] = [];
  for (let pos = 0; pos < data.length; pos += XERIAL_BLOCK_INPUT) slices.push(data.subarray(pos, pos + XERIAL_BLOCK_INPUT));
  return slices;
}
