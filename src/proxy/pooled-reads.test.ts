/**
 * Client requests read into pooled buffers, end to end through a real broker: requests are
 * forwarded from the buffers they were read into (and as their chunks when they span reads),
 * so a buffer reused too early would corrupt what the broker stores. A stage holds some
 * Produce requests back while the producer keeps sending, which keeps many reads in flight at
 * once; the broker checks every batch's CRC and a consumer compares every record.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { createTopics, kafkaClient, uniqueName, waitFor } from '../../test/helpers/e2e.js';
import { startProxy, type TestProxy } from '../../test/helpers/proxy.js';
import type { Exchange } from './exchange.js';
import type { InterceptedRequest, Stage } from '../stage/stage.js';

const kafkaBootstrap = inject('kafkaBootstrap');

/** Delays every third Produce request and notes how each one's bytes were held. */
class HoldBack implements Stage {
  readonly name = 'hold-back';
  readonly interest = { requests: new Set<number>([ApiKey.Produce]) };
  seen = 0;
  borrowed = 0;
  spanningReads = 0;
  async onRequest(req: InterceptedRequest): Promise<void> {
    const ex = req as Exchange; // the proxy's own request object: how its bytes are held
    if (ex.borrowed) this.borrowed++;
    if (Array.isArray(ex.wire)) this.spanningReads++;
    if (this.seen++ % 3 === 0) await new Promise((r) => setTimeout(r, 15));
  }
}

describe('pooled client reads', () => {
  let gh: TestProxy;
  const stage = new HoldBack();
  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap, {}, { stages: [stage] });
  });
  afterAll(async () => {
    await gh?.stop();
  });

  it('forwards requests intact from reused buffers, while a stage holds some back', async () => {
    const topic = uniqueName('pooled');
    const kafka = kafkaClient(gh.bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 3 }]);
    await admin.disconnect();

    // 40 sends of 25 records of 1-12 KiB each, 8 at a time: requests of up to ~300 KiB that
    // arrive over several reads, pipelined on one connection.
    const sent = new Map<string, string>();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 8 }, (_, s) => {
          const messages = Array.from({ length: 25 }, (_, i) => {
            const key = `${round}-${s}-${i}`;
            const value = randomBytes(1024 + ((round * 131 + s * 17 + i * 29) % 11) * 1024);
            sent.set(key, createHash('sha256').update(value).digest('hex'));
            return { key, value };
          });
          return producer.send({ topic, acks: -1, messages });
        }),
      );
    }
    await producer.disconnect();

    const got = new Map<string, string>();
    const consumer = kafka.consumer({ groupId: uniqueName('pooled-g'), maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void got.set(message.key!.toString(), createHash('sha256').update(message.value!).digest('hex')),
    });
    await waitFor('every record back', () => got.size >= sent.size, { timeoutMs: 60_000 });
    await consumer.disconnect();

    expect(got).toEqual(sent);
    // The paths under test were taken: requests read into pooled buffers, some over several reads.
    expect(stage.seen).toBeGreaterThanOrEqual(40);
    expect(stage.borrowed).toBe(stage.seen);
    expect(stage.spanningReads).toBeGreaterThan(0);
  });
});
