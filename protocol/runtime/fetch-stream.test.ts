/**
 * The streaming Fetch reader against the codec: for random responses of every streamed version,
 * fed in random chunkings, with random parts of records fields moved past it as the zero-copy
 * relay would (headers captured at batch boundaries), it gives the skimmed structure and the same
 * batch headers as reading the whole frame.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeFetchResponse, type FetchResponse } from '../generated/fetch-response.js';
import { writeShareFetchResponse, type ShareFetchResponse } from '../generated/share-fetch-response.js';
import { writeResponseHeader } from '../generated/index.js';
import { batches, encodeBatch, encodeRecords } from './record-batch.js';
import { BATCH_OVERHEAD } from './record-batch.js';
import { FetchStreamReader } from './fetch-stream.js';
import { Writer } from './writer.js';

function batch(baseOffset: bigint, count: number, valueSize: number, attributes = 0): Buffer {
  const recs = Array.from({ length: count }, (_, i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: Buffer.alloc(valueSize, i), headers: [] }));
  return encodeBatch(
    { baseOffset, partitionLeaderEpoch: 0, magic: 2, crc: 0, attributes, lastOffsetDelta: count - 1, baseTimestamp: 0n, maxTimestamp: 0n, producerId: 3n, producerEpoch: 0, baseSequence: 0, recordCount: count },
    encodeRecords(recs),
  );
}

const partitionArb = fc.record({
  batches: fc.array(fc.record({ count: fc.integer({ min: 1, max: 4 }), size: fc.integer({ min: 0, max: 3000 }), txn: fc.boolean() }), { maxLength: 4 }),
  cut: fc.integer({ min: 0, max: 80 }),
  nullRecords: fc.boolean(),
  aborted: fc.option(fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 99n }), fc.bigInt({ min: 0n, max: 99n })), { maxLength: 2 }), { nil: null }),
  errorCode: fc.constantFrom(0, 0, 1, 6),
});

function records(p: { batches: Array<{ count: number; size: number; txn: boolean }>; cut: number; nullRecords: boolean }): Buffer | null {
  if (p.nullRecords) return null;
  let offset = 0n;
  const parts = p.batches.map((b) => {
    const out = batch(offset, b.count, b.size, b.txn ? 0x10 : 0);
    offset += BigInt(b.count);
    return out;
  });
  parts.push(batch(offset, 2, 100).subarray(0, p.cut)); // a batch cut short, as at a Fetch's size limit
  return Buffer.concat(parts);
}

function frameOf(version: number, body: FetchResponse): Buffer {
  const w = new Writer(1024);
  w.int32(0);
  writeResponseHeader(w, version >= 12 ? 1 : 0, { correlationId: 99 });
  writeFetchResponse(w, version, body);
  const out = Buffer.from(w.finish());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** What the relay captures moving `range`, its first header `firstBoundary` bytes in. */
function captured(range: Buffer, firstBoundary: number): Buffer {
  const out: Buffer[] = [];
  for (let b = firstBoundary; range.length - b >= BATCH_OVERHEAD; ) {
    out.push(range.subarray(b, b + BATCH_OVERHEAD));
    const size = range.readInt32BE(b + 8) + 12;
    if (size < BATCH_OVERHEAD) break;
    b += size;
  }
  return Buffer.concat(out);
}

describe('the streaming Fetch reader', () => {
  it('gives the structure and batch headers of the whole frame, in any chunking and around relays', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 15 }),
        fc.array(fc.array(partitionArb, { minLength: 1, maxLength: 3 }), { minLength: 0, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 10 }),
        (version, topics, chunkSizes, relaySizes) => {
          const body: FetchResponse = {
            throttleTimeMs: 5,
            errorCode: 0,
            sessionId: 77,
            nodeEndpoints: [],
            responses: topics.map((parts, t) => ({
              topic: version < 13 ? `topic-${t}` : '',
              topicId: version >= 13 ? Buffer.alloc(16, t + 1).toString('base64url') : 'AAAAAAAAAAAAAAAAAAAAAA',
              partitions: parts.map((p, i) => ({
                partitionIndex: i,
                errorCode: p.errorCode,
                highWatermark: 100n + BigInt(i),
                lastStableOffset: 90n,
                logStartOffset: version >= 5 ? 3n : -1n,
                divergingEpoch: { epoch: -1, endOffset: -1n },
                currentLeader: { leaderId: -1, leaderEpoch: -1 },
                snapshotId: { endOffset: -1n, epoch: -1 },
                abortedTransactions: p.aborted && p.aborted.map(([producerId, firstOffset]) => ({ producerId, firstOffset })),
                preferredReadReplica: version >= 11 ? 2 : -1,
                records: records(p),
              })),
            })),
          };
          const frame = frameOf(version, body);
          const reader = new FetchStreamReader(version);
          let at = 0;
          let c = 0;
          let r = 0;
          while (at < frame.length) {
            const relay = reader.relayable();
            if (relay && r < relaySizes.length && relaySizes[r]! % 3 !== 0) {
              r++;
              const len = relay.length; // a relay moves the rest of the field (fewer than 61 bytes left would hide a header)
              const range = frame.subarray(at, at + len);
              const first = relay.firstBoundary < len ? relay.firstBoundary : len;
              reader.skipRelayed(len, relay.firstBoundary, captured(range, first));
              at += len;
              continue;
            }
            r++;
            const n = Math.min(chunkSizes[c++ % chunkSizes.length]!, frame.length - at);
            reader.push(frame.subarray(at, at + n));
            at += n;
          }
          const got = reader.result();
          expect(got.sessionId).toBe(version >= 7 ? 77 : 0);
          expect(got.responses.map((t) => [t.topic, t.topicId])).toEqual(body.responses.map((t) => [version < 13 ? t.topic : '', version >= 13 ? t.topicId : '']));
          got.responses.forEach((t, ti) =>
            t.partitions.forEach((p, pi) => {
              const want = body.responses[ti]!.partitions[pi]!;
              expect([p.partitionIndex, p.errorCode, p.highWatermark, p.lastStableOffset]).toEqual([want.partitionIndex, want.errorCode, want.highWatermark, want.lastStableOffset]);
              expect(p.abortedTransactions).toEqual(want.abortedTransactions);
              const whole = want.records ? [...batches(want.records)] : [];
              expect(p.batches.map((b) => [b.baseOffset, b.recordCount, b.size, b.transactional])).toEqual(whole.map((b) => [b.baseOffset, b.recordCount, b.bytes.length, b.transactional]));
              expect(p.truncatedBytes).toBe(want.records ? want.records.length - whole.reduce((n, b) => n + b.bytes.length, 0) : 0);
            }),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads ShareFetch answers of every version alike: errors, batch headers and acquired ranges, in any chunking', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.array(partitionArb, { minLength: 1, maxLength: 3 }), { minLength: 0, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        (version, topics, chunkSizes, endpoints) => {
          const body: ShareFetchResponse = {
            throttleTimeMs: 5,
            errorCode: 0,
            errorMessage: 'a top-level message',
            acquisitionLockTimeoutMs: 30_000,
            nodeEndpoints: endpoints ? [{ nodeId: 1, host: 'broker-1.example', port: 9092, rack: null }] : [],
            responses: topics.map((parts, t) => ({
              topicId: Buffer.alloc(16, t + 1).toString('base64url'),
              partitions: parts.map((p, i) => ({
                partitionIndex: i,
                errorCode: p.errorCode,
                errorMessage: p.errorCode ? 'no' : null,
                acknowledgeErrorCode: 0,
                acknowledgeErrorMessage: null,
                currentLeader: { leaderId: 1, leaderEpoch: 4 },
                records: records(p),
                acquiredRecords: (p.aborted ?? []).map(([firstOffset, n]) => ({ firstOffset, lastOffset: firstOffset + n, deliveryCount: 1 })),
              })),
            })),
          };
          const w = new Writer(1024);
          w.int32(0);
          writeResponseHeader(w, 1, { correlationId: 99 });
          writeShareFetchResponse(w, version, body);
          const frame = Buffer.from(w.finish());
          frame.writeInt32BE(frame.length - 4, 0);
          const reader = new FetchStreamReader(version, 'ShareFetch');
          for (let at = 0, c = 0; at < frame.length; ) {
            const n = Math.min(chunkSizes[c++ % chunkSizes.length]!, frame.length - at);
            reader.push(frame.subarray(at, at + n));
            at += n;
          }
          const got = reader.result();
          expect(got.responses.map((t) => t.topicId)).toEqual(body.responses.map((t) => t.topicId));
          got.responses.forEach((t, ti) =>
            t.partitions.forEach((p, pi) => {
              const want = body.responses[ti]!.partitions[pi]!;
              expect([p.partitionIndex, p.errorCode]).toEqual([want.partitionIndex, want.errorCode]);
              expect(p.acquired).toEqual(want.acquiredRecords.map(({ firstOffset, lastOffset, deliveryCount }) => ({ firstOffset, lastOffset, deliveryCount })));
              const whole = want.records ? [...batches(want.records)] : [];
              expect(p.batches.map((b) => [b.baseOffset, b.recordCount, b.size])).toEqual(whole.map((b) => [b.baseOffset, b.recordCount, b.bytes.length]));
            }),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses bytes past the frame\'s end and a result before it', () => {
    const frame = frameOf(12, { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [], nodeEndpoints: [] });
    const reader = new FetchStreamReader(12);
    reader.push(frame.subarray(0, 5));
    expect(() => reader.result()).toThrow(/ended early/);
    expect(() => reader.push(Buffer.concat([frame.subarray(5), Buffer.from([1])]))).toThrow(/after its end/);
  });
});
