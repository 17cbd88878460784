/**
 * FrameReader's streaming mode (cut-through of responses): frames complete in a chunk come whole,
 * an incomplete one is offered once its size and correlation id are in, and a streamed frame's
 * bytes come out exactly once, in order, wherever the chunks break — size prefix split included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader, joinFrame, type FrameHandler } from './frame-reader.js';
import { splitAt as split } from '../../test/helpers/chunks.js';

/** A frame with the given correlation id and `extra` payload bytes after it. */
function frame(correlationId: number, extra: number): Buffer {
  const b = Buffer.alloc(4 + 4 + extra);
  b.writeInt32BE(4 + extra, 0);
  b.writeInt32BE(correlationId, 4);
  for (let i = 8; i < b.length; i++) b[i] = (i * 7 + correlationId) & 0xff;
  return b;
}


type Event = { kind: 'frame'; bytes: Buffer } | { kind: 'start'; size: number; correlationId: number } | { kind: 'chunk'; bytes: Buffer } | { kind: 'end' };

/** Records what the reader reports; streams the frames `wants` says yes to. */
function recorder(wants: (correlationId: number) => boolean): FrameHandler & { events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    frame: (f) => events.push({ kind: 'frame', bytes: joinFrame(f) }),
    start: (size, correlationId) => {
      events.push({ kind: 'start', size, correlationId });
      return wants(correlationId);
    },
    chunk: (bytes) => events.push({ kind: 'chunk', bytes }),
    end: () => events.push({ kind: 'end' }),
  };
}

/** Rebuilds the frames from the events, checking streamed ones are framed by start…end. */
function framesOf(events: Event[]): Array<{ bytes: Buffer; streamed: boolean }> {
  const out: Array<{ bytes: Buffer; streamed: boolean }> = [];
  let streaming: Buffer[] | null = null;
  let offered: Extract<Event, { kind: 'start' }> | null = null;
  for (const e of events) {
    if (e.kind === 'start') {
      expect(streaming).toBeNull();
      offered = e;
    } else if (e.kind === 'chunk') {
      if (streaming === null) {
        expect(offered, 'a chunk only after start').not.toBeNull();
        streaming = [];
      }
      expect(e.bytes.length).toBeGreaterThan(0);
      streaming.push(e.bytes);
    } else if (e.kind === 'end') {
      expect(streaming).not.toBeNull();
      const bytes = Buffer.concat(streaming!);
      expect(bytes.readInt32BE(0)).toBe(offered!.size);
      expect(bytes.readInt32BE(4)).toBe(offered!.correlationId);
      out.push({ bytes, streamed: true });
      streaming = null;
      offered = null;
    } else {
      expect(streaming, 'no whole frame in the middle of a streamed one').toBeNull();
      offered = null;
      out.push({ bytes: e.bytes, streamed: false });
    }
  }
  expect(streaming, 'the last streamed frame ended').toBeNull();
  return out;
}

describe('FrameReader streaming mode', () => {
  it('hands frames complete in one chunk on whole, without asking', () => {
    const r = new FrameReader(1 << 20, 'test');
    const h = recorder(() => true);
    r.pushStreaming(Buffer.concat([frame(1, 10), frame(2, 0)]), h);
    expect(h.events.map((e) => e.kind)).toEqual(['frame', 'frame']);
    expect(framesOf(h.events).map((f) => f.bytes)).toEqual([frame(1, 10), frame(2, 0)]);
  });

  it('offers an incomplete frame once its correlation id is in, then streams its bytes as they arrive', () => {
    const r = new FrameReader(1 << 20, 'test');
    const h = recorder(() => true);
    const big = frame(7, 1000);
    const next = frame(8, 3);
    r.pushStreaming(big.subarray(0, 6), h); // size prefix and half the correlation id
    expect(h.events).toEqual([]);
    r.pushStreaming(big.subarray(6, 100), h);
    expect(h.events.map((e) => e.kind)).toEqual(['start', 'chunk', 'chunk']);
    expect(h.events[0]).toEqual({ kind: 'start', size: 1004, correlationId: 7 });
    r.pushStreaming(big.subarray(100, 600), h);
    expect(h.events.at(-1)).toEqual({ kind: 'chunk', bytes: big.subarray(100, 600) });
    // The end of this frame and the next one in one chunk.
    r.pushStreaming(Buffer.concat([big.subarray(600), next]), h);
    expect(h.events.slice(-3).map((e) => e.kind)).toEqual(['chunk', 'end', 'frame']);
    expect(r.pending).toBe(0);
    expect(framesOf(h.events)).toEqual([
      { bytes: big, streamed: true },
      { bytes: next, streamed: false },
    ]);
  });

  it('does not copy a streamed frame: its chunks are views of what arrived', () => {
    const r = new FrameReader(1 << 20, 'test');
    const h = recorder(() => true);
    const big = frame(3, 5000);
    const second = Buffer.from(big.subarray(2000));
    r.pushStreaming(big.subarray(0, 2000), h);
    r.pushStreaming(second, h);
    const chunks = h.events.filter((e): e is Extract<Event, { kind: 'chunk' }> => e.kind === 'chunk');
    expect(chunks.at(-1)!.bytes.buffer).toBe(second.buffer);
  });

  it('buffers a frame the handler declines, asks only once, and hands it on whole', () => {
    const r = new FrameReader(1 << 20, 'test');
    const h = recorder(() => false);
    const big = frame(9, 3000);
    for (const part of split(big, [10, 500, 1500, 2999])) r.pushStreaming(part, h);
    expect(h.events.map((e) => e.kind)).toEqual(['start', 'frame']);
    expect(framesOf(h.events)).toEqual([{ bytes: big, streamed: false }]);
  });

  it('says where the bytes it holds start in the stream, streamed and relayed bytes counted', () => {
    const r = new FrameReader(1 << 20, 'test', true);
    const a = frame(1, 100);
    const b = frame(2, 5000);
    const stream = Buffer.concat([a, b]);
    r.push(stream.subarray(0, 50));
    expect([r.received, r.heldFrom]).toEqual([50, 0]);
    r.push(stream.subarray(50, a.length + 10)); // a complete, b begun
    expect([r.received, r.heldFrom]).toEqual([a.length + 10, a.length]);
    r.push(stream.subarray(a.length + 10));
    expect([r.received, r.heldFrom]).toEqual([stream.length, stream.length]);

    const s = new FrameReader(1 << 20, 'test');
    const h = recorder(() => true);
    s.pushStreaming(b.subarray(0, 100), h); // streamed from here: nothing held
    expect([s.received, s.heldFrom]).toEqual([100, 100]);
    s.skipStreamed(4000, h); // relayed around the reader
    s.pushStreaming(b.subarray(4100), h);
    expect([s.received, s.heldFrom]).toEqual([b.length, b.length]);
    expect(h.events.at(-1)).toEqual({ kind: 'end' });
  });

  it('enforces the size limit before offering a frame', () => {
    const r = new FrameReader(100, 'test');
    const h = recorder(() => true);
    expect(() => r.pushStreaming(frame(1, 200).subarray(0, 50), h)).toThrow(/exceeds the limit/);
    expect(h.events).toEqual([]);
  });

  it('yields every frame once, in order, byte for byte, wherever the chunks break', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ extra: fc.nat({ max: 3000 }), stream: fc.boolean() }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (specs, cuts) => {
          const frames = specs.map((s, i) => frame(i + 1, s.extra));
          const stream = Buffer.concat(frames);
          const r = new FrameReader(1 << 20, 'test');
          const h = recorder((id) => specs[id - 1]!.stream);
          for (const part of split(stream, cuts)) r.pushStreaming(part, h);
          const got = framesOf(h.events);
          expect(got.length).toBe(frames.length);
          got.forEach((g, i) => expect(g.bytes.equals(frames[i]!), `frame ${i + 1}`).toBe(true));
          // A frame is streamed only when the handler said so.
          got.forEach((g, i) => {
            if (g.streamed) expect(specs[i]!.stream).toBe(true);
          });
          expect(r.pending).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('FrameReader limits and its own copy of an incomplete frame', () => {
  it('takes its limit from a FrameLimit at each frame, and says the note with the refusal', () => {
    const limit = { maxFrameBytes: 100, limitNote: ' before login (x)' };
    const r = new FrameReader(limit, 'client request', true);
    expect(() => r.push(frame(1, 200))).toThrow(/^client request: frame of 204 bytes exceeds the limit of 100 before login \(x\)$/);
    const raised = new FrameReader(limit, 'client request', true);
    expect(raised.push(frame(1, 50))).toHaveLength(1);
    limit.maxFrameBytes = 1000;
    limit.limitNote = '';
    expect(raised.push(frame(2, 200)).map(joinFrame)).toEqual([frame(2, 200)]);
    expect(() => raised.push(frame(3, 2000))).toThrow(/^client request: frame of 2004 bytes exceeds the limit of 1000$/);
  });

  it('frames come out byte for byte however often the pending bytes are copied, and the chunks they came in may be reused at once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.array(fc.boolean(), { maxLength: 60 }),
        (sizes, cuts, copies) => {
          const frames = sizes.map((extra, i) => frame(i + 1, extra));
          const stream = Buffer.concat(frames);
          const r = new FrameReader(1 << 20, 'test', true);
          const out: Array<{ f: Buffer | Buffer[]; expected: Buffer }> = [];
          split(stream, cuts).forEach((part, i) => {
            const chunk = Buffer.from(part); // the "pooled read"
            for (const f of r.push(chunk)) out.push({ f, expected: frames[out.length]! });
            if (copies[i]) {
              r.ownPending();
              // Copied out: the read's buffer is free for the next read, which overwrites it. Bytes
              // of a frame still to complete must not lie in it any more (frames already handed on do).
              const heldInChunk = (r as unknown as { chunks: Buffer[] }).chunks.some((c) => c.buffer === chunk.buffer);
              expect(heldInChunk).toBe(false);
            }
          });
          expect(out.length).toBe(frames.length);
          // Every frame, those handed on before later copies included, still holds its bytes.
          out.forEach(({ f, expected }, i) => expect(joinFrame(f).equals(expected), `frame ${i + 1}`).toBe(true));
          expect(r.pending).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grows its copy by doubling, up to the frame size: a frame trickling in is copied a few times, not once per byte', () => {
    const f = frame(1, 30_000);
    const r = new FrameReader(1 << 20, 'test', true);
    const memories = new Set<ArrayBufferLike>();
    let oversized = 0;
    for (let i = 0; i < f.length - 1; i++) {
      r.push(f.subarray(i, i + 1));
      r.ownPending();
      const own = (r as unknown as { chunks: Buffer[] }).chunks[0]!;
      memories.add(own.buffer);
      // At most twice the bytes held (or 256), and never more than the frame.
      if (own.buffer.byteLength > Math.max(256, 2 * r.pending) || own.buffer.byteLength > f.length) oversized++;
    }
    expect(oversized).toBe(0);
    expect(memories.size).toBeLessThanOrEqual(Math.ceil(Math.log2(f.length)));
    expect(r.push(f.subarray(f.length - 1)).map(joinFrame)).toEqual([f]);
  });
});
