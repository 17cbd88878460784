import { describe, expect, it } from 'vitest';
import { Compression, encodeBatch, encodeRecords, type KafkaRecord, type RecordBatchHeader } from '../../protocol/runtime/record-batch.js';
import { buildBatch } from '../../protocol/runtime/record-transform.js';
import { CAPTURE_MAX_BYTES, CapturePolicy } from './capture.js';

const fill = (records: Array<Partial<KafkaRecord>>): KafkaRecord[] =>
  records.map((r, i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: null, headers: [], ...r }));

const header = (baseOffset: number, count: number, attributes: number): RecordBatchHeader => ({
  baseOffset: BigInt(baseOffset), partitionLeaderEpoch: 0, magic: 2, crc: 0, attributes, lastOffsetDelta: count - 1, baseTimestamp: 0n, maxTimestamp: 0n, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: count,
});

/** An uncompressed batch, or one whose attributes say `attributes` over uncompressed records. */
function batch(baseOffset: number, records: Array<Partial<KafkaRecord>>, attributes = 0): Buffer {
  return encodeBatch(header(baseOffset, records.length, attributes), encodeRecords(fill(records)));
}

const records = Buffer.concat([
  batch(10, [
    { key: Buffer.from('order-1'), value: Buffer.from('{"card":"4111"}'), headers: [{ key: 'trace', value: Buffer.from('abc') }] },
    { key: Buffer.from([0xff, 0xfe]), value: null },
  ]),
  batch(12, [{ key: null, value: Buffer.from('x') }]),
]);

describe('payload capture', () => {
  it('none by default and for unmatched topics', async () => {
    const p = new CapturePolicy([{ topics: ['payments.*'], mode: 'full' }]);
    expect(await p.capture('orders', records)).toBeUndefined();
    expect(await new CapturePolicy().capture('payments.x', records)).toBeUndefined();
  });

  it('keys-headers: offsets, keys (base64 when not UTF-8) and headers, never values', async () => {
    const p = new CapturePolicy([{ topics: ['orders', 'payments.*'], mode: 'keys-headers' }]);
    expect(await p.capture('orders', records)).toEqual([
      { offset: 10, key: 'order-1', headers: [{ key: 'trace', value: 'abc' }] },
      { offset: 11, key: `base64:${Buffer.from([0xff, 0xfe]).toString('base64')}`, headers: [] },
      { offset: 12, key: null, headers: [] },
    ]);
  });

  it('full: values too; first matching rule wins; the masker sees every record before it is kept', async () => {
    const p = new CapturePolicy(
      [
        { topics: ['payments.public'], mode: 'none' },
        { topics: ['payments.*'], mode: 'full' },
      ],
      (topic, r) => ({ ...r, value: r.value?.replace(/"card":"\d+"/, '"card":"****"') ?? null, headers: r.headers.filter((h) => h.key !== 'trace') }),
    );
    expect(await p.capture('payments.public', records)).toBeUndefined();
    const got = (await p.capture('payments.cards', records))!;
    expect(got[0]).toEqual({ offset: 10, key: 'order-1', headers: [], value: '{"card":"****"}' });
    expect(got[2]).toEqual({ offset: 12, key: null, headers: [], value: 'x' });
  });

  it.each(['Gzip', 'Snappy', 'Lz4', 'Zstd'] as const)('compressed batches (%s) are decompressed and captured like others', async (name) => {
    const codec = Compression[name];
    const recs = fill([
      { key: Buffer.from('k0'), value: Buffer.from('{"card":"4111"}'.repeat(2000)) },
      { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ key: 'trace', value: Buffer.from('abc') }] },
    ]);
    const compressed = Buffer.concat([await buildBatch(header(20, 2, codec), recs), batch(22, [{ key: Buffer.from('plain') }])]);
    const p = new CapturePolicy([{ topics: ['*'], mode: 'full' }]);
    expect(await p.capture('t', compressed)).toEqual([
      { offset: 20, key: 'k0', headers: [], value: '{"card":"4111"}'.repeat(2000) },
      { offset: 21, key: 'k1', headers: [{ key: 'trace', value: 'abc' }], value: 'v1' },
      { offset: 22, key: 'plain', headers: [], value: null },
    ]);
  });

  it('keeps an event small: at most CAPTURE_MAX_BYTES of captured text per partition, the records before it whole', async () => {
    const policy = new CapturePolicy([{ topics: ['big'], mode: 'full' }]);
    const big = batch(0, Array.from({ length: 10 }, () => ({ value: Buffer.alloc(100 * 1024, 'v') })));
    const got = (await policy.capture('big', big))!;
    expect(got.length).toBe(Math.floor(CAPTURE_MAX_BYTES / (100 * 1024)));
    expect(got.every((r) => r.value!.length === 100 * 1024)).toBe(true);
  });

  it('a compressed batch that cannot be decompressed is noted as compressed; the others are captured', async () => {
    const notReallyGzip = batch(0, [{ key: Buffer.from('k') }], Compression.Gzip);
    const p = new CapturePolicy([{ topics: ['*'], mode: 'full' }]);
    expect(await p.capture('t', Buffer.concat([notReallyGzip, batch(1, [{ key: Buffer.from('ok') }])]))).toEqual([
      { offset: 0, key: null, headers: [], value: null, compressed: true },
      { offset: 1, key: 'ok', headers: [], value: null },
    ]);
  });
});
