/**
 * No client ever reaches the broker directly. A broker of this file's own, with JMX on a free
 * loopback port, serves kcat, Kafka's Java tools and kafkajs through the proxy only. Then:
 *  - the broker's own count of accepted connections on its client listener
 *    (kafka.server:type=socket-server-metrics,listener=PLAINTEXT,networkProcessor=*
 *    connection-creation-total, read with Kafka's JmxTool) grew by exactly the number of
 *    connections the proxy opened upstream (its own discovery included);
 *  - a passive stage saw every Metadata, FindCoordinator, DescribeCluster and DescribeQuorum
 *    response the clients received, and none carried the broker's or the controller's real port.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePorts, runTool, startBroker, type Broker } from '../../src/kafka/index.js';
import { kafkaClient, kcat, kcatBrokers, uniqueName, waitFor } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { AddressRecorder } from '../helpers/recorders.js';

const version = inject('kafkaVersion');

/** Sum of connection-creation-total over the PLAINTEXT listener's network processors. */
async function acceptedConnections(broker: Broker, jmxPort: number): Promise<number> {
  const r = await runTool(broker.classpath, 'org.apache.kafka.tools.JmxTool', [
    '--jmx-url', `service:jmx:rmi:///jndi/rmi://127.0.0.1:${jmxPort}/jmxrmi`,
    '--object-name', 'kafka.server:type=socket-server-metrics,listener=PLAINTEXT,networkProcessor=*',
    '--attributes', 'connection-creation-total',
    '--report-format', 'properties',
    '--one-time', 'true',
  ]);
  expect(r.code, r.stderr).toBe(0);
  const values = [...r.stdout.matchAll(/listener=PLAINTEXT,networkProcessor=\d+:connection-creation-total=([\d.]+)/g)].map((m) => Number(m[1]));
  expect(values.length, `JmxTool output:\n${r.stdout}`).toBeGreaterThan(0);
  return values.reduce((a, b) => a + b, 0);
}

describe('no client connects to the broker directly', () => {
  let broker: Broker;
  let jmxPort: number;
  let gh: TestProxy;
  let recorder: AddressRecorder;
  /** Same stage, told to look for the proxy's own broker port: shows the check is not vacuous. */
  let canary: AddressRecorder;
  const canaryPorts: number[] = [];
  let baseline: number;

  beforeAll(async () => {
    [jmxPort] = (await freePorts(1)) as [number];
    broker = await startBroker({
      version,
      jvmProps: {
        'com.sun.management.jmxremote': 'true',
        'com.sun.management.jmxremote.port': String(jmxPort),
        'com.sun.management.jmxremote.rmi.port': String(jmxPort),
        'com.sun.management.jmxremote.host': '127.0.0.1',
        'com.sun.management.jmxremote.authenticate': 'false',
        'com.sun.management.jmxremote.ssl': 'false',
        'com.sun.management.jmxremote.local.only': 'false',
        'java.rmi.server.hostname': '127.0.0.1',
      },
    });
    // startBroker's own readiness probe connected once; count from here.
    baseline = await acceptedConnections(broker, jmxPort);
    recorder = new AddressRecorder([broker.port, broker.controllerPort]);
    canary = new AddressRecorder(canaryPorts);
    gh = await startProxy(broker.bootstrap, {}, { stages: [recorder, canary] });
    canaryPorts.push(gh.logs.find((l) => l.msg === 'listening' && l.listener === 'broker-1')!.port as number);
  });
  afterAll(async () => {
    await gh?.stop();
    await broker?.stop();
  });

  it('kcat, the Java tools and kafkajs all go through the proxy, and only the proxy reaches the broker', async () => {
    const topic = uniqueName('direct');
    const brokerPort = String(broker.port);
    const outputs: string[] = [];
    const ok = <T extends { code: number | null; stdout: string; stderr: string }>(what: string, r: T): T => {
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    // kcat: metadata, produce, consume, consume in a group.
    const md = ok('kcat -L', await kcat(gh.bootstrap, ['-L']));
    expect(kcatBrokers(md.stdout).map((b) => b.port)).not.toContain(broker.port);
    ok('kcat -P', await kcat(gh.bootstrap, ['-P', '-t', topic], { input: Array.from({ length: 100 }, (_, i) => `kcat-${i}`).join('\n') + '\n' }));
    ok('kcat -C', await kcat(gh.bootstrap, ['-C', '-t', topic, '-o', 'beginning', '-e', '-q']));
    ok('kcat -G', await kcat(gh.bootstrap, ['-G', uniqueName('direct-kcat-g'), '-o', 'beginning', '-e', '-q', topic]));

    // Kafka's Java tools: console producer and consumer (with a group), the cluster tool.
    ok('console-producer', await runTool(broker.classpath, 'console-producer', ['--bootstrap-server', gh.bootstrap, '--topic', topic], { input: 'java-1\njava-2\n' }));
    const consumed = ok('console-consumer', await runTool(broker.classpath, 'console-consumer', [
      '--bootstrap-server', gh.bootstrap, '--topic', topic, '--group', uniqueName('direct-java-g'), '--from-beginning', '--max-messages', '102', '--timeout-ms', '60000',
    ]));
    expect(consumed.stdout.split('\n').filter(Boolean)).toHaveLength(102);
    ok('cluster-id', await runTool(broker.classpath, 'cluster', ['cluster-id', '--bootstrap-server', gh.bootstrap]));
    // The quorum tool: state and replication work, and no controller address is shown.
    const quorum = ok('metadata-quorum', await runTool(broker.classpath, 'metadata-quorum', ['--bootstrap-server', gh.bootstrap, 'describe', '--status']));
    expect(quorum.stdout).toMatch(/LeaderId:\s+1/);
    ok('metadata-quorum --replication', await runTool(broker.classpath, 'metadata-quorum', ['--bootstrap-server', gh.bootstrap, 'describe', '--replication']));

    // kafkajs: admin, producer, consumer group.
    const kafka = kafkaClient(gh.bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.disconnect();
    expect(cluster.brokers.map((b) => b.port)).not.toContain(broker.port);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'kafkajs-1' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: uniqueName('direct-kjs-g'), maxWaitTimeInMs: 200 });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await waitFor('kafkajs to consume everything', () => seen.length >= 103);
    await consumer.disconnect();

    // Nothing any client printed names the broker's or the controller's real port.
    for (const text of outputs) expect(text).not.toMatch(new RegExp(`:(${brokerPort}|${broker.controllerPort})\\b`));

    // Every address-bearing response the clients got named the proxy, never the broker.
    expect(recorder.leaks).toEqual([]);
    expect(recorder.responses.Metadata).toBeGreaterThan(0);
    expect(recorder.responses.FindCoordinator).toBeGreaterThan(0);
    expect(recorder.responses.DescribeCluster).toBeGreaterThan(0);
    expect(recorder.responses.DescribeQuorum).toBeGreaterThan(0);
    const proxyPorts = new Set(recorder.addresses.map((a) => `${a.host}:${a.port}`));
    const brokerListener = gh.logs.find((l) => l.msg === 'listening' && l.listener === 'broker-1')!.port as number;
    expect([...proxyPorts]).toEqual([`127.0.0.1:${brokerListener}`]);
    // (every Metadata response names the broker, so the canary flags at least each of those)
    expect(canary.leaks.length).toBeGreaterThanOrEqual(recorder.responses.Metadata!);

    // The broker's own count of client connections: exactly the proxy's upstream connections.
    await waitFor('every client to leave the proxy', () => gh.proxy.connectionCount === 0);
    const accepted = (await acceptedConnections(broker, jmxPort)) - baseline;
    expect(gh.proxy.stats.upstreamConnections).toBeGreaterThan(10);
    expect(accepted).toBe(gh.proxy.stats.upstreamConnections);
    expect(gh.proxy.stats.upstreamConnections).toBe(gh.proxy.stats.clientConnections + 1); // + the proxy's discovery
  });
});
