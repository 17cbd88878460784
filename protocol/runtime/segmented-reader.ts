/**
 * A Reader over a frame that arrived in several chunks, without joining them. Small fields that
 * straddle two chunks are copied into a few scratch bytes; byte and record fields are skipped
 * (returned empty), so a large Fetch response can be walked for its structure — for example to
 * find the KIP-951 leader hints after all the records — without copying a single record.
 */
import { EMPTY_BYTES } from './helpers.js';
import { ProtocolError } from './errors.js';
import { Reader } from './reader.js';

export class SegmentedReader extends Reader {
  private readonly segments: readonly Buffer[];
  private seg = 0;
  private segStart = 0;

  /** `start`/`end` are logical offsets into the concatenation of `segments`. */
  constructor(segments: readonly Buffer[], start = 0, end = segments.reduce((n, s) => n + s.length, 0)) {
    super(segments[0] ?? EMPTY_BYTES, start, end);
    this.segments = segments;
  }

  protected override need(n: number, what: string): number {
    const at = this.pos;
    if (n > this.end - at) {
      throw new ProtocolError('GH_PROTOCOL_TRUNCATED', `${what}: needs ${n} bytes at offset ${at}, ${this.end - at} left`);
    }
    this.pos = at + n;
    while (at >= this.segStart + this.segments[this.seg]!.length) {
      this.segStart += this.segments[this.seg]!.length;
      this.seg++;
    }
    const seg = this.segments[this.seg]!;
    const off = at - this.segStart;
    if (off + n <= seg.length) {
      this.buf = seg;
      return off;
    }
    // The field straddles chunks: gather its bytes (small fields only; bytes are skipped).
    const scratch = Buffer.allocUnsafe(n);
    let copied = seg.copy(scratch, 0, off);
    for (let i = this.seg + 1; copied < n; i++) copied += this.segments[i]!.copy(scratch, copied, 0, n - copied);
    this.buf = scratch;
    return 0;
  }

  /** Bytes and records are skipped, not gathered: the value is an empty buffer. */
  override raw(n: number): Buffer {
    if (n > this.end - this.pos) {
      throw new ProtocolError('GH_PROTOCOL_TRUNCATED', `bytes: needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
    }
    this.pos += n;
    return EMPTY_BYTES;
  }
}

/** Reads an int32 at a logical offset of a chunked frame. */
export function readInt32At(segments: readonly Buffer[], offset: number): number {
  const r = new SegmentedReader(segments, offset);
  return r.int32();
}
