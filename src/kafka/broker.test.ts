import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import kafkajs from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { BrokerStartError, canConnect, startBroker } from './broker.js';
import { runTool } from './tools.js';

const { Kafka, logLevel } = kafkajs;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the shared test broker (test/global-setup.ts)', () => {
  const bootstrap = inject('kafkaBootstrap');
  const classpath = inject('kafkaClasspath');
  const version = inject('kafkaVersion');

  it('is the configured version on a loopback port', () => {
    expect(version).toBe(process.env.GATEHOUSE_KAFKA_VERSION || '4.3.1');
    expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('creates and lists a topic with the topics tool', async () => {
    const topic = `topics-tool-${Date.now()}`;
    const created = await runTool(classpath, 'topics', ['--bootstrap-server', bootstrap, '--create', '--topic', topic, '--partitions', '2']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain(`Created topic ${topic}`);
    const listed = await runTool(classpath, 'topics', ['--bootstrap-server', bootstrap, '--list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split('\n')).toContain(topic);
    const described = await runTool(classpath, 'topics', ['--bootstrap-server', bootstrap, '--describe', '--topic', topic]);
    expect(described.stdout).toMatch(/PartitionCount:\s*2/);
  });

  it('round-trips three lines through the console producer and consumer', async () => {
    const topic = `console-${Date.now()}`;
    const lines = ['first line', 'second line', 'third line'];
    const produced = await runTool(classpath, 'console-producer', ['--bootstrap-server', bootstrap, '--topic', topic], {
      input: lines.join('\n') + '\n',
    });
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await runTool(classpath, 'console-consumer', [
      '--bootstrap-server', bootstrap, '--topic', topic, '--from-beginning', '--max-messages', '3', '--timeout-ms', '60000',
    ]);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.trim().split('\n')).toEqual(lines);
    expect(consumed.stderr).toContain('Processed a total of 3 messages');
  });

  it('serves kafkajs: admin lists the topics the CLI created', async () => {
    const topic = `kafkajs-${Date.now()}`;
    const created = await runTool(classpath, 'topics', ['--bootstrap-server', bootstrap, '--create', '--topic', topic]);
    expect(created.code, created.stderr).toBe(0);
    const admin = new Kafka({ clientId: 'gatehouse-test', brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toContain(topic);
      const cluster = await admin.describeCluster();
      expect(cluster.brokers).toEqual([expect.objectContaining({ nodeId: 1, host: '127.0.0.1', port: Number(bootstrap.split(':')[1]) })]);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('startBroker', () => {
  it('starts Kafka 3.9.1 with an extra SASL/PLAIN listener, and stop() leaves nothing behind', async () => {
    const broker = await startBroker({
      version: '3.9.1',
      listeners: [{
        name: 'SASL',
        securityProtocol: 'SASL_PLAINTEXT',
        props: {
          'sasl.enabled.mechanisms': 'PLAIN',
          'plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_svc="s3cret";',
        },
      }],
    });
    let stopped = false;
    try {
      expect(broker.version).toBe('3.9.1');
      expect(broker.bootstrap).toBe(`127.0.0.1:${broker.port}`);
      expect(broker.endpoints.PLAINTEXT).toBe(broker.bootstrap);
      expect(broker.endpoints.SASL).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(new Set([broker.port, broker.controllerPort, Number(broker.endpoints.SASL!.split(':')[1])]).size).toBe(3);
      expect(pidAlive(broker.pid)).toBe(true);
      expect(existsSync(broker.dataDir)).toBe(true);

      const topics = await runTool(broker.classpath, 'topics', ['--bootstrap-server', broker.bootstrap, '--create', '--topic', 'compat']);
      expect(topics.code, topics.stderr).toBe(0);

      const sasl = (password: string) =>
        new Kafka({
          clientId: 'gatehouse-test',
          brokers: [broker.endpoints.SASL!],
          sasl: { mechanism: 'plain', username: 'svc', password },
          logLevel: logLevel.NOTHING,
          retry: { retries: 0 },
        }).admin();
      const good = sasl('s3cret');
      await good.connect();
      try {
        expect(await good.listTopics()).toContain('compat');
      } finally {
        await good.disconnect();
      }
      const bad = sasl('wrong');
      await expect(bad.connect()).rejects.toThrow(/SASL PLAIN authentication failed|Authentication failed/i);
      await bad.disconnect();

      await broker.stop();
      stopped = true;
      expect(pidAlive(broker.pid)).toBe(false);
      expect(await canConnect(broker.port)).toBe(false);
      expect(await canConnect(broker.controllerPort)).toBe(false);
      expect(existsSync(broker.workDir)).toBe(false);
      await broker.stop(); // idempotent
    } finally {
      if (!stopped) await broker.stop();
    }
  });

  it('fails with the broker log when Kafka cannot start, leaving no JVM', async () => {
    // Occupy the port an extra listener must bind, so the broker dies at startup.
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const err = await startBroker({ listeners: [{ name: 'TAKEN', securityProtocol: 'PLAINTEXT', port: taken }] }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(BrokerStartError);
      if (!(err instanceof BrokerStartError)) return;
      expect(err.message).toMatch(/exited \(code \d+\) before it was ready/);
      expect(err.message).toContain('--- last lines of server.log ---');
      expect(err.message).toMatch(/Address already in use|Socket server failed to bind/);
      expect(err.pid).toBeGreaterThan(0);
      expect(pidAlive(err.pid!)).toBe(false);
      expect(existsSync(err.workDir)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
