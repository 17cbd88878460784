/**
 * Client requests read into pooled buffers (see read-pool.ts), and which of those buffers are
 * still in use. Requests are used in place, never copied: each exchange holds the reads its bytes
 * lie in until it is over (Exchange.finished), and this holds every read the request frame reader
 * still keeps bytes of (the start of an incomplete request), so that no later read lands in it.
 *
 * The frame reader keeps only the bytes after the last complete frame, so the reads it keeps bytes
 * of are always the latest ones. Each held read is queued with the stream position its bytes end
 * at; those the reader has let go are at the front of the queue. Per read, the bookkeeping is a
 * few comparisons and a map lookup per buffer a new request lies in, however many reads are held.
 *
 * A request trickling in a few bytes per read would pin a pooled buffer per read (16 KiB for a
 * byte). So once the incomplete request lies in two or more held reads whose buffers are more than
 * twice the bytes of it they hold, its bytes are copied out (FrameReader.ownPending) and the reads
 * let go. Pooled memory held for an incomplete request is then at most one read buffer or twice
 * its bytes, and the copy at most twice its bytes, however many reads it came in. A request that
 * arrives in full reads is never copied.
 */
import type { Exchange } from '../exchange.js';
import type { Frame, FrameReader } from '../frame-reader.js';
import type { Lease } from '../read-pool.js';

/** Separate reads an incomplete request from a non-pooled socket may lie in before they are joined. */
const PLAIN_CHUNKS_KEPT = 8;

interface Held {
  memory: ArrayBufferLike;
  lease: Lease;
  /** The stream position just after this read's last byte. */
  end: number;
  release: () => void;
}

export class ClientReads {
  /** The pooled read being handled, if any. */
  private current: { memory: ArrayBufferLike; lease: Lease } | null = null;
  /** Earlier pooled reads the frame reader still keeps bytes of, oldest first (from `head` on). */
  private queue: Held[] = [];
  private head = 0;
  /** The same reads by buffer, for the requests that lie in them. */
  private readonly byMemory = new Map<ArrayBufferLike, Held>();
  /** Bytes of the pooled buffers of the held reads. */
  private pinned = 0;
  /** The stream position up to which the frame reader holds its bytes in its own copy. */
  private copiedTo = 0;

  constructor(private readonly frames: FrameReader) {}

  /** A pooled read: `handle` feeds it to the frame reader; then the holds are brought up to date. */
  read(view: Buffer, lease: Lease, handle: (view: Buffer) => void): void {
    const before = this.frames.received;
    this.current = { memory: view.buffer, lease };
    try {
      handle(view);
    } finally {
      this.current = null;
    }
    const from = this.frames.heldFrom;
    this.releaseBefore(from);
    // Fed to the reader (not dropped by a closed or draining connection), and its last bytes are
    // the start of an incomplete request.
    const end = this.frames.received;
    if (end > before && end > from) this.hold(view.buffer, lease, end);
    if (this.held >= 2 && this.pinned > 2 * (end - Math.max(from, this.copiedTo))) this.copyOut();
  }

  /**
   * A read not from the pool (a TLS socket's): nothing to hold, but each read is a buffer object
   * of its own, so a request trickling in as many small reads is copied together once it lies in
   * more than a few.
   */
  plain(chunk: Buffer, handle: (chunk: Buffer) => void): void {
    handle(chunk);
    if (this.frames.pendingChunks > PLAIN_CHUNKS_KEPT) this.frames.ownPending();
  }

  /** Makes a new exchange hold every pooled read its bytes lie in (none outside a pooled read). */
  lend(ex: Pick<Exchange, 'borrow'>, wire: Frame): void {
    const current = this.current;
    if (!current) return;
    if (Buffer.isBuffer(wire)) {
      if (wire.buffer === current.memory) ex.borrow(current.lease);
      return;
    }
    let last: ArrayBufferLike | null = null;
    for (const part of wire) {
      if (part.buffer === last) continue;
      last = part.buffer;
      const lease = part.buffer === current.memory ? current.lease : this.byMemory.get(part.buffer)?.lease;
      if (lease) ex.borrow(lease);
    }
  }

  /** How many earlier reads are held (for tests). */
  get held(): number {
    return this.queue.length - this.head;
  }

  /** Bytes of the pooled buffers held (for tests). */
  get pinnedBytes(): number {
    return this.pinned;
  }

  private hold(memory: ArrayBufferLike, lease: Lease, end: number): void {
    const h: Held = { memory, lease, end, release: lease.hold() };
    this.queue.push(h);
    this.byMemory.set(memory, h);
    this.pinned += memory.byteLength;
  }

  /** The incomplete request's bytes go into the frame reader's own memory; every held read is let go. */
  private copyOut(): void {
    this.frames.ownPending();
    this.copiedTo = this.frames.received;
    this.releaseBefore(Infinity);
  }

  /** Lets go of the reads that lie wholly before stream position `pos`. */
  private releaseBefore(pos: number): void {
    const q = this.queue;
    while (this.head < q.length && q[this.head]!.end <= pos) {
      const h = q[this.head++]!;
      if (this.byMemory.get(h.memory) === h) this.byMemory.delete(h.memory);
      this.pinned -= h.memory.byteLength;
      h.release();
    }
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
  }
}
