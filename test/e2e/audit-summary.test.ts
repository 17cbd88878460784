/**
 * Audit flooding, end to end: with audit.unauthenticated.inFullPerAddress N = 3, seven failed
 * logins from one address (SASL/PLAIN, a wrong secret for a service account and a name that is
 * none) leave three sessions recorded in full and one sessions.summary event counting the other
 * four (connections, requests, failed logins by reason and by claimed name); a client that then
 * logs in from the same address is recorded in full all the same; `gatehouse audit verify`
 * finds the chain whole.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { AuditEvent, SessionsSummaryData } from '../../src/audit/events.js';
import type { SessionSummary } from '../../src/cli/audit.js';
import { hashSecret } from '../../src/identity/service-accounts.js';
import { createTopics, gatehouse, uniqueName, waitFor } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';

const { Kafka, logLevel } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');
const SECRET = 'summary-e2e-secret';
const N = 3;
const K = 4;

describe('audit: unauthenticated sessions past the rate are summarised', () => {
  let gh: TestProxy | undefined;
  let dir: string;
  const instance = uniqueName('gh-summary').replace(/[^A-Za-z0-9._-]/g, '-');
  const auditTopic = uniqueName('audit-summary');
  const topic = uniqueName('audit-summary-data');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-audit-summary-'));
    gh = await startProxy(kafkaBootstrap, {
      identity: { serviceAccounts: [{ name: 'billing', secretHash: await hashSecret(SECRET) }], mechanisms: ['PLAIN'] },
      audit: {
        topic: auditTopic,
        instanceId: instance,
        spool: { dir: join(dir, 'spool') },
        createTopic: { partitions: 2, replicationFactor: 1 },
        unauthenticated: { inFullPerAddress: N, windowMs: 600_000 },
      },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${N}+${K} failed logins from one address: ${N} sessions in full, one summary counting ${K}; a login after them in full; the chain verifies`, async () => {
    const proxy = gh!;
    const closed = () => proxy.logs.filter((l) => l.msg === 'connection closed').length;
    for (let i = 0; i < N + K; i++) {
      const before = closed();
      const c = await RawClient.open(proxy.bootstrap);
      const res = await c.plain(i % 2 === 0 ? 'billing' : 'nobody', 'guess');
      expect(res.errorCode).not.toBe(0);
      c.close();
      // One at a time, so that the first N to end are the first N that came.
      await waitFor('the proxy to close the connection', () => closed() > before, { timeoutMs: 20_000 });
    }

    // A client that logs in from the same address, after the rate was used up.
    const kafka = new Kafka({ clientId: 'summary-e2e', brokers: [proxy.bootstrap], logLevel: logLevel.NOTHING, sasl: { mechanism: 'plain', username: 'billing', password: SECRET } });
    const admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'logged in' }] });
    await producer.disconnect();
    // Stopping the proxy closes every session, writes the window's summaries and flushes the trail.
    await proxy.stop();
    gh = undefined;

    const configFile = join(dir, 'gatehouse.yaml');
    writeFileSync(configFile, [`upstream: { bootstrap: ["${kafkaBootstrap}"] }`, `audit: { topic: ${auditTopic} }`, ''].join('\n'));

    const listed = await gatehouse(['audit', 'sessions', '--config', configFile, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as SessionSummary);
    const failed = rows.filter((r) => r.outcome === 'auth-failed');
    expect(failed).toHaveLength(N);
    for (const r of failed) expect(r).toMatchObject({ principal: null, authFailures: 1, requests: 2, closeReason: expect.any(String) });
    const address = failed[0]!.client!.slice(0, failed[0]!.client!.lastIndexOf(':'));
    const loggedIn = rows.filter((r) => r.principal === 'billing');
    expect(loggedIn.length).toBeGreaterThanOrEqual(1);
    expect(loggedIn.every((r) => r.outcome === 'ok' && r.client?.startsWith(address))).toBe(true);
    expect(loggedIn.some((r) => r.topics.includes(topic))).toBe(true);
    expect(rows).toHaveLength(N + loggedIn.length); // the other failed sessions are not sessions of their own
    expect(listed.stderr).toContain(`${K} unauthenticated connection(s) from ${address} counted in summaries`);

    const replay = await gatehouse(['audit', 'replay', `summary/${instance}/${address}`, '--config', configFile, '--json']);
    expect(replay.code, replay.stderr).toBe(0);
    const summaries = replay.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent<SessionsSummaryData>);
    expect(summaries).toHaveLength(1);
    const d = summaries[0]!.data;
    expect(summaries[0]!.type).toBe('dev.gatehouse.audit.sessions.summary.v1');
    expect(d).toMatchObject({ address, recordedInFull: N, connections: K, requests: 2 * K, failedLogins: { count: K } });
    expect(Object.values(d.failedLogins.byReason).reduce((a, b) => a + b, 0)).toBe(K);
    const claimed = Array.from({ length: N + K }, (_, i) => (i % 2 === 0 ? 'billing' : 'nobody')).slice(N);
    expect(d.failedLogins.byClaimedPrincipal).toEqual({ billing: claimed.filter((n) => n === 'billing').length, nobody: claimed.filter((n) => n === 'nobody').length });
    expect(d.bytesIn).toBeGreaterThan(0);

    const verify = await gatehouse(['audit', 'verify', '--config', configFile, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout) as { ok: boolean; events: number; instances: Record<string, { first: number; last: number; events: number }> };
    expect(report.ok).toBe(true);
    const chain = report.instances[instance]!;
    expect(chain.first).toBe(0);
    expect(chain.events).toBe(chain.last + 1);
  });
});
