/**
 * The proxy's added latency, measured finely: one client sends Produce requests (one 1 KiB
 * record, acks=all) one at a time, each after the previous answer, and times every round trip
 * with the high-resolution clock. Kafka's perf tools report whole milliseconds and their p99 is
 * dominated by the JVMs' own pauses; this isolates what a hop through the proxy costs.
 */
import { connect, type Socket } from 'node:net';
import { ApiKey, apiCodec, writeRequestHeader } from '../../protocol/generated/index.js';
import { defaultProduceRequest, defaultTopicProduceData } from '../../protocol/generated/produce-request.js';
import { Writer, ZERO_UUID } from '../../protocol/runtime/index.js';
import { encodeBatch, encodeRecords } from '../../protocol/runtime/record-batch.js';

const VERSION = 9;

function produceFrame(topic: string, recordSize: number): Buffer {
  const now = BigInt(Date.now());
  const records = encodeRecords([{ attributes: 0, timestampDelta: 0n, offsetDelta: 0, key: null, value: Buffer.alloc(recordSize, 120), headers: [] }]);
  const batch = encodeBatch(
    { baseOffset: 0n, partitionLeaderEpoch: -1, magic: 2, crc: 0, attributes: 0, lastOffsetDelta: 0, baseTimestamp: now, maxTimestamp: now, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: 1 },
    records,
  );
  const body = defaultProduceRequest();
  body.acks = -1;
  body.timeoutMs = 30_000;
  body.topicData = [{ ...defaultTopicProduceData(), name: topic, topicId: ZERO_UUID, partitionData: [{ index: 0, records: batch }] }];
  const w = new Writer(recordSize + 256);
  w.int32(0);
  writeRequestHeader(w, 2, { requestApiKey: ApiKey.Produce, requestApiVersion: VERSION, correlationId: 0, clientId: 'gatehouse-bench' });
  apiCodec(ApiKey.Produce)!.writeRequest(w, VERSION, body);
  const frame = Buffer.from(w.finish());
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}

function open(bootstrap: string): Promise<Socket> {
  const i = bootstrap.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = connect({ host: bootstrap.slice(0, i), port: Number(bootstrap.slice(i + 1)), noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** p50 and p99 of `n` sequential Produce round trips, in ms (after `warmup` untimed ones). */
export async function produceRoundTrips(bootstrap: string, topic: string, n: number, recordSize: number, warmup = 2000): Promise<{ p50: number; p99: number }> {
  const socket = await open(bootstrap);
  const frame = produceFrame(topic, recordSize);
  let pending: Buffer = Buffer.alloc(0);
  let waiter: ((b: Buffer) => void) | null = null;
  socket.on('data', (d: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = pending.readInt32BE(0);
      const res = pending.subarray(0, 4 + size);
      pending = pending.subarray(4 + size);
      waiter?.(res);
    }
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + n; i++) {
      frame.writeInt32BE(i, 8); // correlation id
      const answered = new Promise<Buffer>((resolve) => (waiter = resolve));
      const t0 = process.hrtime.bigint();
      socket.write(frame);
      const res = await answered;
      const t1 = process.hrtime.bigint();
      if (res.readInt32BE(4) !== i) throw new Error(`answer to ${res.readInt32BE(4)}, expected ${i}`);
      if (i >= warmup) times.push(Number(t1 - t0) / 1e6);
    }
  } finally {
    socket.destroy();
  }
  times.sort((a, b) => a - b);
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}
