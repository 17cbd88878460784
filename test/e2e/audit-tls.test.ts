/**
 * The audit trail on a TLS-only cluster: a dedicated broker whose client listener is SASL_SSL
 * (certificates from a throwaway CA, SCRAM-SHA-512 as the proxy's own account). The proxy reaches
 * it with upstream.tls and upstream.sasl; its audit producer uses the same settings, so a
 * client's session reaches the audit topic, and `gatehouse audit sessions` and `verify` read it
 * back over TLS with the same config file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import kafkajs from 'kafkajs';
import { startBroker, type Broker } from '../../src/kafka/index.js';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/sandbox/certs.js';
import type { SessionSummary } from '../../src/cli/audit.js';
import { gatehouse, uniqueName } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const { Kafka, logLevel } = kafkajs;
const kafkaVersion = inject('kafkaVersion');
const USER = 'gatehouse-audit';
const PASSWORD = 'audit-over-tls-secret';

describe('audit trail on a SASL_SSL cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-audit-tls-'));
  let ca: CertificateAuthority;
  let broker: Broker;
  let gh: TestProxy | undefined;
  const auditTopic = uniqueName('audit-tls');
  const topic = uniqueName('audit-tls-data');
  const upstream = () => ({
    tls: { caFile: ca.certFile, servername: 'localhost' },
    sasl: { mechanism: 'SCRAM-SHA-512' as const, username: USER, password: PASSWORD },
  });

  beforeAll(async () => {
    ca = await createCertificateAuthority(join(dir, 'ca'));
    const server = await ca.issue({ name: 'broker', subject: '/CN=localhost', dns: ['localhost'], ips: ['127.0.0.1'] });
    const keystore = join(dir, 'broker-keystore.pem');
    writeFileSync(keystore, readFileSync(server.keyFile, 'utf8') + readFileSync(server.certFile, 'utf8'));
    broker = await startBroker({
      version: kafkaVersion,
      listeners: [{
        name: 'SASL_SSL',
        securityProtocol: 'SASL_SSL',
        props: {
          'ssl.keystore.type': 'PEM',
          'ssl.keystore.location': keystore,
          'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
          'scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
        },
      }],
      formatArgs: ['--add-scram', `SCRAM-SHA-512=[name=${USER},password=${PASSWORD}]`],
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('events reach the audit topic over TLS, and gatehouse audit sessions and verify read them back', async () => {
    gh = await startProxy(broker.endpoints.SASL_SSL!, {
      upstream: upstream(),
      audit: { topic: auditTopic, spool: { dir: join(dir, 'spool') }, createTopic: { partitions: 1, replicationFactor: 1 }, retryMaxMs: 500 },
    });
    const kafka = new Kafka({ clientId: 'audit-tls-e2e', brokers: [gh.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'over tls' }] });
    await producer.disconnect();
    // Stopping the proxy closes the sessions and flushes the audit trail.
    await gh.stop();
    gh = undefined;

    const configFile = join(dir, 'gatehouse.yaml');
    const u = upstream();
    writeFileSync(configFile, [
      'upstream:',
      `  bootstrap: ["${broker.endpoints.SASL_SSL!}"]`,
      `  tls: { caFile: "${u.tls.caFile}", servername: ${u.tls.servername} }`,
      `  sasl: { mechanism: ${u.sasl.mechanism}, username: ${u.sasl.username}, password: ${u.sasl.password} }`,
      `audit: { topic: ${auditTopic} }`,
      '',
    ].join('\n'));

    const sessions = await gatehouse(['audit', 'sessions', '--config', configFile, '--json', '--topic', topic]);
    expect(sessions.code, sessions.stderr).toBe(0);
    const rows = sessions.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as SessionSummary);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.every((r) => r.outcome === 'ok' && r.closedAt !== null)).toBe(true);

    const verify = await gatehouse(['audit', 'verify', '--config', configFile, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout) as { ok: boolean; events: number; instances: Record<string, { first: number; last: number; events: number }> };
    expect(report.ok).toBe(true);
    const [chain] = Object.values(report.instances);
    expect(chain!.first).toBe(0);
    expect(chain!.events).toBe(chain!.last + 1); // every event of the run, none left in the spool
  });
});
