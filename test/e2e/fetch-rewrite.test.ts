/**
 * A Fetch response with a rewritten topic and an untouched one (issue 14): a proxy stage masks
 * topic A's values in Fetch responses with transformRecords, as masking or capture would, and
 * leaves topic B's records as the broker sent them.
 *  - A holds batches of lz4 (Java's console producer) and zstd (kcat), B of gzip (Java) and
 *    snappy (kcat); a kafkajs transaction writes one more batch to each (A zstd, B snappy) and the
 *    broker its commit marker (a control batch).
 *  - One bare Fetch of both topics, to the broker and through the proxy: B's records bytes are
 *    byte for byte the broker's; A's differ, batch for batch with the same headers, codecs and
 *    control batch, and decode (with Gatehouse's codecs) to the masked values; every batch's
 *    CRC32C verifies; everything else in the answer is the broker's.
 *  - Java's console consumer (check.crcs=true, read_committed) and kcat (check.crcs=true) read
 *    both topics through the proxy: A's values masked, B's as written, no CRC error.
 */
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic } from '../../protocol/generated/fetch-request.js';
import type { FetchResponse, PartitionData } from '../../protocol/generated/fetch-response.js';
import { defaultMetadataRequest } from '../../protocol/generated/metadata-request.js';
import type { MetadataResponse } from '../../protocol/generated/metadata-response.js';
import { codecFor } from '../../protocol/runtime/codecs/index.js';
import { ZERO_UUID } from '../../protocol/runtime/helpers.js';
import { batches, Compression, decodeRecords, verifyCrc, type KafkaRecord, type RecordBatchView } from '../../protocol/runtime/record-batch.js';
import { transformRecords, type RecordsEdit } from '../../protocol/runtime/record-transform.js';
import { runTool } from '../../src/kafka/index.js';
import { isResponse, type InterceptedResponse, type Stage } from '../../src/stage/stage.js';
import { createTopics, kafkaClient, kcat, uniqueName, waitFor } from '../helpers/e2e.js';
import { registerKafkajsCodecs } from '../helpers/kafkajs-codecs.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';

const { CompressionTypes } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');

const N = 30;
/**
 * librdkafka sends a batch uncompressed when compressing would not shrink it, which a lone record
 * sent early on a loaded machine may be: kcat lingers 1 s so that all its lines go in one batch.
 */
const ONE_BATCH = ['-X', 'linger.ms=1000'];
type Topic = 'A' | 'B';
type Via = 'java' | 'kcat' | 'kafkajs-txn';
/** Who writes what: each topic gets two codecs of its own, B none of A's. */
const SOURCES: ReadonlyArray<{ topic: Topic; via: Via; codec: 'lz4' | 'zstd' | 'gzip' | 'snappy' }> = [
  { topic: 'A', via: 'java', codec: 'lz4' },
  { topic: 'A', via: 'kcat', codec: 'zstd' },
  { topic: 'A', via: 'kafkajs-txn', codec: 'zstd' },
  { topic: 'B', via: 'java', codec: 'gzip' },
  { topic: 'B', via: 'kcat', codec: 'snappy' },
  { topic: 'B', via: 'kafkajs-txn', codec: 'snappy' },
];
const CODE = { gzip: Compression.Gzip, snappy: Compression.Snappy, lz4: Compression.Lz4, zstd: Compression.Zstd } as const;

/** A value ending in four digits a masking rule would hide. */
const value = (topic: Topic, via: Via, codec: string, i: number): string =>
  `fr ${topic} ${via} ${codec} ${i} ${'lorem ipsum dolor sit amet '.repeat(1 + (i % 4))}pin ${String(1000 + i * 37).slice(-4)}`;
const MASK = Buffer.from('****');
const masked = (v: string): string => v.slice(0, -4) + '****';
const valuesOf = (topic: Topic): string[] =>
  SOURCES.filter((s) => s.topic === topic).flatMap(({ via, codec }) => Array.from({ length: N }, (_, i) => value(topic, via, codec, i)));

/** Every value's last 4 bytes replaced by '****' (lengths kept), as a masking rule would. */
const maskValues: RecordsEdit = (records) => {
  for (const r of records) if (r.value && r.value.length >= 4) r.value = Buffer.concat([r.value.subarray(0, -4), MASK]);
  return records;
};

/**
 * Rewrites the Fetch partitions of one topic (by name, or by ID from Fetch v13 on) with
 * transformRecords; other topics' records stay the Buffers the response was decoded with.
 */
class MaskTopicStage implements Stage {
  readonly name = 'e2e-mask-one-topic';
  readonly interest = { responses: new Set<number>([ApiKey.Fetch]) };
  rewritten = 0;
  /** The untouched topic's partitions as the stage left them, with the buffer it was handed. */
  readonly untouched: Array<{ before: Buffer | null; after: PartitionData }> = [];

  constructor(
    private readonly topic: string,
    private readonly topicId: string,
  ) {}

  async onResponse(res: InterceptedResponse): Promise<void> {
    if (!isResponse(res, ApiKey.Fetch)) return;
    const body = res.body();
    let modified = false;
    for (const t of body.responses) {
      const mine = t.topic ? t.topic === this.topic : t.topicId === this.topicId;
      for (const p of t.partitions) {
        if (!mine) {
          this.untouched.push({ before: p.records, after: p });
          continue;
        }
        if (!p.records) continue;
        const records = await transformRecords(p.records, maskValues);
        if (records !== p.records) {
          p.records = records;
          modified = true;
        }
      }
    }
    if (modified) {
      this.rewritten++;
      res.setBody(body);
    }
  }
}

/** One Fetch v12 of partition 0 of both topics from offset 0 (read_uncommitted). */
function fetchBoth(client: RawClient, topics: string[]): Promise<FetchResponse> {
  return client.request<FetchResponse>(ApiKey.Fetch, 12, {
    ...defaultFetchRequest(),
    maxWaitMs: 100,
    minBytes: 1,
    maxBytes: 32 << 20,
    topics: topics.map((topic) => ({ ...defaultFetchTopic(), topic, partitions: [{ ...defaultFetchPartition(), partition: 0, fetchOffset: 0n, partitionMaxBytes: 8 << 20 }] })),
  });
}

const partitionOf = (res: FetchResponse, topic: string): PartitionData => {
  const t = res.responses.find((r) => r.topic === topic);
  expect(t?.partitions).toHaveLength(1);
  return t!.partitions[0]!;
};
const recordsOf = (res: FetchResponse, topic: string): Buffer => Buffer.from(partitionOf(res, topic).records ?? Buffer.alloc(0));

/** A batch's records, decompressed with Gatehouse's codec for its attributes. */
async function decode(b: RecordBatchView): Promise<KafkaRecord[]> {
  const data = b.compression === Compression.None ? b.recordsData : await codecFor(b.compression).decompress(b.recordsData);
  return decodeRecords(data, b.recordCount);
}

/** The header fields the rewrite must keep (CRC and length follow the records). */
const header = ({ bytes: _b, recordsData: _r, crc: _c, ...h }: RecordBatchView) => h;

/** Lines a console consumer printed that are record values (Java may print notes too). */
const printed = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('fr '));

describe('Fetch response with a rewritten topic and an untouched one', () => {
  const prefix = uniqueName('fetch-rewrite');
  const name: Record<Topic, string> = { A: `${prefix}-a`, B: `${prefix}-b` };
  let topicIdA = '';
  let raw: RawClient;
  let gh: TestProxy;
  let stage: MaskTopicStage;

  beforeAll(async () => {
    registerKafkajsCodecs();
    raw = await RawClient.open(kafkaBootstrap);
    const kafka = kafkaClient(kafkaBootstrap);
    const admin = kafka.admin();
    await admin.connect();
    try {
      // compression.type=producer (the default, made explicit): the broker keeps each batch's codec and bytes.
      const configEntries = [{ name: 'compression.type', value: 'producer' }];
      await createTopics(admin, [name.A, name.B].map((topic) => ({ topic, numPartitions: 1, configEntries })));
    } finally {
      await admin.disconnect();
    }
    const md = await raw.request<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [{ topicId: ZERO_UUID, name: name.A }] });
    topicIdA = md.topics[0]!.topicId;
    expect(md.topics[0]!.name).toBe(name.A);

    const lines = (topic: Topic, via: Via, codec: string) => Array.from({ length: N }, (_, i) => value(topic, via, codec, i)).join('\n') + '\n';
    const writes = SOURCES.filter((s) => s.via !== 'kafkajs-txn').map(({ topic, via, codec }) =>
      via === 'java'
        ? runTool(classpath, 'console-producer', ['--bootstrap-server', kafkaBootstrap, '--topic', name[topic], '--compression-codec', codec], { input: lines(topic, via, codec) })
        : kcat(kafkaBootstrap, ['-P', '-t', name[topic], '-z', codec, ...ONE_BATCH], { input: lines(topic, via, codec) }),
    );
    const producer = kafka.producer({ transactionalId: `${prefix}-tx`, idempotent: true, maxInFlightRequests: 1 });
    const transaction = (async () => {
      await producer.connect();
      try {
        const tx = await producer.transaction();
        for (const { topic, via, codec } of SOURCES.filter((s) => s.via === 'kafkajs-txn')) {
          const compression = codec === 'zstd' ? CompressionTypes.ZSTD : CompressionTypes.Snappy;
          await tx.send({ topic: name[topic], compression, messages: Array.from({ length: N }, (_, i) => ({ value: value(topic, via, codec, i) })) });
        }
        await tx.commit();
      } finally {
        await producer.disconnect();
      }
    })();
    const [results] = await Promise.all([Promise.all(writes), transaction]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);

    // The commit markers are written after EndTxn returns: wait for them (LSO = HW = records + marker).
    await waitFor('both topics complete and stable', async () => {
      const res = await fetchBoth(raw, [name.A, name.B]);
      return [name.A, name.B].every((t) => {
        const p = partitionOf(res, t);
        return p.highWatermark === BigInt(3 * N + 1) && p.lastStableOffset === p.highWatermark;
      });
    }, { timeoutMs: 15_000 });

    stage = new MaskTopicStage(name.A, topicIdA);
    gh = await startProxy(kafkaBootstrap, {}, { stages: [stage] });
  });
  afterAll(async () => {
    raw?.close();
    await gh?.stop();
  });

  it('a bare Fetch of both: B byte for byte the broker’s, A re-encoded batch for batch with masked values, every CRC valid', async () => {
    const direct = await fetchBoth(raw, [name.A, name.B]);
    const client = await RawClient.open(gh.bootstrap);
    let proxied: FetchResponse;
    try {
      proxied = await fetchBoth(client, [name.A, name.B]);
    } finally {
      client.close();
    }
    expect(stage.rewritten).toBe(1);

    // Every batch of both topics, as the client got them, carries a valid CRC32C (checked first,
    // so that a bad byte is reported as a CRC mismatch rather than as a codec error).
    for (const t of [name.A, name.B]) {
      const all = [...batches(recordsOf(proxied, t))];
      expect(all.length).toBeGreaterThanOrEqual(4);
      for (const b of all) verifyCrc(b);
    }

    // As stored: A lz4 + zstd, B gzip + snappy, each with a transactional batch and its commit marker.
    const stored = { A: [...batches(recordsOf(direct, name.A))], B: [...batches(recordsOf(direct, name.B))] };
    for (const t of ['A', 'B'] as const) {
      const data = stored[t].filter((b) => !b.control);
      expect(new Set(data.map((b) => b.compression))).toEqual(new Set(SOURCES.filter((s) => s.topic === t).map((s) => CODE[s.codec])));
      expect(data.filter((b) => b.transactional)).toHaveLength(1);
      expect(stored[t].filter((b) => b.control)).toHaveLength(1);
      expect((await Promise.all(data.map(decode))).flat().map((r) => r.value!.toString()).sort()).toEqual(valuesOf(t).sort());
      expect(Buffer.concat(stored[t].map((b) => b.bytes)).equals(recordsOf(direct, name[t]))).toBe(true); // no partial batch at the end
    }

    // B: the records field the client gets is the broker's, byte for byte.
    expect(recordsOf(proxied, name.B).equals(recordsOf(direct, name.B)), 'B records byte-identical to the broker’s').toBe(true);
    // The stage handed B's records on as the Buffer the response was decoded with.
    expect(stage.untouched).toHaveLength(1);
    expect(stage.untouched[0]!.after.records).toBe(stage.untouched[0]!.before);

    // A: different bytes, the same batches (headers, codecs, offsets), masked values, fresh CRCs.
    const a = recordsOf(proxied, name.A);
    expect(a.equals(recordsOf(direct, name.A))).toBe(false);
    const rewritten = [...batches(a)];
    expect(Buffer.concat(rewritten.map((b) => b.bytes)).equals(a)).toBe(true);
    expect(rewritten.map(header)).toEqual(stored.A.map(header));
    for (const [i, b] of rewritten.entries()) {
      const before = stored.A[i]!;
      if (b.control) {
        expect(b.bytes.equals(before.bytes)).toBe(true);
        continue;
      }
      expect(b.bytes.equals(before.bytes)).toBe(false);
      const [got, was] = await Promise.all([decode(b), decode(before)]);
      expect(got.map((r) => r.value!.toString())).toEqual(was.map((r) => masked(r.value!.toString())));
      expect(got.map(({ value: _v, ...r }) => r)).toEqual(was.map(({ value: _v, ...r }) => r)); // keys, headers, deltas kept
    }
    const maskedA = (await Promise.all(rewritten.filter((b) => !b.control).map(decode))).flat().map((r) => r.value!.toString());
    expect(maskedA.sort()).toEqual(valuesOf('A').map(masked).sort());

    // Everything besides A's records is the broker's answer.
    const blank = (res: FetchResponse) => ({
      ...res,
      responses: res.responses.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, records: t.topic === name.A ? null : p.records })) })),
    });
    expect(blank(proxied)).toEqual(blank(direct));
  });

  it('Java (check.crcs=true, read_committed) and kcat (check.crcs=true) read both topics through the proxy: A masked, B as written', async () => {
    const expected = [...valuesOf('A').map(masked), ...valuesOf('B')].sort();
    const before = stage.rewritten;
    const [java, ...librdkafka] = await Promise.all([
      runTool(classpath, 'console-consumer', [
        '--bootstrap-server', gh.bootstrap, '--include', `${prefix}-(a|b)`, '--from-beginning',
        '--max-messages', String(expected.length), '--timeout-ms', '20000',
        '--consumer-property', 'check.crcs=true', '--consumer-property', 'isolation.level=read_committed',
      ], { timeoutMs: 60_000 }),
      ...[name.A, name.B].map((t) => kcat(gh.bootstrap, ['-C', '-t', t, '-o', 'beginning', '-e', '-q', '-X', 'check.crcs=true', '-X', 'isolation.level=read_committed'])),
    ]);
    // The console consumer exits 0 even when it stops on a corrupt batch ("Record is corrupt (stored crc = …)").
    expect(java.code, java.stderr).toBe(0);
    expect(java.stderr, java.stderr).not.toMatch(/crc|corrupt|ERROR/i);
    expect(printed(java.stdout).sort()).toEqual(expected);
    for (const r of librdkafka) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr, r.stderr).not.toMatch(/crc|corrupt|ERROR/i); // "failed CRC32C check"; kcat exits 1 too
    }
    expect(librdkafka.flatMap((r) => printed(r.stdout)).sort()).toEqual(expected);
    expect(stage.rewritten).toBeGreaterThan(before); // Java's Fetch (topic IDs) and kcat's (names) went through the stage
  });
});
