/**
 * Gatehouse's codecs and record-batch transform against batches real clients write, for each of
 * gzip, snappy, lz4 and zstd:
 *  - Kafka's Java console producer, kcat (librdkafka) and kafkajs (its missing codecs registered
 *    from Gatehouse's) write to a source topic on the broker;
 *  - a bare Fetch reads the batches as stored; every one decodes with Gatehouse's codecs;
 *  - the transform changes one value per producer, re-encoding with the batch's own codec, and
 *    bare Produce requests write every batch to a target topic (the broker checks each CRC and
 *    decompresses each batch to validate it);
 *  - Java's console consumer with check.crcs=true reads the target topics and prints the changed
 *    values, and so does kcat; and Java reads the source topics through a proxy whose stage
 *    rewrites Fetch responses with the same transform.
 */
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic } from '../../protocol/generated/fetch-request.js';
import type { FetchResponse } from '../../protocol/generated/fetch-response.js';
import { defaultPartitionProduceData, defaultProduceRequest, defaultTopicProduceData } from '../../protocol/generated/produce-request.js';
import type { ProduceResponse } from '../../protocol/generated/produce-response.js';
import { isXerial } from '../../protocol/runtime/codecs/xerial.js';
import { batches, Compression, verifyCrc, type KafkaRecord, type RecordBatchView } from '../../protocol/runtime/record-batch.js';
import { readRecords, transformBatch, transformRecords, type RecordsEdit } from '../../protocol/runtime/record-transform.js';
import { runTool } from '../../src/kafka/index.js';
import { isResponse, type InterceptedResponse, type Stage } from '../../src/stage/stage.js';
import { createTopics, kafkaClient, kcat, uniqueName } from '../helpers/e2e.js';
import { registerKafkajsCodecs } from '../helpers/kafkajs-codecs.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';

const { CompressionTypes } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');

const CODECS = [
  { name: 'gzip', code: Compression.Gzip, kafkajs: CompressionTypes.GZIP },
  { name: 'snappy', code: Compression.Snappy, kafkajs: CompressionTypes.Snappy },
  { name: 'lz4', code: Compression.Lz4, kafkajs: CompressionTypes.LZ4 },
  { name: 'zstd', code: Compression.Zstd, kafkajs: CompressionTypes.ZSTD },
] as const;
const PRODUCERS = ['java', 'kcat', 'kafkajs'] as const;
const N = 40;

const value = (codec: string, producer: string, i: number): string => `rc ${codec} ${producer} ${i} ${'lorem ipsum dolor sit amet '.repeat(1 + (i % 5))}`;
const CHANGED = 7;
const changed = (codec: string, producer: string): string => `rc ${codec} ${producer} ${CHANGED} changed by the transform`;
const REWRITTEN = 11;
const rewritten = (codec: string, producer: string): string => `rc ${codec} ${producer} ${REWRITTEN} rewritten in a Fetch response`;

/** Replaces the value of record number `n` (as the value says), leaving batches without it alone. */
function replaceValue(n: number, to: (codec: string, producer: string) => string): RecordsEdit {
  return (records: KafkaRecord[]) => {
    const hit = records.find((r) => r.value?.toString().split(' ')[3] === String(n));
    if (!hit) return undefined;
    const [, codec, producer] = hit.value!.toString().split(' ');
    hit.value = Buffer.from(to(codec!, producer!));
    return records;
  };
}

/** Every batch of partition 0 of `topic`, as the broker stores them, read with bare Fetch requests. */
async function fetchAll(client: RawClient, topic: string): Promise<RecordBatchView[]> {
  const out: RecordBatchView[] = [];
  let offset = 0n;
  for (;;) {
    const res = await client.request<FetchResponse>(ApiKey.Fetch, 12, {
      ...defaultFetchRequest(),
      maxWaitMs: 100,
      minBytes: 1,
      topics: [{ ...defaultFetchTopic(), topic, partitions: [{ ...defaultFetchPartition(), fetchOffset: offset, partitionMaxBytes: 8 << 20 }] }],
    });
    const p = res.responses[0]!.partitions[0]!;
    expect(p.errorCode).toBe(0);
    for (const b of batches(Buffer.from(p.records ?? Buffer.alloc(0)))) {
      out.push(b);
      offset = b.baseOffset + BigInt(b.lastOffsetDelta) + 1n;
    }
    if (offset >= p.highWatermark) return out;
  }
}

/** Writes one batch in a bare Produce request (v9), as a producer would: base offset 0. */
async function produceBatch(client: RawClient, topic: string, batch: Buffer): Promise<void> {
  const records = Buffer.from(batch);
  records.writeBigInt64BE(0n, 0); // not covered by the CRC; the broker assigns offsets
  const res = await client.request<ProduceResponse>(ApiKey.Produce, 9, {
    ...defaultProduceRequest(),
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ ...defaultTopicProduceData(), name: topic, partitionData: [{ ...defaultPartitionProduceData(), index: 0, records }] }],
  });
  const p = res.responses[0]!.partitionResponses[0]!;
  expect({ errorCode: p.errorCode, errorMessage: p.errorMessage }).toEqual({ errorCode: 0, errorMessage: null });
}

/** Rewrites the records of every Fetch response partition with `edit` (what a masking stage does). */
class FetchRewriter implements Stage {
  readonly name = 'e2e-fetch-rewriter';
  readonly interest = { responses: new Set<number>([ApiKey.Fetch]) };
  rewritten = 0;

  constructor(private readonly edit: RecordsEdit) {}

  async onResponse(res: InterceptedResponse): Promise<void> {
    if (!isResponse(res, ApiKey.Fetch)) return;
    const body = res.body();
    let modified = false;
    for (const t of body.responses) {
      for (const p of t.partitions) {
        if (!p.records) continue;
        const records = await transformRecords(p.records, this.edit);
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

/** Lines Java's console consumer printed that are record values (it may print notes too). */
const values = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('rc '));

describe('record batches from Java, librdkafka and kafkajs: decoded, changed, re-encoded, read back by Java', () => {
  const prefix = uniqueName('codecs');
  const source = (codec: string): string => `${prefix}-src-${codec}`;
  const target = (codec: string): string => `${prefix}-dst-${codec}`;
  const all = CODECS.flatMap(({ name }) => PRODUCERS.flatMap((p) => Array.from({ length: N }, (_, i) => ({ codec: name, producer: p, i }))));
  let raw: RawClient;

  beforeAll(async () => {
    registerKafkajsCodecs();
    raw = await RawClient.open(kafkaBootstrap);
    const admin = kafkaClient(kafkaBootstrap).admin();
    await admin.connect();
    try {
      // compression.type=producer (the default, made explicit): the broker keeps each batch's codec and bytes.
      const config = [{ name: 'compression.type', value: 'producer' }];
      await createTopics(admin, CODECS.flatMap(({ name }) => [source(name), target(name)].map((topic) => ({ topic, numPartitions: 1, configEntries: config }))));
    } finally {
      await admin.disconnect();
    }
  });
  afterAll(() => raw?.close());

  it.concurrent.each(CODECS)('$name: each client’s batches decode, and re-encoded with one value changed, the broker takes them', async ({ name, code, kafkajs: kafkajsType }) => {
    const lines = (producer: string) => Array.from({ length: N }, (_, i) => `k${i}:${value(name, producer, i)}`);
    const producer = kafkaClient(kafkaBootstrap).producer();
    await producer.connect();
    const [java, librdkafka] = await Promise.all([
      runTool(classpath, 'console-producer', ['--bootstrap-server', kafkaBootstrap, '--topic', source(name), '--compression-codec', name, '--property', 'parse.key=true', '--property', 'key.separator=:'], {
        input: lines('java').join('\n') + '\n',
      }),
      kcat(kafkaBootstrap, ['-P', '-t', source(name), '-z', name, '-K:', '-H', 'via=kcat', '-X', 'linger.ms=1000' /* one batch: librdkafka sends a batch that would not shrink uncompressed */], { input: lines('kcat').join('\n') + '\n' }),
      producer
        .send({ topic: source(name), compression: kafkajsType, messages: lines('kafkajs').map((l) => ({ key: l.slice(0, l.indexOf(':')), value: l.slice(l.indexOf(':') + 1), headers: { via: 'kafkajs' } })) })
        .finally(() => producer.disconnect()),
    ]);
    expect(java.code, java.stderr).toBe(0);
    expect(librdkafka.code, librdkafka.stderr).toBe(0);

    // As stored: every batch of this codec, each client's records exactly as written.
    const stored = await fetchAll(raw, source(name));
    expect(new Set(stored.map((b) => b.compression))).toEqual(new Set([code]));
    const decoded = (await Promise.all(stored.map(readRecords))).flat();
    const seen = decoded.map((r) => `${r.key}:${r.value}${r.headers.map((h) => ` [${h.key}=${h.value}]`).join('')}`);
    const expected = PRODUCERS.flatMap((p) => lines(p).map((l) => (p === 'java' ? l : `${l} [via=${p}]`)));
    expect(seen.sort()).toEqual(expected.sort());
    if (code === Compression.Snappy) {
      // Java's producer (and kafkajs, with Gatehouse's codec) frame snappy; librdkafka writes it raw.
      expect(new Set(stored.map((b) => isXerial(b.recordsData)))).toEqual(new Set([true, false]));
    }

    // One value per producer changed, re-encoded with the same codec; the other batches untouched.
    const out = await Promise.all(stored.map((b) => transformBatch(b, replaceValue(CHANGED, changed))));
    expect(out.filter((bytes, i) => bytes !== stored[i]!.bytes)).toHaveLength(PRODUCERS.length);
    for (const bytes of out) {
      const [again] = [...batches(bytes)];
      expect(again!.compression).toBe(code);
      verifyCrc(again!);
    }
    for (const bytes of out) await produceBatch(raw, target(name), bytes);
  });

  it('Java (check.crcs=true) and kcat read the re-encoded batches: the changed values, the rest as written', async () => {
    const expected = all.map(({ codec, producer, i }) => (i === CHANGED ? changed(codec, producer) : value(codec, producer, i))).sort();
    const [java, ...librdkafka] = await Promise.all([
      runTool(classpath, 'console-consumer', [
        '--bootstrap-server', kafkaBootstrap, '--include', `${prefix}-dst-.*`, '--from-beginning',
        '--max-messages', String(all.length), '--timeout-ms', '30000', '--consumer-property', 'check.crcs=true',
      ]),
      ...CODECS.map(({ name }) => kcat(kafkaBootstrap, ['-C', '-t', target(name), '-o', 'beginning', '-e', '-q', '-X', 'check.crcs=true'])),
    ]);
    expect(java.code, java.stderr).toBe(0);
    expect(values(java.stdout).sort()).toEqual(expected);
    for (const r of librdkafka) expect(r.code, r.stderr).toBe(0);
    expect(librdkafka.flatMap((r) => values(r.stdout)).sort()).toEqual(expected);
  });

  it('Java (check.crcs=true) reads the source topics through a proxy stage that rewrites Fetch responses', async () => {
    const rewriter = new FetchRewriter(replaceValue(REWRITTEN, rewritten));
    let gh: TestProxy | undefined;
    try {
      gh = await startProxy(kafkaBootstrap, {}, { stages: [rewriter] });
      const java = await runTool(classpath, 'console-consumer', [
        '--bootstrap-server', gh.bootstrap, '--include', `${prefix}-src-.*`, '--from-beginning',
        '--max-messages', String(all.length), '--timeout-ms', '30000', '--consumer-property', 'check.crcs=true',
      ]);
      expect(java.code, java.stderr).toBe(0);
      expect(values(java.stdout).sort()).toEqual(all.map(({ codec, producer, i }) => (i === REWRITTEN ? rewritten(codec, producer) : value(codec, producer, i))).sort());
      expect(rewriter.rewritten).toBeGreaterThan(0);
    } finally {
      await gh?.stop();
    }
  });
});
