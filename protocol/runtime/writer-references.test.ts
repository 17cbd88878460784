/**
 * A writer that references large byte fields instead of copying them: the parts it returns join
 * to exactly what a copying writer writes, and a large records field among them is the very
 * Buffer given (a Fetch answer with one partition rewritten keeps the others' bytes as received).
 */
import { describe, expect, it } from 'vitest';
import { apiCodec, ApiKey } from '../generated/index.js';
import { defaultFetchResponse, defaultFetchableTopicResponse, defaultPartitionData, type FetchResponse } from '../generated/fetch-response.js';
import { Writer } from './writer.js';

const fetchAnswer = (records: Array<Buffer | null>): FetchResponse => ({
  ...defaultFetchResponse(),
  sessionId: 7,
  responses: [{ ...defaultFetchableTopicResponse(), topic: 't', partitions: records.map((r, i) => ({ ...defaultPartitionData(), partitionIndex: i, highWatermark: 10n, records: r })) }],
});

describe('Writer with referenced byte fields', () => {
  const codec = apiCodec(ApiKey.Fetch)!;
  const big = Buffer.alloc(10_000, 1);
  const small = Buffer.alloc(100, 2);
  const other = Buffer.alloc(5_000, 3);

  it.each([4, 12, 16])('Fetch v%i: the parts join to the copying encoding; large records fields are the Buffers given', (v) => {
    const body = fetchAnswer([big, small, null, other]);
    const copying = new Writer(64);
    codec.writeResponse(copying, v, body);
    const referencing = new Writer(64, 4096);
    codec.writeResponse(referencing, v, body);
    const parts = referencing.finishParts();
    expect(Buffer.concat(parts).equals(copying.finish())).toBe(true);
    expect(referencing.length).toBe(copying.finish().length);
    expect(parts.filter((p) => p === big || p === other)).toHaveLength(2);
    expect(parts).not.toContain(small);
  });

  it('writes on after a referenced field at the start of a full buffer, and refuses finish() once it referenced one', () => {
    const w = new Writer(4, 8);
    w.int32(1);
    w.raw(Buffer.alloc(8, 9)); // the buffer is full: writing goes on in a new one
    w.int64(2n);
    expect(Buffer.concat(w.finishParts()).toString('hex')).toBe('00000001' + '09'.repeat(8) + '0000000000000002');
    expect(() => w.finish()).toThrow(/finishParts/);
  });
});
