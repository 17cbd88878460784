/**
 * The held-read bookkeeping on its own, with reads simulated as the pool makes them: each read
 * lands in a buffer nobody holds (a released one is reused at once, as the pool does), so a
 * buffer let go too early is overwritten by the next read and a request's bytes change under it.
 * Pinned pool bytes are counted as the pool would: the buffers of every read still held after
 * it was handled.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader, joinFrame, type Frame } from '../frame-reader.js';
import { once, type Lease } from '../read-pool.js';
import { ClientReads } from './client-reads.js';
import { splitAt } from '../../../test/helpers/chunks.js';

/** A pooled buffer's lease: the read's own use plus every hold taken on it. */
class TestLease implements Lease {
  uses = 1;
  constructor(
    readonly memory: Buffer,
    private readonly freed: (b: Buffer) => void,
    private readonly held: () => void,
  ) {}
  hold(): () => void {
    this.held();
    this.uses++;
    return once(() => this.release());
  }
  release(): void {
    if (--this.uses === 0) this.freed(this.memory);
  }
}

/** A request exchange as far as the bookkeeping sees it: the holds it took, and its bytes. */
interface Borrower {
  wire: Frame;
  expected: Buffer;
  releases: Array<() => void>;
  borrow(lease: Lease): void;
}

/** Reads into reused buffers, requests parsed and lent their reads, as connection.ts wires it. */
function harness(bufferBytes = 4096) {
  const free: Buffer[] = [];
  const leases: TestLease[] = [];
  const frames = new FrameReader(1 << 30, 'test', true);
  /** Every access to the frame reader the bookkeeping makes (its work per read). */
  let frameCalls = 0;
  const counted = new Proxy(frames, {
    get(target, prop) {
      frameCalls++;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const reads = new ClientReads(counted);
  let holds = 0;
  const live: Borrower[] = [];
  let pushed = 0;
  let stream: Buffer = Buffer.alloc(0);
  const memories = new Set<ArrayBufferLike>();
  const pooled = (c: Buffer) => memories.has(c.buffer);
  const readerChunks = () => (frames as unknown as { chunks: Buffer[] }).chunks;

  function read(bytes: Buffer): void {
    const memory = free.pop() ?? Buffer.alloc(bufferBytes);
    memories.add(memory.buffer);
    bytes.copy(memory); // a buffer reused too early is overwritten here
    const lease = new TestLease(memory, (b) => free.push(b), () => holds++);
    leases.push(lease);
    reads.read(memory.subarray(0, bytes.length), lease, (view) => {
      for (const wire of frames.push(view)) {
        const len = joinFrame(wire).length;
        const ex: Borrower = {
          wire,
          expected: Buffer.from(stream.subarray(pushed, pushed + len)),
          releases: [],
          borrow: (l) => ex.releases.push(l.hold()),
        };
        pushed += len;
        reads.lend(ex, wire);
        live.push(ex);
      }
    });
    lease.release();
  }

  return {
    frames,
    reads,
    leases,
    live,
    frameCalls: () => frameCalls,
    holds: () => holds,
    /** The pooled buffers the frame reader keeps bytes of, seen from inside (what it used to be asked, per held read). */
    readerBuffers: () => new Set(readerChunks().filter(pooled).map((c) => c.buffer)).size,
    /** Bytes of the incomplete request the frame reader keeps in pooled buffers. */
    readerPooledBytes: () => readerChunks().filter(pooled).reduce((n, c) => n + c.length, 0),
    /** Bytes of the incomplete request in the frame reader's own memory, and that memory's size. */
    readerOwn: () => {
      const own = readerChunks().filter((c) => !pooled(c));
      return { bytes: own.reduce((n, c) => n + c.length, 0), memory: own.reduce((n, c) => n + c.buffer.byteLength, 0) };
    },
    /** Bytes of pooled buffers still in use after their read (the pool's pinned bytes). */
    pinnedBytes: () => leases.filter((l) => l.uses > 0).reduce((n, l) => n + l.memory.length, 0),
    setStream: (s: Buffer) => (stream = s),
    read,
    /** The request is over: checks its bytes are still what arrived, then lets its reads go. */
    finish(ex: Borrower): void {
      expect(joinFrame(ex.wire).equals(ex.expected)).toBe(true);
      for (const r of ex.releases) r();
      live.splice(live.indexOf(ex), 1);
    },
  };
}

function frame(payload: number, fill: number): Buffer {
  const f = Buffer.alloc(4 + payload, fill);
  f.writeInt32BE(payload, 0);
  return f;
}

describe('held client reads', () => {
  it('does a bounded amount of work per one-byte read of a large request, and holds at most one read for it', () => {
    const n = 20_000;
    const big = frame(n - 4, 7);
    const h = harness(64);
    h.setStream(big);
    const work: number[] = [];
    const owned = new Set<ArrayBufferLike>();
    for (let i = 0; i < n; i++) {
      const calls = h.frameCalls();
      h.read(big.subarray(i, i + 1));
      work.push(h.frameCalls() - calls);
      if (i < n - 1) {
        // The request's bytes are copied out of the pooled reads every other read: one is held at most.
        expect(h.reads.held).toBeLessThanOrEqual(1);
        expect(h.reads.pinnedBytes).toBeLessThanOrEqual(64);
        const own = (h.frames as unknown as { chunks: Buffer[] }).chunks[0]!;
        if (h.readerOwn().bytes > 0) owned.add(own.buffer);
      }
    }
    // The same few calls into the frame reader per read, however many bytes came before.
    expect(Math.max(...work)).toBeLessThanOrEqual(6);
    // The copy grows by doubling: a handful of copies in all, not one per read.
    expect(owned.size).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
    // The last read completes the request from the copy and that read; nothing else is held.
    expect(h.live).toHaveLength(1);
    expect(h.reads.held).toBe(0);
    h.finish(h.live[0]!);
    expect(h.leases.every((l) => l.uses === 0)).toBe(true);
  });

  it('a request trickling into 16 KiB pool buffers pins one buffer, not one per read (pooled bytes counted)', () => {
    // 512 KiB announced, 3,000 reads of one to three bytes: before copying out, each read pinned its 16 KiB buffer (~47 MiB).
    const announced = 512 * 1024;
    const big = frame(announced - 4, 9);
    const h = harness(16 * 1024);
    h.setStream(big);
    let sent = 0;
    let maxPinned = 0;
    let maxOwn = 0;
    for (let i = 0; i < 3_000; i++) {
      const len = 1 + (i % 3);
      h.read(big.subarray(sent, sent + len));
      sent += len;
      maxPinned = Math.max(maxPinned, h.pinnedBytes());
      const own = h.readerOwn();
      maxOwn = Math.max(maxOwn, own.memory);
      // The copy is at most twice the bytes it holds (or 256).
      expect(own.memory).toBeLessThanOrEqual(Math.max(256, 2 * own.bytes));
    }
    expect(h.reads.held).toBeLessThanOrEqual(1);
    expect(maxPinned).toBeLessThanOrEqual(16 * 1024);
    expect(maxOwn).toBeLessThanOrEqual(2 * sent);
    // The rest arrives in full reads: the request completes intact.
    while (sent < big.length) {
      const len = Math.min(16 * 1024, big.length - sent);
      h.read(big.subarray(sent, sent + len));
      sent += len;
    }
    expect(h.live).toHaveLength(1);
    h.finish(h.live[0]!);
    expect(h.pinnedBytes()).toBe(0);
  });

  it('never copies a request that arrives in full reads: it is forwarded from the pooled buffers', () => {
    const big = frame(10 * 4096 - 4, 3);
    const h = harness(4096);
    h.setStream(big);
    for (let at = 0; at < big.length; at += 4096) {
      h.read(big.subarray(at, at + 4096));
      expect(h.readerOwn().bytes).toBe(0);
    }
    expect(h.live).toHaveLength(1);
    // Every read lent to the request: its bytes are the pooled reads themselves.
    expect(h.live[0]!.releases).toHaveLength(10);
    h.finish(h.live[0]!);
  });

  it('joins a request trickling in as many small reads from a socket not on pooled reads (TLS), a few chunks at a time', () => {
    const big = frame(5_000 - 4, 5);
    const frames = new FrameReader(1 << 20, 'test', true);
    const reads = new ClientReads(frames);
    const got: Frame[] = [];
    let maxChunks = 0;
    for (let i = 0; i < big.length; i++) {
      reads.plain(Buffer.from(big.subarray(i, i + 1)), (c) => got.push(...frames.push(c)));
      maxChunks = Math.max(maxChunks, frames.pendingChunks);
    }
    // One buffer object per read is what each read costs; they are joined once more than 8 pile up.
    expect(maxChunks).toBeLessThanOrEqual(9);
    expect(got.map(joinFrame)).toEqual([big]);
  });

  it('holds exactly the reads the frame reader keeps bytes of, and no request sees its bytes change', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 600 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.array(fc.nat({ max: 3 }), { maxLength: 60 }),
        fc.boolean(),
        (sizes, cuts, finishing, cutLast) => {
          const frames = sizes.map((s, i) => frame(s, i + 1));
          let stream = Buffer.concat(frames);
          if (cutLast) stream = stream.subarray(0, stream.length - 1); // the last request incomplete
          const h = harness(1024);
          h.setStream(stream);
          // Reads of at most a buffer each.
          const parts = splitAt(stream, cuts).flatMap((p) => splitAt(p, Array.from({ length: p.length >> 10 }, (_, k) => (k + 1) << 10)));
          parts.forEach((part, i) => {
            h.read(part);
            // Held: the reads whose buffers the frame reader keeps bytes in, no more, no fewer.
            expect(h.reads.held).toBe(h.readerBuffers());
            // Pinned for the incomplete request: one read buffer, or at most twice its bytes in them.
            if (h.reads.held > 1) expect(h.reads.pinnedBytes).toBeLessThanOrEqual(2 * h.readerPooledBytes());
            // Requests end out of order and at any time; each checks its bytes as it ends.
            for (let k = 0; k < (finishing[i] ?? 0) && h.live.length > 0; k++) h.finish(h.live[(i + k) % h.live.length]!);
          });
          while (h.live.length > 0) h.finish(h.live[0]!);
          // Every buffer is free again but those of the incomplete request.
          expect(h.reads.held).toBe(h.readerBuffers());
          if (!cutLast) expect(h.leases.every((l) => l.uses === 0)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
