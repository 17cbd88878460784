/**
 * kafkajs through the proxy: a producer, a two-member consumer group with a rebalance,
 * transactions (read_committed vs read_uncommitted) and an idempotent producer whose sequence
 * numbers the broker itself reports (Kafka's transactions tool, also through the proxy).
 */
import type { Consumer, IHeaders } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { runTool } from '../../src/kafka/index.js';
import { createTopics, kafkaClient, uniqueName, waitFor } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');

interface Seen {
  member: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string;
  headers: IHeaders;
}

/** Starts `consumer` on `topic` from the beginning, pushing every record into `seen`. */
async function consumeInto(consumer: Consumer, topic: string, member: string, seen: Seen[]): Promise<void> {
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push({
        member,
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? '',
        headers: message.headers ?? {},
      });
    },
  });
}

describe('kafkajs through the proxy', () => {
  let gh: TestProxy;
  const consumers: Consumer[] = [];
  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap);
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.disconnect().catch(() => undefined)));
  });
  afterAll(async () => {
    await gh?.stop();
  });

  async function createTopic(topic: string, numPartitions: number): Promise<void> {
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    try {
      expect(await createTopics(admin, [{ topic, numPartitions }])).toBe(true);
    } finally {
      await admin.disconnect();
    }
  }

  function consumer(groupId: string, extra: Record<string, unknown> = {}): Consumer {
    const c = kafkaClient(gh.bootstrap).consumer({ groupId, heartbeatInterval: 300, sessionTimeout: 10_000, rebalanceTimeout: 10_000, maxWaitTimeInMs: 200, ...extra });
    consumers.push(c);
    return c;
  }

  it('producer: keys, values and headers arrive as sent, in the partitions asked for', async () => {
    const topic = uniqueName('kjs-produce');
    await createTopic(topic, 3);
    const producer = kafkaClient(gh.bootstrap).producer();
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, i) => ({ partition: i % 3, key: `k${i}`, value: `v${i}`, headers: { n: String(i), kind: 'e2e' } }));
    try {
      const meta = await producer.send({ topic, acks: -1, messages: sent.slice(0, 15) });
      expect(meta.map((m) => m.partition).sort()).toEqual([0, 1, 2]);
      for (const m of meta) expect(m.errorCode).toBe(0);
      await producer.sendBatch({ topicMessages: [{ topic, messages: sent.slice(15) }] });
    } finally {
      await producer.disconnect();
    }

    const seen: Seen[] = [];
    await consumeInto(consumer(uniqueName('kjs-produce-g')), topic, 'only', seen);
    await waitFor('30 records', () => seen.length >= 30);
    const got = seen.map((s) => ({ partition: s.partition, key: s.key, value: s.value, n: s.headers.n?.toString(), kind: s.headers.kind?.toString() }));
    const want = sent.map((s) => ({ partition: s.partition, key: s.key, value: s.value, n: s.headers.n, kind: 'e2e' }));
    const byValue = (a: { value: string }, b: { value: string }) => a.value.localeCompare(b.value);
    expect(got.sort(byValue)).toEqual(want.sort(byValue));
  });

  it('consumer group: a second member joins, the partitions are split, every record is consumed exactly once', async () => {
    const topic = uniqueName('kjs-group');
    const groupId = uniqueName('kjs-group-g');
    await createTopic(topic, 4);
    const producer = kafkaClient(gh.bootstrap).producer();
    await producer.connect();
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    try {
      const batch = (from: number) => Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, value: `r${from + i}` }));
      const seen: Seen[] = [];
      const assignments: Record<string, number[][]> = { A: [], B: [] };
      const track = (c: Consumer, member: string) =>
        c.on(c.events.GROUP_JOIN, (e) => assignments[member]!.push([...(e.payload.memberAssignment[topic] ?? [])].sort()));

      // Member A alone: it gets all four partitions and consumes the first batch.
      const a = consumer(groupId);
      track(a, 'A');
      await consumeInto(a, topic, 'A', seen);
      await waitFor('A to join', () => assignments.A!.length > 0);
      expect(assignments.A!.at(-1)).toEqual([0, 1, 2, 3]);
      await producer.send({ topic, messages: batch(0) });
      await waitFor('A to consume the first batch', () => seen.length >= 40);
      // Let A's commits land before B arrives, so the rebalance hands over committed positions.
      await waitFor('A to commit all of the first batch', async () => {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return offsets!.partitions.every((p) => p.offset === '10');
      });

      // Member B joins: a rebalance splits the partitions between the two.
      const b = consumer(groupId);
      track(b, 'B');
      await consumeInto(b, topic, 'B', seen);
      const [ofA, ofB] = await waitFor('the rebalance to split the partitions', () => {
        const lastA = assignments.A!.at(-1)!;
        const lastB = assignments.B!.at(-1);
        return lastB && lastA.length === 2 && lastB.length === 2 ? [lastA, lastB] : undefined;
      });
      expect([...ofA!, ...ofB!].sort()).toEqual([0, 1, 2, 3]);
      const described = await admin.describeGroups([groupId]);
      expect(described.groups[0]!.members).toHaveLength(2);
      expect(described.groups[0]!.state).toBe('Stable');

      await producer.send({ topic, messages: batch(40) });
      await waitFor('both batches to be consumed', () => seen.length >= 80);

      // Exactly once across the members: each value once, nothing else.
      const values = seen.map((s) => s.value).sort();
      expect(values).toEqual(Array.from({ length: 80 }, (_, i) => `r${i}`).sort());
      // The second batch went to whichever member owned each partition after the rebalance.
      const second = seen.filter((s) => Number(s.value.slice(1)) >= 40);
      for (const s of second) expect(s.member === 'A' ? ofA : ofB).toContain(s.partition);
      expect(second.filter((s) => s.member === 'A')).toHaveLength(20);
      expect(second.filter((s) => s.member === 'B')).toHaveLength(20);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('transactions: committed records reach a read_committed consumer, aborted ones do not', async () => {
    const topic = uniqueName('kjs-txn');
    await createTopic(topic, 1);
    const producer = kafkaClient(gh.bootstrap).producer({ transactionalId: uniqueName('kjs-txn-id'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const values = (prefix: string, from: number, n: number) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}-${from + i}` }));
    try {
      const t1 = await producer.transaction();
      await t1.send({ topic, messages: values('committed', 0, 5) });
      await t1.commit();
      const t2 = await producer.transaction();
      await t2.send({ topic, messages: values('aborted', 0, 5) });
      await t2.abort();
      const t3 = await producer.transaction();
      await t3.send({ topic, messages: values('committed', 5, 5) });
      await t3.commit();
    } finally {
      await producer.disconnect();
    }
    const committed = values('committed', 0, 10).map((v) => v.value);

    const readCommitted: Seen[] = [];
    await consumeInto(consumer(uniqueName('kjs-txn-rc')), topic, 'rc', readCommitted);
    await waitFor('the committed records', () => readCommitted.some((s) => s.value === 'committed-9'));
    // The aborted records lie before committed-5..9 in the log, so by now they were skipped.
    expect(readCommitted.map((s) => s.value)).toEqual(committed);

    // They are in the log all the same: a read_uncommitted consumer sees them.
    const readUncommitted: Seen[] = [];
    await consumeInto(consumer(uniqueName('kjs-txn-ru'), { readUncommitted: true }), topic, 'ru', readUncommitted);
    await waitFor('every record', () => readUncommitted.some((s) => s.value === 'committed-9'));
    expect(readUncommitted.map((s) => s.value)).toEqual([...committed.slice(0, 5), ...values('aborted', 0, 5).map((v) => v.value), ...committed.slice(5)]);
  });

  it('idempotent producer: records arrive once, in order, with the sequence numbers the broker tracked', async () => {
    const topic = uniqueName('kjs-idem');
    await createTopic(topic, 1);
    const producer = kafkaClient(gh.bootstrap).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let round = 0; round < 3; round++) {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: 100 }, (_, i) => ({ value: `idem-${round * 100 + i}` })) });
      }
    } finally {
      await producer.disconnect();
    }

    const seen: Seen[] = [];
    await consumeInto(consumer(uniqueName('kjs-idem-g')), topic, 'only', seen);
    await waitFor('300 records', () => seen.length >= 300);
    expect(seen.map((s) => s.value)).toEqual(Array.from({ length: 300 }, (_, i) => `idem-${i}`));
    expect(seen.map((s) => s.offset)).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));

    // The broker's view (DescribeProducers, asked through the proxy): one producer id, whose
    // last sequence number is that of the 300th record.
    const described = await runTool(classpath, 'transactions', ['--bootstrap-server', gh.bootstrap, 'describe-producers', '--topic', topic, '--partition', '0']);
    expect(described.code, described.stderr).toBe(0);
    const rows = described.stdout.trim().split('\n');
    const header = rows[0]!.trim().split(/\s+/);
    expect(rows).toHaveLength(2);
    const row = Object.fromEntries(rows[1]!.trim().split(/\s+/).map((v, i) => [header[i], v]));
    expect(Number(row.ProducerId)).toBeGreaterThanOrEqual(0);
    expect(row.LastSequence).toBe('299');
  });
});
