/**
 * The held-read bookkeeping on its own, with reads simulated as the pool makes them: each read
 * lands in a buffer nobody holds (a released one is reused at once, as the pool does), so a
 * buffer let go too early is overwritten by the next read and a request's bytes change under it.
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

  function read(bytes: Buffer): void {
    const memory = free.pop() ?? Buffer.alloc(bufferBytes);
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
    /** The buffers the frame reader keeps bytes of, seen from inside (what it used to be asked, per held read). */
    readerBuffers: () => new Set((frames as unknown as { chunks: Buffer[] }).chunks.map((c) => c.buffer)).size,
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
  it('does the same work for each one-byte read of a large request, however many reads it holds', () => {
    const n = 20_000;
    const big = frame(n - 4, 7);
    const h = harness(64);
    h.setStream(big);
    const work: number[] = [];
    const holds: number[] = [];
    for (let i = 0; i < n; i++) {
      const calls = h.frameCalls();
      const taken = h.holds();
      h.read(big.subarray(i, i + 1));
      work.push(h.frameCalls() - calls);
      holds.push(h.holds() - taken);
      if (i < n - 1) expect(h.reads.held).toBe(i + 1);
    }
    // Every read before the last: one hold taken, and as many calls into the frame reader as the
    // first read made (a scan of the held reads would grow with each read).
    const before = work.slice(0, -1);
    expect(Math.max(...before)).toBe(work[0]);
    expect(work[0]).toBeLessThanOrEqual(4);
    expect(holds.slice(0, -1).every((x) => x === 1)).toBe(true);
    // The last read completes the request: it borrows every read once, and nothing else is held.
    expect(work.at(-1)).toBe(work[0]);
    expect(h.live).toHaveLength(1);
    expect(h.live[0]!.releases).toHaveLength(n);
    expect(h.reads.held).toBe(0);
    h.finish(h.live[0]!);
    expect(h.leases.every((l) => l.uses === 0)).toBe(true);
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
