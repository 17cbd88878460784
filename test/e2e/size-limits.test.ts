/**
 * Records near the size limit: a ~1.9 MiB record (topic max.message.bytes 2 MiB) round trips
 * through a proxy whose limits.maxFrameBytes is 3 MiB, from kcat and from the Java console
 * producer; a produce request over 3 MiB costs only the connection that sent it
 * (GH_FRAME_TOO_LARGE) while a kafkajs producer and consumer on the same proxy carry on.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runTool } from '../../src/kafka/index.js';
import { createTopics, kafkaClient, kcat, uniqueName, waitFor, warnLines } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');

const MiB = 1024 * 1024;
const MAX_FRAME = 3 * MiB;

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
/** A line of `bytes` printable characters (no newline), random so no codec could shrink it. */
const bigLine = (bytes: number) => randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64').slice(0, bytes);

describe('size limits', () => {
  let gh: TestProxy;
  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap, { limits: { maxFrameBytes: MAX_FRAME } });
  });
  afterAll(async () => {
    await gh?.stop();
  });

  async function createTopic(topic: string, configEntries: Array<{ name: string; value: string }> = []): Promise<void> {
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 1, configEntries }]);
    } finally {
      await admin.disconnect();
    }
  }

  it('a ~1.9 MiB record round trips through a proxy limited to 3 MiB frames', async () => {
    const topic = uniqueName('big');
    await createTopic(topic, [{ name: 'max.message.bytes', value: String(2 * MiB) }]);
    const fromKcat = bigLine(Math.floor(1.9 * MiB));
    const fromJava = bigLine(Math.floor(1.9 * MiB));

    const k = await kcat(gh.bootstrap, ['-P', '-t', topic, '-X', `message.max.bytes=${Math.floor(2.5 * MiB)}`], { input: fromKcat + '\n' });
    expect(k.code, k.stderr).toBe(0);
    const j = await runTool(classpath, 'console-producer', [
      '--bootstrap-server', gh.bootstrap, '--topic', topic, '--producer-property', `max.request.size=${Math.floor(2.5 * MiB)}`,
    ], { input: fromJava + '\n' });
    expect(j.code, j.stderr).toBe(0);

    const consumed = await kcat(gh.bootstrap, ['-C', '-t', topic, '-o', 'beginning', '-e', '-q']);
    expect(consumed.code, consumed.stderr).toBe(0);
    const lines = consumed.stdout.split('\n').slice(0, -1);
    expect(lines.map((l) => l.length)).toEqual([fromKcat.length, fromJava.length]);
    expect(lines.map(sha)).toEqual([sha(fromKcat), sha(fromJava)]);
    expect(gh.proxy.stats.closedByCode.GH_FRAME_TOO_LARGE ?? 0).toBe(0);
  });

  it('a produce request over the limit closes only that connection (GH_FRAME_TOO_LARGE)', async () => {
    const topic = uniqueName('too-big');
    await createTopic(topic, [{ name: 'max.message.bytes', value: String(8 * MiB) }]);

    // Bystanders: a kafkajs consumer and producer with connections open through the same proxy.
    const producer = kafkaClient(gh.bootstrap).producer();
    const consumer: Consumer = kafkaClient(gh.bootstrap).consumer({ groupId: uniqueName('too-big-g'), maxWaitTimeInMs: 200 });
    const seen: string[] = [];
    await producer.connect();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value?.toString() ?? '') });
      await producer.send({ topic, messages: [{ value: 'before' }] });
      await waitFor('the first small record', () => seen.includes('before'));
      const closedBefore = { ...gh.proxy.stats.closedByCode };
      expect(closedBefore.GH_FRAME_TOO_LARGE ?? 0).toBe(0);

      // kcat lets the request through on its side (message.max.bytes 5 MB); the proxy refuses it.
      const tooBig = bigLine(Math.floor(3.5 * MiB));
      const k = await kcat(gh.bootstrap, ['-P', '-t', topic, '-X', 'message.max.bytes=5000000', '-X', 'message.timeout.ms=3000'], { input: tooBig + '\n' });
      expect(k.code).not.toBe(0);
      expect(k.stderr).toMatch(/Delivery failed|Message timed out/);

      const refused = gh.proxy.stats.closedByCode.GH_FRAME_TOO_LARGE ?? 0;
      expect(refused).toBeGreaterThanOrEqual(1);
      const warned = warnLines(gh.logs, 'GH_FRAME_TOO_LARGE');
      expect(warned).toHaveLength(refused);
      for (const w of warned) expect(w.reason).toMatch(new RegExp(`^client request: frame of \\d+ bytes exceeds the limit of ${MAX_FRAME}$`));

      // The bystanders' connections were not touched, and they go on working.
      await producer.send({ topic, messages: [{ value: 'after' }] });
      await waitFor('the record sent after the refusal', () => seen.includes('after'));
      expect(seen).toEqual(['before', 'after']);
      const closedAfter = gh.proxy.stats.closedByCode;
      for (const [code, n] of Object.entries(closedAfter)) {
        if (code === 'GH_FRAME_TOO_LARGE' || code === 'GH_CLIENT_CLOSED') continue; // kcat's own connections
        expect(n, code).toBe(closedBefore[code] ?? 0);
      }
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });
});
