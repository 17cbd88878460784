import { describe, expect, it } from 'vitest';
import { batches, Compression, computeCrc, encodeBatch, encodeRecords, type KafkaRecord, type RecordBatchHeader, type RecordBatchView } from './record-batch.js';
import { buildBatch, readRecords, transformBatch, transformRecords, type RecordsEdit } from './record-transform.js';

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
const LOG_APPEND_TIME = 0x08;

function header(attributes: number, count: number, baseOffset = 100n): RecordBatchHeader {
  return {
    baseOffset, partitionLeaderEpoch: 3, magic: 2, crc: 0, attributes, lastOffsetDelta: count - 1,
    baseTimestamp: 1_700_000_000_000n, maxTimestamp: 1_700_000_000_009n, producerId: 42n, producerEpoch: 1, baseSequence: 7, recordCount: count,
  };
}

function records(n: number, prefix = 'value'): KafkaRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    attributes: 0, timestampDelta: BigInt(i), offsetDelta: i, key: Buffer.from(`key-${i}`),
    value: Buffer.from(`${prefix}-${i} ${'payload '.repeat(i % 50)}`), headers: [{ key: 'h', value: Buffer.from(String(i)) }],
  }));
}

const only = (bytes: Buffer): RecordBatchView => [...batches(bytes)][0]!;

/** Replaces the value of the record at offsetDelta 1. */
const changeSecond: RecordsEdit = (recs) => {
  recs[1]!.value = Buffer.from('CHANGED, and longer than it was before, so every length moves');
  return recs;
};

const CODECS = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];

describe.each(CODECS.map((c) => [Compression[c], c] as const))('transformBatch, %s', (_name, compression) => {
  it('re-encodes with the same codec: new value, lengths and CRC; every other header field and the attributes kept', async () => {
    const attributes = compression | LOG_APPEND_TIME;
    const original = await buildBatch(header(attributes, 200), records(200));
    const before = only(original);
    const out = await transformBatch(before, changeSecond);
    const after = only(out);
    expect(after.bytes.length).toBe(out.length);
    expect(after.crc).toBe(computeCrc(out));
    expect(after.crc).not.toBe(before.crc);
    const { bytes: _b, recordsData: _r, crc: _c, ...kept } = before;
    expect(after).toMatchObject(kept);
    expect(after.compression).toBe(compression);
    const got = await readRecords(after);
    expect(got[1]!.value!.toString()).toMatch(/^CHANGED/);
    expect(got.filter((_, i) => i !== 1)).toEqual(records(200).filter((_, i) => i !== 1));
  });

  it('an edit that returns nothing leaves the batch as its original bytes', async () => {
    const batch = only(await buildBatch(header(compression, 3), records(3)));
    const seen: string[] = [];
    const out = await transformBatch(batch, (recs) => void seen.push(...recs.map((r) => r.key!.toString())));
    expect(out).toBe(batch.bytes);
    expect(seen).toEqual(['key-0', 'key-1', 'key-2']);
  });

  it('control batches are never edited; transactional ones are, unless keepTransactional', async () => {
    const control = only(await buildBatch(header(compression | TRANSACTIONAL | CONTROL, 1), records(1)));
    const edit = (): never => expect.fail('edit called for a control batch');
    expect(await transformBatch(control, edit)).toBe(control.bytes);
    const txn = only(await buildBatch(header(compression | TRANSACTIONAL, 2), records(2)));
    expect(await transformBatch(txn, changeSecond, { keepTransactional: true })).toBe(txn.bytes);
    const edited = only(await transformBatch(txn, changeSecond));
    expect(edited.transactional).toBe(true);
    expect((await readRecords(edited))[1]!.value!.toString()).toMatch(/^CHANGED/);
  });

  it('records dropped by the edit: recordCount follows, the offset span (lastOffsetDelta) stays', async () => {
    const batch = only(await buildBatch(header(compression, 5), records(5)));
    const after = only(await transformBatch(batch, (recs) => recs.filter((r) => r.offsetDelta % 2 === 0)));
    expect([after.recordCount, after.lastOffsetDelta]).toEqual([3, 4]);
    expect((await readRecords(after)).map((r) => r.offsetDelta)).toEqual([0, 2, 4]);
  });
});

describe('transformBatch on damaged input', () => {
  it('refuses a batch whose CRC does not match (GH_PROTOCOL_CRC) instead of sealing corrupt bytes', async () => {
    const bytes = Buffer.from(await buildBatch(header(Compression.Gzip, 2), records(2)));
    bytes[bytes.length - 3] ^= 0xff;
    await expect(transformBatch(only(bytes), changeSecond)).rejects.toMatchObject({ code: 'GH_PROTOCOL_CRC' });
  });

  it('a batch flagged compressed whose data is not is GH_CODEC_CORRUPT', async () => {
    const liar = only(encodeBatch(header(Compression.Zstd, 2), encodeRecords(records(2))));
    await expect(transformBatch(liar, changeSecond)).rejects.toMatchObject({ code: 'GH_CODEC_CORRUPT' });
  });
});

describe('transformRecords', () => {
  async function field(): Promise<Buffer> {
    return Buffer.concat([
      await buildBatch(header(Compression.Lz4, 3, 0n), records(3, 'a')),
      await buildBatch(header(Compression.None | TRANSACTIONAL | CONTROL, 1, 3n), records(1)),
      await buildBatch(header(Compression.Zstd, 4, 4n), records(4, 'b')),
    ]);
  }

  it('edits every batch in order and leaves the rest of the field as it was', async () => {
    const input = await field();
    const seen: bigint[] = [];
    const out = await transformRecords(input, (recs, b) => {
      seen.push(b.baseOffset);
      return recs.map((r) => ({ ...r, value: Buffer.from(r.value!.toString().toUpperCase()) }));
    });
    expect(seen).toEqual([0n, 4n]);
    const got = [...batches(out)];
    expect(got.map((b) => [b.baseOffset, b.compression, b.control])).toEqual([[0n, Compression.Lz4, false], [3n, Compression.None, true], [4n, Compression.Zstd, false]]);
    expect(got[1]!.bytes.equals([...batches(input)][1]!.bytes)).toBe(true);
    expect((await readRecords(got[2]!)).map((r) => r.value!.toString().slice(0, 3))).toEqual(['B-0', 'B-1', 'B-2', 'B-3']);
  });

  it('returns the field itself when nothing changed', async () => {
    const input = await field();
    expect(await transformRecords(input, () => undefined)).toBe(input);
    expect(await transformRecords(Buffer.alloc(0), changeSecond)).toEqual(Buffer.alloc(0));
  });

  it('drops a batch cut short at the end (as batches() leaves it out), edited or not', async () => {
    const input = await field();
    const whole = [...batches(input)].map((b) => b.bytes.length);
    for (const cut of [1, 11, 12, 40, whole[2]! - 1]) {
      const truncated = input.subarray(0, input.length - cut);
      const kept = await transformRecords(truncated, () => undefined);
      expect(kept.equals(input.subarray(0, whole[0]! + whole[1]!))).toBe(true);
      const edited = await transformRecords(truncated, changeSecond);
      expect([...batches(edited)].map((b) => b.baseOffset)).toEqual([0n, 3n]);
      expect(batches(edited).next().value!.bytes.length).toBe(edited.length - whole[1]!);
    }
  });
});
