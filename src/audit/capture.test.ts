import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeRecords, type KafkaRecord } from '../../protocol/runtime/record-batch.js';
import { CapturePolicy } from './capture.js';

function batch(baseOffset: number, records: Array<Partial<KafkaRecord>>, attributes = 0): Buffer {
  const recs: KafkaRecord[] = records.map((r, i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: null, headers: [], ...r }));
  return encodeBatch(
    { baseOffset: BigInt(baseOffset), partitionLeaderEpoch: 0, magic: 2, crc: 0, attributes, lastOffsetDelta: recs.length - 1, baseTimestamp: 0n, maxTimestamp: 0n, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: recs.length },
    encodeRecords(recs),
  );
}

const records = Buffer.concat([
  batch(10, [
    { key: Buffer.from('order-1'), value: Buffer.from('{"card":"4111"}'), headers: [{ key: 'trace', value: Buffer.from('abc') }] },
    { key: Buffer.from([0xff, 0xfe]), value: null },
  ]),
  batch(12, [{ key: null, value: Buffer.from('x') }]),
]);

describe('payload capture', () => {
  it('none by default and for unmatched topics', () => {
    const p = new CapturePolicy([{ topics: ['payments.*'], mode: 'full' }]);
    expect(p.capture('orders', records)).toBeUndefined();
    expect(new CapturePolicy().capture('payments.x', records)).toBeUndefined();
  });

  it('keys-headers: offsets, keys (base64 when not UTF-8) and headers, never values', () => {
    const p = new CapturePolicy([{ topics: ['orders', 'payments.*'], mode: 'keys-headers' }]);
    expect(p.capture('orders', records)).toEqual([
      { offset: 10, key: 'order-1', headers: [{ key: 'trace', value: 'abc' }] },
      { offset: 11, key: `base64:${Buffer.from([0xff, 0xfe]).toString('base64')}`, headers: [] },
      { offset: 12, key: null, headers: [] },
    ]);
  });

  it('full: values too; first matching rule wins; the masker sees every record before it is kept', () => {
    const p = new CapturePolicy(
      [
        { topics: ['payments.public'], mode: 'none' },
        { topics: ['payments.*'], mode: 'full' },
      ],
      (topic, r) => ({ ...r, value: r.value?.replace(/"card":"\d+"/, '"card":"****"') ?? null, headers: r.headers.filter((h) => h.key !== 'trace') }),
    );
    expect(p.capture('payments.public', records)).toBeUndefined();
    const got = p.capture('payments.cards', records)!;
    expect(got[0]).toEqual({ offset: 10, key: 'order-1', headers: [], value: '{"card":"****"}' });
    expect(got[2]).toEqual({ offset: 12, key: null, headers: [], value: 'x' });
  });

  it('compressed batches are noted, not decompressed', () => {
    const gzipFlagged = batch(0, [{ key: Buffer.from('k') }], 1);
    const p = new CapturePolicy([{ topics: ['*'], mode: 'full' }]);
    expect(p.capture('t', gzipFlagged)).toEqual([{ offset: 0, key: null, headers: [], value: null, compressed: true }]);
  });
});
