/**
 * Compressed record batches cross the proxy untouched: for each of gzip, snappy, lz4 and zstd,
 * Kafka's Java console producer and kcat (librdkafka) write compressed batches through the
 * proxy, and kcat and the Java console consumer read them back through the proxy. A passive
 * stage checks that the batches really were compressed with that codec on both legs, with valid
 * CRCs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Compression } from '../../protocol/runtime/record-batch.js';
import { runTool } from '../../src/kafka/index.js';
import { createTopics, kafkaClient, kcat, uniqueName } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { CompressionRecorder } from '../helpers/recorders.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');

const CODECS = [
  { name: 'gzip', code: Compression.Gzip },
  { name: 'snappy', code: Compression.Snappy },
  { name: 'lz4', code: Compression.Lz4 },
  { name: 'zstd', code: Compression.Zstd },
] as const;

/** Compressible lines, unique per codec and producer. */
const linesFor = (codec: string, producer: string): string[] =>
  Array.from({ length: 300 }, (_, i) => `${codec} ${producer} ${i} ${'the quick brown fox jumps over the lazy dog '.repeat(1 + (i % 4))}`);

describe('compression codecs through the proxy', () => {
  const prefix = uniqueName('compress');
  const proxies = new Map<string, { gh: TestProxy; recorder: CompressionRecorder }>();

  beforeAll(async () => {
    for (const { name } of CODECS) {
      const recorder = new CompressionRecorder();
      proxies.set(name, { gh: await startProxy(kafkaBootstrap, {}, { stages: [recorder] }), recorder });
    }
    const admin = kafkaClient(proxies.get('gzip')!.gh.bootstrap).admin();
    await admin.connect();
    try {
      // compression.type=producer (the default, made explicit): the broker keeps the producer's codec.
      const topics = CODECS.map(({ name }) => ({ topic: `${prefix}-${name}`, numPartitions: 1, configEntries: [{ name: 'compression.type', value: 'producer' }] }));
      await createTopics(admin, topics);
    } finally {
      await admin.disconnect();
    }
  });
  afterAll(async () => {
    await Promise.all([...proxies.values()].map(({ gh }) => gh.stop()));
  });

  it.concurrent.each(CODECS)('$name: Java console producer and kcat -z write, kcat reads back exactly', async ({ name, code }) => {
    const { gh, recorder } = proxies.get(name)!;
    const topic = `${prefix}-${name}`;
    const fromJava = linesFor(name, 'java');
    const fromKcat = linesFor(name, 'kcat');

    const java = await runTool(classpath, 'console-producer', ['--bootstrap-server', gh.bootstrap, '--topic', topic, '--compression-codec', name], {
      input: fromJava.join('\n') + '\n',
    });
    expect(java.code, java.stderr).toBe(0);
    const librdkafka = await kcat(gh.bootstrap, ['-P', '-t', topic, '-z', name], { input: fromKcat.join('\n') + '\n' });
    expect(librdkafka.code, librdkafka.stderr).toBe(0);

    const consumed = await kcat(gh.bootstrap, ['-C', '-t', topic, '-o', 'beginning', '-e', '-q']);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.split('\n').slice(0, -1)).toEqual([...fromJava, ...fromKcat]);

    // What crossed the proxy: only batches of this codec, both ways, every CRC valid.
    expect([...recorder.produced.keys()]).toEqual([code]);
    expect([...recorder.fetched.keys()]).toEqual([code]);
    expect(recorder.crcErrors).toBe(0);
  });

  it('the Java console consumer decodes all four codecs through the proxy', async () => {
    const recorder = new CompressionRecorder();
    const gh = await startProxy(kafkaBootstrap, {}, { stages: [recorder] });
    try {
      const expected = CODECS.flatMap(({ name }) => [...linesFor(name, 'java'), ...linesFor(name, 'kcat')]);
      const consumed = await runTool(classpath, 'console-consumer', [
        '--bootstrap-server', gh.bootstrap, '--include', `${prefix}-.*`, '--from-beginning',
        '--max-messages', String(expected.length), '--timeout-ms', '60000',
      ]);
      expect(consumed.code, consumed.stderr).toBe(0);
      expect(consumed.stdout.split('\n').slice(0, -1).sort()).toEqual(expected.sort());
      expect([...recorder.fetched.keys()].sort()).toEqual(CODECS.map((c) => c.code).sort());
      expect(recorder.crcErrors).toBe(0);
    } finally {
      await gh.stop();
    }
  });
});
