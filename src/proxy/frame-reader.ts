/**
 * Cuts a TCP byte stream into Kafka frames (int32 size + payload). Frames are handed on whole,
 * size prefix included, so that a frame nobody changes is written on exactly as it came. A frame
 * that arrives in one chunk is a view of that chunk; only frames split across chunks are copied
 * (once).
 */
import { ProxyError } from './errors.js';

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly what: string,
  ) {}

  /** Feeds a chunk; returns the complete frames (size prefix included). */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    if (this.buffered === 0) {
      // Fast path: frames wholly inside this chunk need no copying.
      let pos = 0;
      while (chunk.length - pos >= 4) {
        const size = this.checkSize(chunk.readInt32BE(pos));
        if (chunk.length - pos - 4 < size) break;
        frames.push(chunk.subarray(pos, pos + 4 + size));
        pos += 4 + size;
      }
      if (pos === chunk.length) return frames;
      chunk = chunk.subarray(pos);
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        this.need = this.checkSize(this.peekSize());
      }
      if (this.buffered < 4 + this.need) break;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      frames.push(all.subarray(0, 4 + this.need));
      const rest = all.subarray(4 + this.need);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      this.need = -1;
    }
    return frames;
  }

  /** Bytes of an incomplete frame still held. */
  get pending(): number {
    return this.buffered;
  }

  private peekSize(): number {
    const head = this.chunks[0]!;
    if (head.length >= 4) return head.readInt32BE(0);
    const first = Buffer.concat(this.chunks, this.buffered).subarray(0, 4);
    return first.readInt32BE(0);
  }

  private checkSize(size: number): number {
    if (size < 0) throw new ProxyError('GH_FRAME_INVALID', `${this.what}: negative frame size ${size}`);
    if (size > this.maxFrameBytes) {
      throw new ProxyError('GH_FRAME_TOO_LARGE', `${this.what}: frame of ${size} bytes exceeds the limit of ${this.maxFrameBytes}`);
    }
    return size;
  }
}
