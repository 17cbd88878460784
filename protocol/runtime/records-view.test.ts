/**
 * The header-level records view: batch headers read in place give what decoding the joined
 * records gives, however the frame is cut into chunks; a batch cut short at the end is counted as
 * truncated bytes; a Produce request and a Fetch response are located field by field.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultProduceRequest, readProduceRequest, writeProduceRequest } from '../generated/produce-request.js';
import { batches, encodeBatch, encodeRecords } from './record-batch.js';
import { batchHeaders, locateRecords, recordsBytes } from './records-view.js';
import { Writer } from './writer.js';

function batch(baseOffset: bigint, count: number, attributes = 0): Buffer {
  const recs = Array.from({ length: count }, (_, i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: Buffer.alloc(10 + i, i), headers: [] }));
  return encodeBatch(
    { baseOffset, partitionLeaderEpoch: 0, magic: 2, crc: 0, attributes, lastOffsetDelta: count - 1, baseTimestamp: 0n, maxTimestamp: 0n, producerId: 7n, producerEpoch: 1, baseSequence: 0, recordCount: count },
    encodeRecords(recs),
  );
}

function chunk(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % buf.length))].filter((c) => c > 0).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out;
}

describe('record batch headers read in place', () => {
  it('match the decoded batches in any chunking, with a cut-short last batch counted apart', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 40 }), fc.array(fc.nat(), { maxLength: 12 }), (n, cutShort, cuts) => {
        const whole = Buffer.concat(Array.from({ length: n }, (_, i) => batch(BigInt(i * 10), 1 + i, i % 2 ? 0x10 : 0)));
        const tail = batch(999n, 3).subarray(0, cutShort); // a partial batch, as a Fetch at its limit
        const records = Buffer.concat([whole, tail]);
        const frame = Buffer.concat([Buffer.from('prefix'), records, Buffer.from('suffix')]);
        const field = { offset: 6, length: records.length };
        const got = batchHeaders(chunk(frame, cuts), field);
        const want = [...batches(records)];
        expect(got.batches.map((b) => [b.baseOffset, b.lastOffsetDelta, b.recordCount, b.size, b.transactional, b.producerId])).toEqual(
          want.map((b) => [b.baseOffset, b.lastOffsetDelta, b.recordCount, b.bytes.length, b.transactional, b.producerId]),
        );
        expect(got.truncatedBytes).toBe(tail.length);
        expect(recordsBytes(chunk(frame, cuts), field).equals(records)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a batch whose length is below a header\'s', () => {
    const b = batch(0n, 1);
    b.writeInt32BE(10, 8);
    expect(() => batchHeaders([b], { offset: 0, length: b.length })).toThrow(/below the minimum/);
  });

  it('locates each partition\'s records in a Produce request that arrived in chunks', () => {
    const body = defaultProduceRequest();
    const a = batch(0n, 2);
    const b = batch(0n, 4);
    body.topicData = [{ name: 't', topicId: '', partitionData: [{ index: 0, records: a }, { index: 1, records: null }, { index: 2, records: b }] }];
    const w = new Writer(256);
    writeProduceRequest(w, 9, body);
    const frame = Buffer.from(w.finish());
    const { body: skimmed, fields } = locateRecords(chunk(frame, [5, 17, 40, 90]), 0, (r) => readProduceRequest(r, 9));
    expect(skimmed.topicData[0]!.partitionData.map((p) => p.index)).toEqual([0, 1, 2]);
    expect(fields).toHaveLength(2);
    expect(batchHeaders([frame], fields[0]!).batches.map((h) => h.recordCount)).toEqual([2]);
    expect(recordsBytes([frame], fields[1]!).equals(b)).toBe(true);
  });
});
