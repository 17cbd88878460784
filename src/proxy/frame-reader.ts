/**
 * Cuts a TCP byte stream into Kafka frames (int32 size + payload). Frames are handed on whole,
 * size prefix included, so that a frame nobody changes is written on exactly as it came.
 *
 * A frame inside one chunk is a view of that chunk. A frame spread over several chunks is either
 * joined (one copy: what requests get, being small and always decoded) or, in `segmented` mode,
 * handed on as its list of chunk views, never copied: large Fetch responses pass through that way.
 *
 * `pushStreaming` adds cut-through: when a frame is not complete in what has arrived, the handler
 * is asked (once its size and correlation id are known) whether it wants the frame as a stream;
 * if so the frame's bytes, size prefix first, are handed on chunk by chunk as they arrive and then
 * its end is signalled, so the frame can be written on before its last byte is in.
 *
 * The bytes of an incomplete frame are kept as views of the chunks they came in until
 * `ownPending` copies them into memory of the reader's own (client-reads.ts does that when they
 * pin far more pooled memory than they are), and the size limit may change between frames
 * (`FrameLimit`: a connection's limit is raised once it is admitted).
 */
import type { Writable } from 'node:stream';
import { ProxyError } from './errors.js';

/** One frame: a single buffer, or the chunks it arrived in (in order). */
export type Frame = Buffer | Buffer[];

export function frameLength(f: Frame): number {
  if (Buffer.isBuffer(f)) return f.length;
  let n = 0;
  for (const s of f) n += s.length;
  return n;
}

/** The first `n` bytes of a frame (or all of it when shorter), joining only the chunks needed. */
export function frameHead(f: Frame, n: number): Buffer {
  if (Buffer.isBuffer(f)) return f;
  if (f[0]!.length >= n) return f[0]!;
  const parts: Buffer[] = [];
  let got = 0;
  for (const c of f) {
    if (got >= n) break;
    parts.push(c);
    got += c.length;
  }
  return Buffer.concat(parts);
}

export function joinFrame(f: Frame): Buffer {
  return Buffer.isBuffer(f) ? f : Buffer.concat(f);
}

/**
 * Writes a frame to a socket: one write, or its chunks in one writev. `done` is called once the
 * socket is finished with all of it. False when the socket asks the writer to wait for 'drain'.
 */
export function writeFrame(socket: Writable, f: Frame, done?: () => void): boolean {
  if (Buffer.isBuffer(f)) return socket.write(f, done);
  let ok = true;
  socket.cork();
  for (let i = 0; i < f.length; i++) ok = socket.write(f[i]!, i === f.length - 1 ? done : undefined) && ok;
  socket.uncork();
  return ok;
}

/** What `pushStreaming` reports to. */
export interface FrameHandler {
  /** A complete frame (size prefix included), as `push` would return it. */
  frame(f: Frame): void;
  /**
   * A frame of `size` payload bytes has begun and is not complete yet. Return true to receive it
   * as a stream (`chunk`… then `end`), false to receive it whole through `frame` once complete.
   * Asked once per frame.
   */
  start(size: number, correlationId: number): boolean;
  /** The next bytes of the streamed frame; the first chunk starts with its size prefix. */
  chunk(part: Buffer): void;
  /** The streamed frame's last byte has been handed on. */
  end(): void;
}

/** A frame size limit that may change while frames are read (see ConnectionLimits). */
export interface FrameLimit {
  readonly maxFrameBytes: number;
  /** Said after the limit in the error, e.g. " before login (…)". */
  readonly limitNote?: string;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;
  /** Bytes of the frame being streamed still to come; 0 when not streaming. */
  private streamLeft = 0;
  /** The handler declined to stream the incomplete frame at the head of the buffer. */
  private declined = false;
  /** Bytes fed so far: pushed, streamed, or moved around this reader (`skipStreamed`). */
  private fed = 0;
  /** The reader's own copy of incomplete-frame bytes (`ownPending`), while `chunks[0]` is its start. */
  private owned: Buffer | null = null;

  constructor(
    private readonly limit: number | FrameLimit,
    private readonly what: string,
    private readonly segmented = false,
  ) {}

  /** Feeds a chunk; returns the complete frames (size prefix included). */
  push(chunk: Buffer): Frame[] {
    this.fed += chunk.length;
    const frames: Frame[] = [];
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
      const total = 4 + this.need;
      if (this.buffered < total) break;
      if (this.segmented && this.chunks.length > 1) {
        const parts: Buffer[] = [];
        let taken = 0;
        while (taken < total) {
          const c = this.chunks.shift()!;
          const use = Math.min(c.length, total - taken);
          parts.push(use === c.length ? c : c.subarray(0, use));
          taken += use;
          if (use < c.length) this.chunks.unshift(c.subarray(use));
        }
        frames.push(parts);
      } else {
        const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
        frames.push(all.subarray(0, total));
        const rest = all.subarray(total);
        this.chunks = rest.length ? [rest] : [];
      }
      this.buffered -= total;
      this.need = -1;
      this.declined = false;
    }
    return frames;
  }

  /**
   * Feeds a chunk in streaming mode (see `FrameHandler`). Frames complete in what has arrived are
   * handed on whole, exactly as `push` returns them; an incomplete one is offered as a stream.
   */
  pushStreaming(chunk: Buffer, h: FrameHandler): void {
    if (this.streamLeft > 0) {
      const use = Math.min(this.streamLeft, chunk.length);
      this.streamLeft -= use;
      this.fed += use;
      h.chunk(use === chunk.length ? chunk : chunk.subarray(0, use));
      if (this.streamLeft > 0) return;
      h.end();
      if (use === chunk.length) return;
      chunk = chunk.subarray(use);
    }
    for (const f of this.push(chunk)) h.frame(f);
    // What is left (if anything) is the start of one incomplete frame.
    if (this.declined || this.buffered < 8) return;
    const size = this.need >= 0 ? this.need : this.checkSize(this.peekSize());
    const head = frameHead(this.chunks, 8);
    if (!h.start(size, head.readInt32BE(4))) {
      this.declined = true;
      return;
    }
    const parts = this.chunks;
    this.streamLeft = 4 + size - this.buffered;
    this.chunks = [];
    this.buffered = 0;
    this.need = -1;
    for (const p of parts) h.chunk(p);
  }

  /**
   * `n` bytes of the streamed frame went to the client around this reader (the zero-copy relay);
   * reports its end when they were the last.
   */
  skipStreamed(n: number, h: FrameHandler): void {
    if (n > this.streamLeft) throw new Error(`skipStreamed(${n}) past the streamed frame's end (${this.streamLeft} left)`);
    this.streamLeft -= n;
    this.fed += n;
    if (this.streamLeft === 0) h.end();
  }

  /** Bytes still to come of the frame being streamed (cut through); 0 when none is. */
  get streaming(): number {
    return this.streamLeft;
  }

  /** Bytes of an incomplete frame still held. */
  get pending(): number {
    return this.buffered;
  }

  /** How many chunks the bytes of an incomplete frame lie in. */
  get pendingChunks(): number {
    return this.chunks.length;
  }

  /** Bytes fed so far: the stream position just after the last byte received. */
  get received(): number {
    return this.fed;
  }

  /**
   * The stream position of the first byte held for an incomplete frame (`received` when none is).
   * The bytes held are always the last ones fed: every byte before this position has been handed
   * on in a frame or a streamed chunk.
   */
  get heldFrom(): number {
    return this.fed - this.buffered;
  }

  /**
   * Copies the bytes held for the incomplete frame into memory of the reader's own, so that the
   * buffers they arrived in are no longer used. The copy grows by doubling (never past the
   * frame's size once known), so bytes that trickle in are copied a bounded number of times in
   * all, not once per call, and the copy is at most twice the bytes held (or 256). Memory a frame already
   * handed on lies in is never written.
   */
  ownPending(): void {
    if (this.buffered === 0) return;
    const chunks = this.chunks;
    const first = chunks[0]!;
    let own = this.owned;
    // The copy is reused only while its start is still the first chunk: once a frame took bytes
    // of it, that frame's views must keep what they see.
    let at = 0;
    let from = 0;
    if (own && first.buffer === own.buffer && first.byteOffset === own.byteOffset && own.length >= this.buffered) {
      if (chunks.length === 1) return;
      at = first.length;
      from = 1;
    } else {
      const frameSize = this.need >= 0 ? 4 + this.need : Infinity;
      own = Buffer.allocUnsafeSlow(Math.max(this.buffered, Math.min(2 * this.buffered, frameSize), Math.min(256, frameSize)));
    }
    for (let i = from; i < chunks.length; i++) at += chunks[i]!.copy(own, at);
    this.owned = own;
    this.chunks = [own.subarray(0, this.buffered)];
  }

  private peekSize(): number {
    return frameHead(this.chunks, 4).readInt32BE(0);
  }

  private checkSize(size: number): number {
    if (size < 0) throw new ProxyError('GH_FRAME_INVALID', `${this.what}: negative frame size ${size}`);
    const limit = this.limit;
    const max = typeof limit === 'number' ? limit : limit.maxFrameBytes;
    if (size > max) {
      const note = typeof limit === 'number' ? '' : (limit.limitNote ?? '');
      throw new ProxyError('GH_FRAME_TOO_LARGE', `${this.what}: frame of ${size} bytes exceeds the limit of ${max}${note}`);
    }
    return size;
  }
}
