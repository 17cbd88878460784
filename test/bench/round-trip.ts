/**
 * The proxy's added latency, measured finely: one client sends Produce requests (one 1 KiB
 * record, acks=all) one at a time, each after the previous answer, and times every round trip
 * with the high-resolution clock. Kafka's perf tools report whole milliseconds and their p99 is
 * dominated by the JVMs' own pauses; this isolates what a hop through the proxy costs.
 * Given a token, the client first logs in with SASL/OAUTHBEARER (SaslHandshake v1 +
 * SaslAuthenticate v2, as Java clients do), so an authenticating proxy can be timed too.
 */
import { connect, type Socket } from 'node:net';
import { ApiKey, apiCodec, writeRequestHeader, type KnownApiKey, type RequestOf, type ResponseOf } from '../../protocol/generated/index.js';
import { defaultProduceRequest, defaultTopicProduceData } from '../../protocol/generated/produce-request.js';
import { Reader, Writer, ZERO_UUID } from '../../protocol/runtime/index.js';
import { encodeBatch, encodeRecords } from '../../protocol/runtime/record-batch.js';

const VERSION = 9;

/** A size-prefixed request frame; the correlation id sits at bytes 8-11. */
function frameOf<K extends KnownApiKey>(apiKey: K, version: number, body: RequestOf<K>, correlationId: number): Buffer {
  const codec = apiCodec(apiKey)!;
  const flexible = codec.requestFlexibleFrom >= 0 && version >= codec.requestFlexibleFrom;
  const w = new Writer(4096);
  w.int32(0);
  writeRequestHeader(w, flexible ? 2 : 1, { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'gatehouse-bench' });
  codec.writeRequest(w, version, body);
  const frame = Buffer.from(w.finish());
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}

/** The body of a response frame (size prefix included), after its header. */
function bodyOf<K extends KnownApiKey>(apiKey: K, version: number, frame: Buffer): ResponseOf<K> {
  const codec = apiCodec(apiKey)!;
  const r = new Reader(frame, 8); // size, correlation id
  if (codec.responseFlexibleFrom >= 0 && version >= codec.responseFlexibleFrom) r.taggedFields(() => false);
  return codec.readResponse(r, version) as ResponseOf<K>;
}

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
  return frameOf(ApiKey.Produce, VERSION, body, 0);
}

function open(bootstrap: string): Promise<Socket> {
  const i = bootstrap.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = connect({ host: bootstrap.slice(0, i), port: Number(bootstrap.slice(i + 1)), noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

export interface RoundTripOptions {
  /** Untimed round trips first (default 2,000). */
  warmup?: number;
  /** An access token: log in with SASL/OAUTHBEARER before producing. */
  token?: string;
}

/** p50 and p99 of `n` sequential Produce round trips to partition 0 of `topic`, in ms. */
export async function produceRoundTrips(bootstrap: string, topic: string, n: number, recordSize: number, { warmup = 2000, token }: RoundTripOptions = {}): Promise<{ p50: number; p99: number }> {
  const socket = await open(bootstrap);
  let pending: Buffer = Buffer.alloc(0);
  let waiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  socket.on('data', (d: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = pending.readInt32BE(0);
      const res = pending.subarray(0, 4 + size);
      pending = pending.subarray(4 + size);
      waiter?.resolve(res);
    }
  });
  socket.on('close', () => waiter?.reject(new Error(`${bootstrap} closed the connection`)));
  const answer = () => new Promise<Buffer>((resolve, reject) => (waiter = { resolve, reject }));
  const times: number[] = [];
  try {
    if (token !== undefined) {
      const hsAnswer = answer();
      socket.write(frameOf(ApiKey.SaslHandshake, 1, { mechanism: 'OAUTHBEARER' }, 0));
      const hs = bodyOf(ApiKey.SaslHandshake, 1, await hsAnswer);
      if (hs.errorCode !== 0) throw new Error(`SaslHandshake failed with error ${hs.errorCode}`);
      const authAnswer = answer();
      socket.write(frameOf(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`n,,\x01auth=Bearer ${token}\x01\x01`, 'utf8') }, 1));
      const auth = bodyOf(ApiKey.SaslAuthenticate, 2, await authAnswer);
      if (auth.errorCode !== 0) throw new Error(`SaslAuthenticate failed with error ${auth.errorCode}: ${auth.errorMessage}`);
    }
    const frame = produceFrame(topic, recordSize);
    for (let i = 0; i < warmup + n; i++) {
      frame.writeInt32BE(i, 8); // correlation id
      const answered = answer();
      const t0 = process.hrtime.bigint();
      socket.write(frame);
      const res = await answered;
      const t1 = process.hrtime.bigint();
      if (res.readInt32BE(4) !== i) throw new Error(`answer to ${res.readInt32BE(4)}, expected ${i}`);
      // A refused write (policy, a missing topic) is answered fast: check the first answer.
      if (i === 0) {
        const codes = bodyOf(ApiKey.Produce, VERSION, res).responses.flatMap((t) => t.partitionResponses.map((p) => p.errorCode));
        if (codes.some((c) => c !== 0)) throw new Error(`Produce to ${topic} answered with error(s) ${codes.join(', ')}`);
      }
      if (i >= warmup) times.push(Number(t1 - t0) / 1e6);
    }
  } finally {
    socket.destroy();
  }
  times.sort((a, b) => a - b);
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

