/**
 * Audit with the policy stage in front (kafkajs with OIDC tokens): the recorded resources and
 * decision are the policy's (deciding rule included), a denied mutation and a mutation of a
 * critical topic raise alerts, and authentication failures from one address raise one too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { AuditEvent, RequestData } from '../../src/audit/events.js';
import { createTopics, gatehouse, uniqueName, waitFor } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const { Kafka, logLevel } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');


describe('audit with the policy stage', () => {
  let oidc: TestOidc;
  let gh: TestProxy;
  let dir: string;
  const prefix = uniqueName('ap');
  const auditTopic = `${prefix}-audit`;

  beforeAll(async () => {
    oidc = await startOidc();
    dir = mkdtempSync(join(tmpdir(), 'gh-audit-policy-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, ['roles:', '  payments:', '    members: { groups: [payments-team] }', '    rules:', `      - { resource: topic, name: "${prefix}-pay*", operations: [All] }`, ''].join('\n'));
    gh = await startProxy(kafkaBootstrap, {
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      policy: { file: policyFile, watch: false },
      audit: {
        topic: auditTopic,
        spool: { dir: join(dir, 'spool') },
        alerts: { authFailures: { threshold: 3, windowMs: 60_000, by: ['address'] }, criticalTopics: [`${prefix}-pay-ledger`] },
      },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('records the policy decision and raises the alerts', async () => {
    const kafka = new Kafka({
      clientId: 'audit-policy',
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await oidc.token('payments-app') }) },
    });
    const admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [{ topic: `${prefix}-pay-ledger` }]);
    await expect(admin.createTopics({ topics: [{ topic: `${prefix}-other` }] })).rejects.toThrow();
    await admin.disconnect();

    // Three connections with a bad token from 127.0.0.1.
    for (let i = 0; i < 3; i++) {
      const bad = new Kafka({ clientId: 'bad', brokers: [gh.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: 'not-a-token' }) } });
      const a = bad.admin();
      await a.connect().catch(() => undefined);
      await a.disconnect().catch(() => undefined);
    }

    const alerts = await waitFor('three alerts', () => {
      const a = gh.logs.filter((l) => l.code === 'GH_AUDIT_ALERT');
      return ['denied-mutation', 'critical-topic', 'auth-failures'].every((r) => a.some((l) => l.rule === r)) && a;
    });
    expect(alerts.find((a) => a.rule === 'critical-topic')!.msg).toContain(`${prefix}-pay-ledger`);
    expect(alerts.find((a) => a.rule === 'auth-failures')!.msg).toContain('127.0.0.1');

    // The denied CreateTopics, as recorded: the policy's check, rule and error.
    const session = alerts.find((a) => a.rule === 'denied-mutation')!.session as string;
    await gh.stop();
    const configFile = join(dir, 'gatehouse.yaml');
    writeFileSync(configFile, [`upstream: { bootstrap: ["${kafkaBootstrap}"] }`, `audit: { topic: ${auditTopic} }`, ''].join('\n'));
    const replay = await gatehouse(['audit', 'replay', session, '--config', configFile, '--json']);
    expect(replay.code, replay.stderr).toBe(0);
    const events = replay.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
    const denied = events.map((e) => e.data as RequestData).find((d) => d.api === 'CreateTopics' && d.decision.outcome === 'deny')!;
    expect(denied.principal).toBe('payments-app');
    expect(denied.decision.rule).toBeTruthy();
    expect(denied.resources).toContainEqual(expect.objectContaining({ type: 'topic', name: `${prefix}-other`, operation: 'Create', allowed: false }));
    expect(denied.errorCodes).toContain(29); // TOPIC_AUTHORIZATION_FAILED
    expect(denied.synthetic).toBe(true);
    const allowed = events.map((e) => e.data as RequestData).find((d) => d.api === 'CreateTopics' && d.decision.outcome === 'allow')!;
    expect(allowed.decision.rule).toMatch(/^payments\/0$/);

    const deniedSessions = await gatehouse(['audit', 'sessions', '--config', configFile, '--json', '--outcome', 'denied']);
    expect(deniedSessions.stdout).toContain(session);
    const failed = await gatehouse(['audit', 'sessions', '--config', configFile, '--json', '--outcome', 'auth-failed']);
    expect(failed.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(3);
  });
});
