/**
 * Property-based tests: whatever bytes arrive, the codecs either decode them or throw a
 * ProtocolError — never a RangeError, TypeError or an allocation the input cannot pay for. And
 * whatever they decode, they can encode again, stably (decode ∘ encode is the identity on what
 * encode produced).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allApis, apiCodec, readRequestHeader, readResponseHeader, type ApiCodec } from '../../protocol/generated/index.js';
import {
  Compression,
  ProtocolError,
  Reader,
  Writer,
  batches,
  computeCrc,
  decodeRecords,
  encodeBatch,
  encodeRecords,
  verifyCrc,
} from '../../protocol/runtime/index.js';
import { decodeFrame, encodeFrame, loadFrame, loadIndex, recordsFields, type Decoded, type FixtureEntry } from './fixtures.js';

/** Runs fn; a ProtocolError is an allowed outcome (returns undefined), anything else fails the property. */
function onlyProtocolErrors<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ProtocolError && err.code.startsWith('GH_PROTOCOL_')) return undefined;
    throw err;
  }
}

/** Bytes biased towards the values that make lengths, counts and flags plausible. */
const bytesArb = (maxLength: number) =>
  fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 0x7f, 0x80, 0xff) },
        { weight: 5, arbitrary: fc.integer({ min: 0, max: 255 }) },
      ),
      { maxLength },
    )
    .map((a) => Buffer.from(a));

type Dir = 'request' | 'response';

function readBody(codec: ApiCodec, dir: Dir, r: Reader, v: number): unknown {
  return dir === 'request' ? codec.readRequest(r, v) : codec.readResponse(r, v);
}

function writeBody(codec: ApiCodec, dir: Dir, v: number, body: unknown): Buffer {
  const w = new Writer(64);
  if (dir === 'request') codec.writeRequest(w, v, body);
  else codec.writeResponse(w, v, body);
  return Buffer.from(w.finish());
}

/**
 * Whatever decoded must encode (no error at all: a value the decoder accepts but the encoder
 * refuses would break a proxy that re-encodes), and the encoding must be a fixed point.
 */
function checkStable(codec: ApiCodec, dir: Dir, v: number, body: unknown): void {
  const once = writeBody(codec, dir, v, body);
  const r = new Reader(once);
  const again = readBody(codec, dir, r, v);
  r.done(`${codec.name} ${dir} v${v} re-read`);
  const twice = writeBody(codec, dir, v, again);
  if (!twice.equals(once)) throw new Error(`${codec.name} ${dir} v${v}: re-encoding is not stable`);
}

describe('random bytes', () => {
  const apis = allApis();

  it.each(apis.map((c) => [c.name, c] as const))('%s request and response bodies', (_name, codec) => {
    fc.assert(
      fc.property(fc.integer({ min: codec.minVersion, max: codec.maxVersion }), fc.constantFrom<Dir>('request', 'response'), bytesArb(96), (v, dir, bytes) => {
        const body = onlyProtocolErrors(() => readBody(codec, dir, new Reader(bytes), v));
        if (body !== undefined) checkStable(codec, dir, v, body);
      }),
      { numRuns: 250 },
    );
  });

  it('every version boundary of every API (min, max, first flexible and the one before)', () => {
    const cases: Array<[ApiCodec, number]> = [];
    for (const c of apis) {
      const vs = new Set([c.minVersion, c.maxVersion, c.requestFlexibleFrom, c.requestFlexibleFrom - 1, c.responseFlexibleFrom, c.responseFlexibleFrom - 1]);
      for (const v of vs) if (v >= c.minVersion && v <= c.maxVersion) cases.push([c, v]);
    }
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.constantFrom<Dir>('request', 'response'), bytesArb(48), ([codec, v], dir, bytes) => {
        const body = onlyProtocolErrors(() => readBody(codec, dir, new Reader(bytes), v));
        if (body !== undefined) checkStable(codec, dir, v, body);
      }),
      { numRuns: 3000 },
    );
  });

  it('request and response headers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), bytesArb(40), (hv, bytes) => {
        onlyProtocolErrors(() => readRequestHeader(new Reader(bytes), hv));
        onlyProtocolErrors(() => readResponseHeader(new Reader(bytes), Math.min(hv, 1)));
      }),
      { numRuns: 2000 },
    );
  });

  it('record batch functions', () => {
    fc.assert(
      fc.property(bytesArb(160), fc.integer({ min: -2, max: 40 }), (bytes, count) => {
        onlyProtocolErrors(() => {
          for (const b of batches(bytes)) {
            onlyProtocolErrors(() => verifyCrc(b));
            if (b.compression === Compression.None) onlyProtocolErrors(() => decodeRecords(b.recordsData, b.recordCount));
          }
        });
        const recs = onlyProtocolErrors(() => decodeRecords(bytes, count));
        if (recs) expect(decodeRecords(encodeRecords(recs), recs.length)).toEqual(recs);
      }),
      { numRuns: 2000 },
    );
  });
});

// --- mutated real frames ---------------------------------------------------------------------

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'truncate'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0xfe) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(input: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case 'flip':
        b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        b[at] = m.byte;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

const index = loadIndex();
const fixtures: Array<{ e: FixtureEntry; frame: Buffer }> = (index?.frames ?? []).map((e) => ({ e, frame: loadFrame(e) }));

describe('mutated captured frames', () => {
  it('has captured frames to mutate', () => {
    expect(fixtures.length).toBeGreaterThan(100);
  });

  it('decode or throw ProtocolError; what decodes re-encodes stably', () => {
    fc.assert(
      fc.property(fc.nat({ max: fixtures.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (i, muts) => {
        const { e, frame } = fixtures[i]!;
        const bad = mutate(frame, muts);
        const d = onlyProtocolErrors(() => decodeFrame(bad, e.direction, e.apiKey, e.apiVersion, e.bodyVersion));
        if (d) {
          checkStable(d.codec, e.direction, d.bodyVersion, d.body);
          // The whole frame (header included) re-encodes and decodes back to the same bytes.
          const once = encodeFrame(d, e.direction);
          const d2: Decoded = decodeFrame(once, e.direction, e.apiKey, e.apiVersion, d.bodyVersion);
          expect(encodeFrame(d2, e.direction).equals(once)).toBe(true);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('every fixture survives every single-byte truncation point', () => {
    // Cheap and exhaustive for the small frames: every prefix of a real frame either decodes
    // (and then re-encodes stably) or throws a ProtocolError.
    for (const { e, frame } of fixtures) {
      if (frame.length > 2048) continue;
      for (let n = 0; n < frame.length; n++) {
        const d = onlyProtocolErrors(() => decodeFrame(frame.subarray(0, n), e.direction, e.apiKey, e.apiVersion, e.bodyVersion));
        if (d) checkStable(d.codec, e.direction, d.bodyVersion, d.body);
      }
    }
  });
});

const realBatches: Buffer[] = [];
for (const { e, frame } of fixtures) {
  const d = decodeFrame(frame, e.direction, e.apiKey, e.apiVersion, e.bodyVersion);
  for (const rec of recordsFields(d.body)) if (rec.length > 0 && rec.length <= 64 * 1024) realBatches.push(rec);
}

describe('mutated record batches', () => {
  it('has real record batches to mutate', () => {
    expect(realBatches.length).toBeGreaterThan(10);
  });

  const walk = (records: Buffer): void => {
    for (const b of batches(records)) {
      onlyProtocolErrors(() => verifyCrc(b));
      if (b.compression === Compression.None) {
        const recs = onlyProtocolErrors(() => decodeRecords(b.recordsData, b.recordCount));
        if (recs) {
          const again = encodeRecords(recs);
          expect(decodeRecords(again, recs.length)).toEqual(recs);
          // A re-encoded batch always passes its CRC.
          const rebuilt = encodeBatch(b, again);
          for (const nb of batches(rebuilt)) verifyCrc(nb);
        }
      }
    }
  };

  it('batches/verifyCrc/decodeRecords throw only ProtocolError on mutated batches', () => {
    fc.assert(
      fc.property(fc.nat({ max: realBatches.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (i, muts) => {
        onlyProtocolErrors(() => walk(mutate(realBatches[i]!, muts)));
      }),
      { numRuns: 1000 },
    );
  });

  it('with the CRC fixed up after mutating, so decoding gets past verification', () => {
    fc.assert(
      fc.property(fc.nat({ max: realBatches.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (i, muts) => {
        const src = realBatches[i]!;
        // Mutate only past the CRC of the first batch, then recompute it.
        const first = [...batches(src)][0];
        if (!first) return;
        const head = Buffer.from(first.bytes.subarray(0, 21));
        const tail = mutate(first.bytes.subarray(21), muts);
        const b = Buffer.concat([head, tail]);
        if (b.length >= 12) b.writeInt32BE(b.length - 12, 8);
        if (b.length >= 61) b.writeUInt32BE(computeCrc(b), 17);
        onlyProtocolErrors(() => walk(b));
      }),
      { numRuns: 1000 },
    );
  });
});

it('apiCodec knows nothing for unknown keys', () => {
  expect(apiCodec(-1)).toBeUndefined();
  expect(apiCodec(9999)).toBeUndefined();
});
