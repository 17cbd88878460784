/**
 * Every compressed record batch in the captured frames (written by Java, librdkafka and kafkajs
 * producers, and as the broker hands them out in Fetch and ShareFetch responses) decompresses
 * with Gatehouse's codecs into as many records as its header says, and survives a transform: its
 * values changed, re-encoded with its own codec, the batch decodes to exactly the changed records.
 */
import { describe, expect, it } from 'vitest';
import { batches, Compression, computeCrc, type RecordBatchView } from '../../protocol/runtime/index.js';
import { readRecords, transformBatch } from '../../protocol/runtime/record-transform.js';
import { decodeFrame, loadFrame, loadIndex, recordsFields } from './fixtures.js';

const index = loadIndex();
if (!index) throw new Error('test/fixtures/frames/index.json is missing: run `npx tsx scripts/capture-fixtures.ts`');

const compressed: Array<[string, RecordBatchView]> = [];
for (const e of index.frames) {
  if (!['Produce', 'Fetch', 'ShareFetch'].includes(e.apiName)) continue;
  const d = decodeFrame(loadFrame(e), e.direction, e.apiKey, e.apiVersion, e.bodyVersion);
  for (const records of recordsFields(d.body)) {
    for (const b of batches(records)) {
      if (b.compression !== Compression.None) compressed.push([`${e.client} ${Compression[b.compression]} ${e.file} @${b.baseOffset}`, b]);
    }
  }
}

describe('compressed batches written by real clients', () => {
  it('cover every codec from Java and librdkafka, and gzip from kafkajs', () => {
    const seen = new Set(compressed.map(([name]) => name.split(' ').slice(0, 2).join(' ')));
    const codecs = ['Gzip', 'Snappy', 'Lz4', 'Zstd'];
    expect([...seen].sort()).toEqual(expect.arrayContaining([...codecs.map((c) => `java ${c}`), ...codecs.map((c) => `kcat ${c}`), 'kafkajs Gzip']));
  });

  it.each(compressed)('%s', async (_name, batch) => {
    const records = await readRecords(batch);
    expect(records).toHaveLength(batch.recordCount);
    expect(records.map((r) => r.offsetDelta)).toEqual(records.map((_, i) => i));

    const out = await transformBatch(batch, (recs) => recs.map((r) => ({ ...r, value: r.value && Buffer.from(r.value.toString().toUpperCase()) })));
    const [again] = [...batches(out)];
    expect(again!.bytes.length).toBe(out.length);
    expect(again!.crc).toBe(computeCrc(out));
    expect(again!.attributes).toBe(batch.attributes);
    const changed = await readRecords(again!);
    expect(changed).toEqual(records.map((r) => ({ ...r, value: r.value && Buffer.from(r.value.toString().toUpperCase()) })));
  });
});
