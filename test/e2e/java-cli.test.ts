/**
 * Kafka's own command-line tools (the same jars as the broker), pointed only at the proxy:
 * topics (create, list, describe, add partitions, delete), the console producer and consumer,
 * consumer-groups (list, describe, reset offsets) and kafka-configs (topic and broker).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kafkaMajor, runTool, type KafkaTool, type ToolResult } from '../../src/kafka/index.js';
import { createTopics, kafkaClient, portOf, uniqueName, waitFor } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');
const brokerPort = portOf(kafkaBootstrap);
// The console consumer's formatter options: --property until 3.x, --formatter-property from 4.0.
const formatterProperty = kafkaMajor(inject('kafkaVersion')) >= 4 ? '--formatter-property' : '--property';

/**
 * Rows of a whitespace-aligned table (consumer-groups output) as objects keyed by the header.
 * Read as a stream of cells, since Kafka 3.9's reset-offsets prints its first row on the header's
 * line; every cell is one word (empty ones are printed as "-").
 */
function table(text: string, firstColumn: string): Array<Record<string, string>> {
  const at = text.search(new RegExp(`^\\s*${firstColumn}\\s`, 'm'));
  if (at < 0) throw new Error(`no table starting with ${firstColumn} in:\n${text}`);
  const lines = text.slice(at).trimStart().split('\n');
  const first = lines[0]!.trim().split(/\s+/);
  const n = first.findIndex((w) => !/^[A-Z][A-Z#-]*$/.test(w));
  const header = n < 0 ? first : first.slice(0, n);
  const cells = [first.slice(header.length), ...lines.slice(1).map((l) => l.trim().split(/\s+/))].flat().filter(Boolean);
  if (cells.length % header.length !== 0) throw new Error(`${cells.length} cells for ${header.length} columns in:\n${text}`);
  const rows: Array<Record<string, string>> = [];
  for (let i = 0; i < cells.length; i += header.length) rows.push(Object.fromEntries(header.map((h, j) => [h, cells[i + j]!])));
  return rows;
}

describe('Kafka CLI tools through the proxy', () => {
  let gh: TestProxy;
  let bootstrap: string;
  /** Runs a tool against the proxy; fails the test on a non-zero exit. */
  const tool = async (name: KafkaTool, args: string[], input?: string): Promise<ToolResult> => {
    const r = await runTool(classpath, name, ['--bootstrap-server', bootstrap, ...args], input === undefined ? {} : { input });
    expect(r.code, `${name} ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap);
    bootstrap = gh.bootstrap;
  });
  afterAll(async () => {
    await gh?.stop();
  });

  it('topics: create, list, describe, add partitions, delete', async () => {
    const topic = uniqueName('cli-topic');
    const created = await tool('topics', ['--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1', '--config', 'retention.ms=123456']);
    expect(created.stdout).toContain(`Created topic ${topic}.`);

    const listed = await tool('topics', ['--list']);
    expect(listed.stdout.split('\n')).toContain(topic);

    const described = await tool('topics', ['--describe', '--topic', topic]);
    expect(described.stdout).toMatch(/PartitionCount:\s*1\b/);
    expect(described.stdout).toContain('retention.ms=123456');
    expect(described.stdout).toMatch(/Partition: 0\s+Leader: 1\s/);

    await tool('topics', ['--alter', '--topic', topic, '--partitions', '3']);
    const altered = await tool('topics', ['--describe', '--topic', topic]);
    expect(altered.stdout).toMatch(/PartitionCount:\s*3\b/);
    for (const p of [0, 1, 2]) expect(altered.stdout).toMatch(new RegExp(`Partition: ${p}\\s+Leader: 1\\s`));

    await tool('topics', ['--delete', '--topic', topic]);
    // Deletion is asynchronous in the broker; the proxy-side view must catch up.
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      await waitFor('the topic to be gone', async () => !(await admin.listTopics()).includes(topic));
    } finally {
      await admin.disconnect();
    }
    const after = await tool('topics', ['--list']);
    expect(after.stdout.split('\n')).not.toContain(topic);
  });

  it('console producer and consumer, then consumer-groups list, describe and reset-offsets', async () => {
    const topic = uniqueName('cli-console');
    const group = uniqueName('cli-group');
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 2 }]);

      const lines = Array.from({ length: 50 }, (_, i) => `key-${i % 5}:line ${i} — ünïcödé ✓`);
      await tool('console-producer', ['--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=:'], lines.join('\n') + '\n');
      const consumed = await tool('console-consumer', [
        '--topic', topic, '--group', group, '--from-beginning', '--max-messages', '50', '--timeout-ms', '60000',
        formatterProperty, 'print.key=true', formatterProperty, 'key.separator=:',
      ]);
      expect(consumed.stdout.split('\n').filter(Boolean).sort()).toEqual([...lines].sort());
      expect(consumed.stderr).toContain('Processed a total of 50 messages');

      // The console consumer has left: the group is inactive, with its offsets at the end.
      const [listed, described, state] = await Promise.all([
        tool('consumer-groups', ['--list']),
        tool('consumer-groups', ['--describe', '--group', group]),
        tool('consumer-groups', ['--describe', '--group', group, '--state']),
      ]);
      expect(listed.stdout.split('\n').map((l) => l.trim())).toContain(group);
      const before = table(described.stdout, 'GROUP');
      expect(before.map((r) => r.PARTITION).sort()).toEqual(['0', '1']);
      for (const r of before) {
        expect(r.TOPIC).toBe(topic);
        expect(r['CURRENT-OFFSET']).toBe(r['LOG-END-OFFSET']);
        expect(r.LAG).toBe('0');
      }
      expect(before.reduce((n, r) => n + Number(r['LOG-END-OFFSET']), 0)).toBe(50);
      // The coordinator the tool was told about is the proxy's listener for node 1.
      const coordinator = /(\S+):(\d+)\s+\(1\)/.exec(state.stdout);
      expect(coordinator, state.stdout).not.toBeNull();
      expect(coordinator![1]).toBe('127.0.0.1');
      expect(Number(coordinator![2])).not.toBe(brokerPort);
      expect(state.stdout).toMatch(/\bEmpty\b/);

      const reset = await tool('consumer-groups', ['--reset-offsets', '--to-earliest', '--execute', '--group', group, '--topic', topic]);
      const resetRows = table(reset.stdout, 'GROUP');
      expect(resetRows.map((r) => [r.PARTITION, r['NEW-OFFSET']]).sort()).toEqual([['0', '0'], ['1', '0']]);

      const after = table((await tool('consumer-groups', ['--describe', '--group', group])).stdout, 'GROUP');
      for (const r of after) {
        expect(r['CURRENT-OFFSET']).toBe('0');
        expect(r.LAG).toBe(r['LOG-END-OFFSET']);
      }
      // The committed offsets as another client sees them, through the proxy too.
      const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      expect(offsets!.partitions.map((p) => p.offset)).toEqual(['0', '0']);
    } finally {
      await admin.disconnect();
    }
  });

  it('kafka-configs: alter and describe a topic, describe the broker', async () => {
    const topic = uniqueName('cli-configs');
    await tool('topics', ['--create', '--topic', topic, '--partitions', '1']);
    await tool('configs', ['--alter', '--entity-type', 'topics', '--entity-name', topic, '--add-config', 'retention.ms=654321,cleanup.policy=compact']);
    const [topicConfigs, brokerConfigs] = await Promise.all([
      tool('configs', ['--describe', '--entity-type', 'topics', '--entity-name', topic]),
      tool('configs', ['--describe', '--entity-type', 'brokers', '--entity-name', '1', '--all']),
    ]);
    expect(topicConfigs.stdout).toContain(`Dynamic configs for topic ${topic} are:`);
    expect(topicConfigs.stdout).toContain('retention.ms=654321');
    expect(topicConfigs.stdout).toContain('cleanup.policy=compact');
    expect(brokerConfigs.stdout).toContain('All configs for broker 1 are:');
    expect(brokerConfigs.stdout).toMatch(/^\s+num\.partitions=1 /m);
    expect(brokerConfigs.stdout).toMatch(/^\s+node\.id=1 /m);
    // The broker's own listener addresses are shown as the proxy's listener for broker 1.
    const brokerOne = await gh.proxy.brokerAddress(1);
    // (The test broker also has a SASL listener: every address in the list is the proxy's.)
    expect(brokerConfigs.stdout).toMatch(new RegExp(`^\\s+advertised\\.listeners=PLAINTEXT://${brokerOne.replace(/\./g, '\\.')}[ ,]`, 'm'));
    expect(brokerConfigs.stdout).not.toContain(`:${brokerPort}`);
  });
});
