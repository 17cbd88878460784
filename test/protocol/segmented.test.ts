/**
 * Chunked frames: the FrameReader's segmented mode hands a frame on as the chunks it arrived in,
 * and the SegmentedReader walks such a frame to the same structure a whole-buffer Reader finds,
 * with byte fields skipped. Checked on every captured response, split at many places.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiCodec, readResponseHeader } from '../../protocol/generated/index.js';
import { Reader, SegmentedReader, readInt32At } from '../../protocol/runtime/index.js';
import { FrameReader, joinFrame } from '../../src/proxy/frame-reader.js';
import { loadFrame, loadIndex, responseHeaderVersion } from './fixtures.js';
import { splitAt as split } from '../helpers/chunks.js';

/** The structure with every Buffer replaced by an empty one (what skimming yields). */
function withoutBytes(x: unknown): unknown {
  if (Buffer.isBuffer(x)) return Buffer.alloc(0);
  if (Array.isArray(x)) return x.map(withoutBytes);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).filter(([k]) => k !== '_unknownTagged').map(([k, v]) => [k, withoutBytes(v)]));
  return x;
}


const responses = (loadIndex()?.frames ?? []).filter((e) => e.direction === 'response' && (e.bodyVersion ?? e.apiVersion) === e.apiVersion);

describe('segmented frames', () => {
  it('has captured responses to split', () => {
    expect(responses.length).toBeGreaterThan(50);
  });

  it('SegmentedReader reads every captured response like Reader does, wherever the chunks break', () => {
    fc.assert(
      fc.property(fc.nat({ max: responses.length - 1 }), fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), (i, cuts) => {
        const e = responses[i]!;
        const frame = loadFrame(e);
        const codec = apiCodec(e.apiKey)!;
        const hv = responseHeaderVersion(codec, e.apiVersion);
        const whole = new Reader(frame);
        readResponseHeader(whole, hv);
        const expected = codec.readResponse(whole, e.apiVersion);
        const seg = new SegmentedReader(split(frame, cuts));
        expect(readResponseHeader(seg, hv).correlationId).toBe(frame.readInt32BE(0));
        const got = codec.readResponse(seg, e.apiVersion);
        seg.done('segmented');
        expect(withoutBytes(got)).toEqual(withoutBytes(expected));
      }),
      { numRuns: 400 },
    );
  });

  it('FrameReader in segmented mode returns the chunks without copying, and they join to the frame', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: responses.length - 1 }), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 20 }), (picks, cuts) => {
        const payloads = picks.map((i) => loadFrame(responses[i]!));
        const stream = Buffer.concat(payloads.flatMap((p) => [Buffer.from([0, 0, 0, 0].map((_, k) => (p.length >>> (8 * (3 - k))) & 0xff)), p]));
        const reader = new FrameReader(1 << 30, 'test', true);
        const frames = split(stream, cuts).flatMap((c) => reader.push(c));
        expect(frames.length).toBe(payloads.length);
        frames.forEach((f, k) => {
          expect(joinFrame(f).subarray(4).equals(payloads[k]!)).toBe(true);
          const corr = Buffer.isBuffer(f) ? f.readInt32BE(4) : readInt32At(f, 4);
          expect(corr).toBe(payloads[k]!.readInt32BE(0));
          if (!Buffer.isBuffer(f)) for (const part of f) expect(part.buffer).toBe(stream.buffer); // views, not copies
        });
        expect(reader.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
