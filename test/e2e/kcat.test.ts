/**
 * kcat (librdkafka) through the proxy: metadata names only proxy addresses, and 10,000 keyed
 * records go in and come back out exactly, with a plain consumer and with a consumer group.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTopics, kafkaClient, kcat, kcatBrokers, portOf, uniqueName } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const brokerPort = portOf(kafkaBootstrap);

/** The port the proxy listens on for node `nodeId`, from its "listening" log line. */
function brokerListenerPort(gh: TestProxy, nodeId: number): number {
  const line = gh.logs.find((l) => l.msg === 'listening' && l.listener === `broker-${nodeId}`);
  if (!line) throw new Error(`the proxy logged no listener for broker ${nodeId}`);
  return line.port as number;
}

describe('kcat through the proxy', () => {
  let gh: TestProxy;
  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap);
  });
  afterAll(async () => {
    await gh?.stop();
  });

  it('-L lists only proxy addresses, never the broker', async () => {
    const topic = uniqueName('kcat-meta');
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 2 }]);
    } finally {
      await admin.disconnect();
    }
    const proxyBrokerPort = brokerListenerPort(gh, 1);
    expect(proxyBrokerPort).not.toBe(brokerPort);

    for (const args of [['-L'], ['-L', '-t', topic]]) {
      const md = await kcat(gh.bootstrap, [...args, '-m', '15']);
      expect(md.code, md.stderr).toBe(0);
      expect(md.stdout).toContain(`(from broker -1: ${gh.bootstrap}/bootstrap)`);
      const brokers = kcatBrokers(md.stdout);
      expect(brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: proxyBrokerPort }]);
      expect(md.stdout + md.stderr).not.toMatch(new RegExp(`:${brokerPort}\\b`));
    }
    const md = await kcat(gh.bootstrap, ['-L', '-t', topic, '-m', '15']);
    expect(md.stdout).toMatch(new RegExp(`topic "${topic}" with 2 partitions`));
    expect(md.stdout).toMatch(/partition 0, leader 1,/);
    expect(md.stdout).toMatch(/partition 1, leader 1,/);
  });

  it('produces 10,000 keyed records and consumes exactly them back', async () => {
    const topic = uniqueName('kcat-10k');
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 3 }]);
    } finally {
      await admin.disconnect();
    }

    const N = 10_000;
    const records = Array.from({ length: N }, (_, i) => `key-${i % 97}:value-${i}-${'abcdefghij'.repeat(i % 7)}`);
    // Idempotent, so each partition keeps the order the records were sent in.
    const produced = await kcat(gh.bootstrap, ['-P', '-t', topic, '-K:', '-X', 'enable.idempotence=true'], { input: records.join('\n') + '\n' });
    expect(produced.code, produced.stderr).toBe(0);

    const expected = records.map((r) => r.replace(':', '=')).sort();
    const consumed = await kcat(gh.bootstrap, ['-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p|%o|%k=%s\\n']);
    expect(consumed.code, consumed.stderr).toBe(0);
    const lines = consumed.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(N);
    expect(lines.map((l) => l.split('|')[2]!).sort()).toEqual(expected);

    // Per partition: offsets 0..n-1 in order, and records in the order they were produced.
    const byPartition = new Map<string, Array<{ offset: number; seq: number }>>();
    for (const l of lines) {
      const [p, o, kv] = l.split('|');
      const seq = Number(/value-(\d+)-/.exec(kv!)![1]);
      if (!byPartition.has(p!)) byPartition.set(p!, []);
      byPartition.get(p!)!.push({ offset: Number(o), seq });
    }
    expect([...byPartition.keys()].sort()).toEqual(['0', '1', '2']);
    for (const recs of byPartition.values()) {
      expect(recs.map((r) => r.offset)).toEqual(recs.map((_, i) => i));
      expect(recs.map((r) => r.seq)).toEqual([...recs.map((r) => r.seq)].sort((a, b) => a - b));
    }

    // The same records through librdkafka's consumer group (FindCoordinator, JoinGroup, SyncGroup…).
    const group = uniqueName('kcat-group');
    const grouped = await kcat(gh.bootstrap, ['-G', group, '-o', 'beginning', '-e', '-q', '-f', '%k=%s\\n', topic]);
    expect(grouped.code, grouped.stderr).toBe(0);
    expect(grouped.stdout.split('\n').filter(Boolean).sort()).toEqual(expected);
  });
});
