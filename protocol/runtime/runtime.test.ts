/**
 * Unit tests for the protocol runtime: the Reader/Writer primitives, tagged fields, Writer growth
 * and the record-batch helpers.
 */
import { describe, expect, it } from 'vitest';
import {
  BATCH_OVERHEAD,
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
  type KafkaRecord,
  type RecordBatchHeader,
} from './index.js';
import { readRequestHeader, writeRequestHeader } from '../generated/index.js';
import { readFetchResponse, writeFetchResponse } from '../generated/fetch-response.js';

function written(fn: (w: Writer) => void, initial = 1): Buffer {
  const w = new Writer(initial);
  fn(w);
  return Buffer.from(w.finish());
}

function protocolCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

describe('unsigned varint', () => {
  const cases: Array<[number, number[]]> = [
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [16383, [0xff, 0x7f]],
    [16384, [0x80, 0x80, 0x01]],
    [2 ** 31 - 1, [0xff, 0xff, 0xff, 0xff, 0x07]],
    [2 ** 32 - 1, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  it.each(cases)('%d encodes to its LEB128 bytes and back', (value, bytes) => {
    const buf = written((w) => w.uvarint(value));
    expect([...buf]).toEqual(bytes);
    const r = new Reader(buf);
    expect(r.uvarint()).toBe(value);
    expect(r.remaining).toBe(0);
  });

  it('refuses a varint longer than 5 bytes', () => {
    expect(protocolCode(() => new Reader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).uvarint())).toBe('GH_PROTOCOL_INVALID');
  });

  it('reports a varint cut short as truncated', () => {
    expect(protocolCode(() => new Reader(Buffer.from([0x80, 0x80])).uvarint())).toBe('GH_PROTOCOL_TRUNCATED');
    expect(protocolCode(() => new Reader(Buffer.alloc(0)).uvarint())).toBe('GH_PROTOCOL_TRUNCATED');
  });
});

describe('zigzag varint (int32)', () => {
  const cases: Array<[number, number[]]> = [
    [0, [0x00]],
    [-1, [0x01]],
    [1, [0x02]],
    [-2, [0x03]],
    [63, [0x7e]],
    [-64, [0x7f]],
    [64, [0x80, 0x01]],
    [2147483647, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
    [-2147483648, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  it.each(cases)('%d', (value, bytes) => {
    const buf = written((w) => w.varint(value));
    expect([...buf]).toEqual(bytes);
    const r = new Reader(buf);
    expect(r.varint()).toBe(value);
    expect(r.remaining).toBe(0);
  });

  it('round-trips every power of two and its neighbours', () => {
    for (let i = 0; i < 31; i++) {
      for (const v of [2 ** i - 1, 2 ** i, 2 ** i + 1, -(2 ** i) - 1, -(2 ** i), -(2 ** i) + 1]) {
        if (v > 2147483647 || v < -2147483648) continue;
        expect(new Reader(written((w) => w.varint(v))).varint()).toBe(v);
      }
    }
  });
});

describe('zigzag varlong (int64)', () => {
  const MAX = 2n ** 63n - 1n;
  const MIN = -(2n ** 63n);
  const cases: Array<[bigint, number[]]> = [
    [0n, [0x00]],
    [-1n, [0x01]],
    [1n, [0x02]],
    [2147483647n, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
    [-2147483648n, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    [2147483648n, [0x80, 0x80, 0x80, 0x80, 0x10]],
    [MAX, [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    [MIN, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
  ];
  it.each(cases)('%s', (value, bytes) => {
    const buf = written((w) => w.varlong(value));
    expect([...buf]).toEqual(bytes);
    const r = new Reader(buf);
    expect(r.varlong()).toBe(value);
    expect(r.remaining).toBe(0);
  });

  it('round-trips large longs (timestamps, offsets)', () => {
    for (const v of [1_700_000_000_000n, -1_700_000_000_000n, 2n ** 62n, -(2n ** 62n), 2n ** 53n + 1n, MAX - 1n, MIN + 1n]) {
      expect(new Reader(written((w) => w.varlong(v))).varlong()).toBe(v);
    }
  });

  it('refuses a varlong longer than 10 bytes', () => {
    expect(protocolCode(() => new Reader(Buffer.from([...Array(10).fill(0x80), 0x01])).varlong())).toBe('GH_PROTOCOL_INVALID');
  });
});

describe('strings', () => {
  it('string: int16 length then UTF-8', () => {
    const buf = written((w) => w.string('héllo'));
    expect([...buf]).toEqual([0x00, 0x06, ...Buffer.from('héllo', 'utf8')]);
    expect(new Reader(buf).string()).toBe('héllo');
  });

  it('nullable string: null is length -1, empty is length 0', () => {
    expect([...written((w) => w.nullableString(null))]).toEqual([0xff, 0xff]);
    expect([...written((w) => w.nullableString(''))]).toEqual([0x00, 0x00]);
    expect(new Reader(Buffer.from([0xff, 0xff])).nullableString()).toBeNull();
    expect(new Reader(Buffer.from([0x00, 0x00])).nullableString()).toBe('');
  });

  it('non-nullable string refuses negative lengths; a nullable one reads any of them as null, as Kafka does', () => {
    expect(protocolCode(() => new Reader(Buffer.from([0xff, 0xff])).string())).toBe('GH_PROTOCOL_INVALID');
    expect(protocolCode(() => new Reader(Buffer.from([0xff, 0xfe])).string())).toBe('GH_PROTOCOL_INVALID');
    const r = new Reader(Buffer.from([0xff, 0xfe, 0x2a]));
    expect(r.nullableString()).toBeNull();
    expect(r.int8()).toBe(0x2a);
  });

  it('negative array lengths: null where nullable (also a compact length past 2^31, as Java reads it), refused otherwise', () => {
    expect(new Reader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).arrayLength(false, true)).toBe(-1);
    expect(new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])).arrayLength(true, true)).toBe(-1);
    expect(protocolCode(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).arrayLength(false, false))).toBe('GH_PROTOCOL_INVALID');
    expect(protocolCode(() => new Reader(Buffer.from([0x00])).arrayLength(true, false))).toBe('GH_PROTOCOL_INVALID');
  });

  it('compact string: uvarint length+1', () => {
    const buf = written((w) => w.compactString('abc'));
    expect([...buf]).toEqual([0x04, 0x61, 0x62, 0x63]);
    expect(new Reader(buf).compactString()).toBe('abc');
    expect([...written((w) => w.compactString(''))]).toEqual([0x01]);
    expect(new Reader(Buffer.from([0x01])).compactString()).toBe('');
  });

  it('compact nullable string: 0 is null', () => {
    expect([...written((w) => w.compactNullableString(null))]).toEqual([0x00]);
    expect(new Reader(Buffer.from([0x00])).compactNullableString()).toBeNull();
    expect(protocolCode(() => new Reader(Buffer.from([0x00])).compactString())).toBe('GH_PROTOCOL_INVALID');
  });

  it('a long compact string uses a multi-byte length', () => {
    const s = 'x'.repeat(300);
    const buf = written((w) => w.compactString(s));
    expect([...buf.subarray(0, 2)]).toEqual([0xad, 0x02]); // 301
    expect(new Reader(buf).compactString()).toBe(s);
  });

  it('a string longer than the input is truncated, not a RangeError', () => {
    expect(protocolCode(() => new Reader(Buffer.from([0x00, 0x05, 0x61])).string())).toBe('GH_PROTOCOL_TRUNCATED');
    expect(protocolCode(() => new Reader(Buffer.from([0x7f, 0x61])).compactString())).toBe('GH_PROTOCOL_TRUNCATED');
    // 2^32-1 is -1 as Java's int, so a length of -2: refused as invalid rather than as truncated.
    expect(protocolCode(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])).compactString())).toBe('GH_PROTOCOL_INVALID');
  });
});

describe('bytes', () => {
  const data = Buffer.from([1, 2, 3, 0xff]);
  it('bytes: int32 length', () => {
    const buf = written((w) => w.bytes(data));
    expect([...buf]).toEqual([0, 0, 0, 4, 1, 2, 3, 0xff]);
    expect(new Reader(buf).bytes().equals(data)).toBe(true);
  });
  it('nullable bytes: -1 is null, 0 is empty', () => {
    expect([...written((w) => w.nullableBytes(null))]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).nullableBytes()).toBeNull();
    expect(new Reader(Buffer.from([0, 0, 0, 0])).nullableBytes()!.length).toBe(0);
    expect(protocolCode(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).bytes())).toBe('GH_PROTOCOL_INVALID');
  });
  it('compact bytes and compact nullable bytes', () => {
    expect([...written((w) => w.compactBytes(data))]).toEqual([5, 1, 2, 3, 0xff]);
    expect(new Reader(Buffer.from([5, 1, 2, 3, 0xff])).compactBytes().equals(data)).toBe(true);
    expect([...written((w) => w.compactNullableBytes(null))]).toEqual([0]);
    expect(new Reader(Buffer.from([0])).compactNullableBytes()).toBeNull();
    expect(new Reader(Buffer.from([1])).compactNullableBytes()!.length).toBe(0);
  });
  it('bytes are views into the input, not copies', () => {
    const buf = Buffer.from([0, 0, 0, 2, 7, 8]);
    const b = new Reader(buf).bytes();
    buf[4] = 9;
    expect(b[0]).toBe(9);
  });
});

describe('fixed-width and uuid', () => {
  it('round-trips every fixed-width type at its limits', () => {
    const buf = written((w) => {
      w.int8(-128);
      w.int8(127);
      w.int16(-32768);
      w.uint16(65535);
      w.int32(-2147483648);
      w.uint32(4294967295);
      w.int64(-(2n ** 63n));
      w.int64(2n ** 63n - 1n);
      w.float64(-0.5);
      w.bool(true);
      w.bool(false);
    });
    const r = new Reader(buf);
    expect([r.int8(), r.int8(), r.int16(), r.uint16(), r.int32(), r.uint32()]).toEqual([-128, 127, -32768, 65535, -2147483648, 4294967295]);
    expect([r.int64(), r.int64()]).toEqual([-(2n ** 63n), 2n ** 63n - 1n]);
    expect(r.float64()).toBe(-0.5);
    expect([r.bool(), r.bool()]).toEqual([true, false]);
    r.done('fixed');
  });

  it('uuid: 16 bytes in base64url form, both ways', () => {
    const raw = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const text = raw.toString('base64url');
    expect(text).toHaveLength(22);
    expect(new Reader(raw).uuid()).toBe(text);
    expect(written((w) => w.uuid(text)).equals(raw)).toBe(true);
    expect(new Reader(Buffer.alloc(16)).uuid()).toBe('AAAAAAAAAAAAAAAAAAAAAA');
    const ff = Buffer.alloc(16, 0xff);
    expect(written((w) => w.uuid(new Reader(ff).uuid())).equals(ff)).toBe(true);
  });

  it('a uuid that is not 16 bytes is refused', () => {
    expect(protocolCode(() => written((w) => w.uuid('AAAA')))).toBe('GH_PROTOCOL_INVALID');
    expect(protocolCode(() => new Reader(Buffer.alloc(15)).uuid())).toBe('GH_PROTOCOL_TRUNCATED');
  });
});

describe('arrays', () => {
  it('refuses a count larger than the bytes left before allocating', () => {
    expect(protocolCode(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).arrayLength(false, false))).toBe('GH_PROTOCOL_TRUNCATED');
    expect(protocolCode(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07])).arrayLength(true, false))).toBe('GH_PROTOCOL_TRUNCATED');
  });
  it('null arrays only where nullable', () => {
    expect(new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).arrayLength(false, true)).toBe(-1);
    expect(new Reader(Buffer.from([0x00])).arrayLength(true, true)).toBe(-1);
    expect(protocolCode(() => new Reader(Buffer.from([0x00])).arrayLength(true, false))).toBe('GH_PROTOCOL_INVALID');
    expect([...written((w) => w.arrayLength(null, true))]).toEqual([0]);
    expect([...written((w) => w.arrayLength(null, false))]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect([...written((w) => w.arrayLength(3, true))]).toEqual([4]);
  });
});

describe('tagged fields', () => {
  it('unknown tags come back raw and re-encode in order', () => {
    // 3 fields: tag 1 (2 bytes), tag 7 (0 bytes), tag 300 (3 bytes)
    const section = Buffer.from([0x03, 0x01, 0x02, 0xaa, 0xbb, 0x07, 0x00, 0xac, 0x02, 0x03, 0x01, 0x02, 0x03]);
    const r = new Reader(section);
    const unknown = r.taggedFields(() => false);
    r.done('tags');
    expect(unknown?.map((u) => u.tag)).toEqual([1, 7, 300]);
    expect(unknown?.map((u) => [...u.data])).toEqual([[0xaa, 0xbb], [], [1, 2, 3]]);
    expect(written((w) => w.taggedFields([], unknown)).equals(section)).toBe(true);
  });

  it('known and unknown tags merge in tag order on the way out', () => {
    const out = written((w) =>
      w.taggedFields(
        [
          [2, (t) => t.int8(22)],
          [0, (t) => t.int8(20)],
        ],
        [
          { tag: 1, data: Buffer.from([21]) },
          { tag: 5, data: Buffer.from([25]) },
        ],
      ),
    );
    expect([...out]).toEqual([4, 0, 1, 20, 1, 1, 21, 2, 1, 22, 5, 1, 25]);
  });

  it('an empty section is a single zero byte', () => {
    expect([...written((w) => w.taggedFields([], undefined))]).toEqual([0]);
    expect(new Reader(Buffer.from([0])).taggedFields(() => false)).toBeUndefined();
  });

  it('reads the field count as Java\'s signed int: a count of 2^31 or more is negative, and no field is read', () => {
    // Kafka's generated readers loop `for (i = 0; i < count; i++)` over an int: the broker answers
    // a request whose tagged section says 2^31 (or 2^32-1) fields and holds none.
    for (const count of [[0x80, 0x80, 0x80, 0x80, 0x08], [0xff, 0xff, 0xff, 0xff, 0x0f]]) {
      const r = new Reader(Buffer.from([...count, 0x2a]));
      expect(r.taggedFields(() => false)).toBeUndefined();
      expect(r.int8()).toBe(0x2a);
      const s = new Reader(Buffer.from([...count, 0x2a]));
      s.skipTaggedFields();
      expect(s.int8()).toBe(0x2a);
    }
    // 2^31-1 is still a positive count, and more fields than bytes left.
    expect(protocolCode(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07])).taggedFields(() => false))).toBe('GH_PROTOCOL_TRUNCATED');
  });

  it('reads tags as Kafka does: any order (written back sorted), a known field read from the message whatever size it declares', () => {
    // Two unknown tags, 5 then 3: both kept, and the writer puts them in tag order.
    const unknown = new Reader(Buffer.from([2, 5, 0, 3, 0])).taggedFields(() => false);
    expect(unknown?.map((u) => u.tag)).toEqual([5, 3]);
    expect([...written((w) => w.taggedFields([], unknown))]).toEqual([2, 3, 0, 5, 0]);
    // Known tag 0 declares 0 bytes but its value (an int8) follows: Java reads the value anyway,
    // and the next tag (unknown 7, one byte) comes right after it.
    let value = -1;
    const r = new Reader(Buffer.from([2, 0, 0, 9, 7, 1, 4, 0x2a]));
    const rest = r.taggedFields((tag, t) => {
      if (tag !== 0) return false;
      value = t.int8();
      return true;
    });
    expect(value).toBe(9);
    expect(rest).toEqual([{ tag: 7, data: Buffer.from([4]) }]);
    expect(r.int8()).toBe(0x2a);
  });

  it('still refuses a tagged field whose size runs past the message', () => {
    expect(protocolCode(() => new Reader(Buffer.from([1, 0, 5, 9])).taggedFields(() => false))).toBe('GH_PROTOCOL_TRUNCATED');
  });

  it('a request header v2 keeps unknown tagged fields through a round trip', () => {
    const w = new Writer(8);
    w.int16(3);
    w.int16(12);
    w.int32(42);
    w.nullableString('client-1');
    w.taggedFields([], [
      { tag: 0, data: Buffer.from('zero') },
      { tag: 4, data: Buffer.alloc(0) },
      { tag: 1000, data: Buffer.from([1, 2, 3]) },
    ]);
    const frame = Buffer.from(w.finish());
    const r = new Reader(frame);
    const h = readRequestHeader(r, 2);
    r.done('header');
    expect(h._unknownTagged?.map((t) => t.tag)).toEqual([0, 4, 1000]);
    const w2 = new Writer(1);
    writeRequestHeader(w2, 2, h);
    expect(Buffer.from(w2.finish()).equals(frame)).toBe(true);
  });

  it('a generated struct with known tags keeps unknown ones interleaved with them', () => {
    // FetchResponse v16: one topic with one partition whose tagged section holds known tag 1
    // (CurrentLeader) between unknown tags... and an unknown tag 9 after it.
    const w = new Writer(1);
    w.int32(0); // throttle
    w.int16(0); // error
    w.int32(0); // session
    w.arrayLength(1, true);
    w.uuid('AAAAAAAAAAAAAAAAAAAAAQ');
    w.arrayLength(1, true);
    w.int32(0); // partition
    w.int16(0);
    w.int64(5n);
    w.int64(5n);
    w.int64(0n);
    w.arrayLength(null, true); // aborted
    w.int32(-1); // preferred replica
    w.compactNullableBytes(null); // records
    const leader = new Writer(1);
    leader.int32(1);
    leader.int32(7);
    leader.taggedFields([], undefined);
    w.taggedFields([[1, (t) => t.raw(leader.finish())]], [{ tag: 9, data: Buffer.from([0xde, 0xad]) }]);
    w.taggedFields([], undefined); // topic
    w.taggedFields([], [{ tag: 3, data: Buffer.from([1]) }]); // top level, unknown tag 3
    const frame = Buffer.from(w.finish());
    const r = new Reader(frame);
    const res = readFetchResponse(r, 16);
    r.done('fetch');
    const p = res.responses[0]!.partitions[0]!;
    expect(p.currentLeader.leaderId).toBe(1);
    expect(p.currentLeader.leaderEpoch).toBe(7);
    expect(p._unknownTagged?.map((t) => t.tag)).toEqual([9]);
    const w2 = new Writer(1);
    writeFetchResponse(w2, 16, res);
    expect(Buffer.from(w2.finish()).equals(frame)).toBe(true);
  });
});

describe('Writer growth', () => {
  it('keeps every byte across many small writes from a 1-byte start', () => {
    const w = new Writer(1);
    const expected: number[] = [];
    for (let i = 0; i < 5000; i++) {
      switch (i % 6) {
        case 0:
          w.int8(i & 0x7f);
          expected.push(i & 0x7f);
          break;
        case 1:
          w.int32(i);
          expected.push((i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff);
          break;
        case 2:
          w.uvarint(i * 1000);
          expected.push(...leb128(i * 1000));
          break;
        case 3:
          w.compactString(`s${i}`);
          expected.push(`s${i}`.length + 1, ...Buffer.from(`s${i}`));
          break;
        case 4:
          w.bool(i % 4 === 0);
          expected.push(i % 4 === 0 ? 1 : 0);
          break;
        case 5:
          w.raw(Buffer.from([i & 0xff, (i + 1) & 0xff, (i + 2) & 0xff]));
          expected.push(i & 0xff, (i + 1) & 0xff, (i + 2) & 0xff);
          break;
      }
    }
    expect([...w.finish()]).toEqual(expected);
  });

  it('writes each type correctly when that very write makes the buffer grow', () => {
    // For every type, start with a buffer exactly full so the next write must grow it; a writer
    // that kept writing into its old buffer would lose exactly these bytes.
    const writes: Array<[string, (w: Writer) => void]> = [
      ['int8', (w) => w.int8(-5)],
      ['int16', (w) => w.int16(-1234)],
      ['uint16', (w) => w.uint16(0xbeef)],
      ['int32', (w) => w.int32(-123456789)],
      ['uint32', (w) => w.uint32(0xdeadbeef)],
      ['int64', (w) => w.int64(-1234567890123n)],
      ['float64', (w) => w.float64(Math.PI)],
      ['bool', (w) => w.bool(true)],
      ['uuid', (w) => w.uuid('AQIDBAUGBwgJCgsMDQ4PEA')],
      ['uvarint', (w) => w.uvarint(2 ** 32 - 1)],
      ['varint', (w) => w.varint(-2147483648)],
      ['varlong', (w) => w.varlong(-(2n ** 63n))],
      ['raw', (w) => w.raw(Buffer.alloc(100, 7))],
      ['string', (w) => w.string('héllo wörld')],
      ['compactString', (w) => w.compactString('x'.repeat(200))],
      ['nullableString', (w) => w.nullableString('n')],
      ['bytes', (w) => w.bytes(Buffer.alloc(33, 3))],
      ['compactBytes', (w) => w.compactBytes(Buffer.alloc(129, 4))],
      ['taggedFields', (w) => w.taggedFields([[0, (t) => t.raw(Buffer.alloc(50, 9))]], [{ tag: 3, data: Buffer.alloc(20, 8) }])],
    ];
    for (const [name, fn] of writes) {
      const reference = new Writer(4096);
      reference.raw(Buffer.from([0xa1, 0xa2, 0xa3, 0xa4]));
      fn(reference);
      const want = Buffer.from(reference.finish());
      for (const initial of [1, 2, 3, 4]) {
        const w = new Writer(initial);
        w.raw(Buffer.from([0xa1, 0xa2, 0xa3, 0xa4].slice(0, initial)));
        if (initial < 4) w.raw(Buffer.from([0xa1, 0xa2, 0xa3, 0xa4].slice(initial)));
        fn(w);
        expect(Buffer.from(w.finish()).equals(want), `${name} after growing from ${initial}`).toBe(true);
      }
    }
  });

  it('finish() after growth returns a view of the new buffer', () => {
    const w = new Writer(2);
    w.int16(0x0102);
    const before = w.finish();
    w.int32(0x03040506);
    expect([...w.finish()]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...before]).toEqual([1, 2]);
  });
});

function leb128(v: number): number[] {
  const out: number[] = [];
  let u = v >>> 0;
  while (u >= 0x80) {
    out.push((u & 0x7f) | 0x80);
    u >>>= 7;
  }
  out.push(u);
  return out;
}

describe('Reader bounds', () => {
  it('respects its end, not the buffer end', () => {
    const buf = Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]);
    const r = new Reader(buf, 0, 4);
    expect(r.int32()).toBe(1);
    expect(protocolCode(() => r.int32())).toBe('GH_PROTOCOL_TRUNCATED');
  });
  it('done() reports trailing bytes', () => {
    const r = new Reader(Buffer.from([1, 2]));
    r.int8();
    expect(protocolCode(() => r.done('x'))).toBe('GH_PROTOCOL_TRAILING');
  });
});

describe('record batches', () => {
  it('CRC32C of "123456789" is 0xE3069283 (the standard check value)', () => {
    // computeCrc covers a batch from its attributes (offset 21) to the end.
    const batch = Buffer.concat([Buffer.alloc(21, 0x55), Buffer.from('123456789', 'ascii')]);
    expect(computeCrc(batch)).toBe(0xe3069283);
  });

  const header: RecordBatchHeader = {
    baseOffset: 100n,
    partitionLeaderEpoch: 3,
    magic: 2,
    crc: 0,
    attributes: Compression.None,
    lastOffsetDelta: 2,
    baseTimestamp: 1_700_000_000_000n,
    maxTimestamp: 1_700_000_000_500n,
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
    recordCount: 3,
  };
  const records: KafkaRecord[] = [
    { attributes: 0, timestampDelta: 0n, offsetDelta: 0, key: null, value: Buffer.from('v0'), headers: [] },
    { attributes: 0, timestampDelta: 250n, offsetDelta: 1, key: Buffer.from('k1'), value: null, headers: [{ key: 'h', value: Buffer.from('x') }] },
    {
      attributes: 0,
      timestampDelta: 500n,
      offsetDelta: 2,
      key: Buffer.alloc(0),
      value: Buffer.alloc(300, 1),
      headers: [
        { key: 'a', value: null },
        { key: 'ü', value: Buffer.alloc(0) },
      ],
    },
  ];

  it('encodeBatch → batches() → verifyCrc → decodeRecords → encodeRecords round-trips', () => {
    const data = encodeRecords(records);
    const batch = encodeBatch(header, data);
    expect(batch.length).toBe(BATCH_OVERHEAD + data.length);
    const two = Buffer.concat([batch, encodeBatch({ ...header, baseOffset: 103n }, data)]);
    const seen = [...batches(two)];
    expect(seen).toHaveLength(2);
    for (const b of seen) {
      verifyCrc(b);
      expect(b.compression).toBe(Compression.None);
      expect(b.recordsData.equals(data)).toBe(true);
      const decoded = decodeRecords(b.recordsData, b.recordCount);
      expect(decoded).toEqual(records);
      expect(encodeRecords(decoded).equals(data)).toBe(true);
      expect(encodeBatch(b, b.recordsData).equals(b.bytes)).toBe(true);
    }
    expect(seen[1]!.baseOffset).toBe(103n);
  });

  it('a flipped byte anywhere after the CRC fails verification', () => {
    const batch = encodeBatch(header, encodeRecords(records));
    for (const at of [21, 30, 60, batch.length - 1]) {
      const bad = Buffer.from(batch);
      bad[at]! ^= 0x01;
      const [b] = [...batches(bad)];
      expect(protocolCode(() => verifyCrc(b!))).toBe('GH_PROTOCOL_CRC');
    }
  });

  it('a partial batch at the end is left out', () => {
    const batch = encodeBatch(header, encodeRecords(records));
    const cut = Buffer.concat([batch, batch.subarray(0, batch.length - 1)]);
    expect([...batches(cut)]).toHaveLength(1);
    expect([...batches(batch.subarray(0, 11))]).toHaveLength(0);
  });

  it('flags: transactional, control, compression', () => {
    const batch = encodeBatch({ ...header, attributes: 0x10 | 0x20 | Compression.Zstd }, Buffer.alloc(0));
    const [b] = [...batches(batch)];
    expect(b!.transactional).toBe(true);
    expect(b!.control).toBe(true);
    expect(b!.compression).toBe(Compression.Zstd);
  });

  it('refuses magic other than 2, and a length below the header size', () => {
    const batch = encodeBatch(header, Buffer.alloc(0));
    const m1 = Buffer.from(batch);
    m1[16] = 1;
    expect(protocolCode(() => [...batches(m1)])).toBe('GH_PROTOCOL_UNSUPPORTED');
    const short = Buffer.from(batch);
    short.writeInt32BE(10, 8);
    expect(protocolCode(() => [...batches(short)])).toBe('GH_PROTOCOL_INVALID');
  });

  it('decodeRecords refuses a wrong count and trailing bytes', () => {
    const data = encodeRecords(records);
    expect(protocolCode(() => decodeRecords(data, 4))).toBe('GH_PROTOCOL_TRUNCATED');
    expect(protocolCode(() => decodeRecords(data, 2))).toBe('GH_PROTOCOL_TRAILING');
  });
});
