/**
 * Principals of several identity sources through the proxy: two real OpenID providers (corp and
 * partner) and a local service account, each able to vouch for a principal "alice". The policy
 * pins a role to corp's alice (`corp:alice`) and an admin role to corp's groups (`issuers:
 * [corp]`). With kafkajs clients, corp's alice writes her topic; partner's alice and the service
 * account alice are refused it (TOPIC_AUTHORIZATION_FAILED), though their names are "alice" and
 * they claim the admins' group; and the audit trail records each as `source:alice`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import kafkajs, { type SASLOptions } from 'kafkajs';
import { hashSecret } from '../../src/identity/index.js';
import { createTopics, gatehouse, kafkaClient, uniqueName } from '../helpers/e2e.js';
import { errorOf } from '../helpers/kafka-errors.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const { Kafka, logLevel } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');
const SECRET = 'alice-service-secret-9c1e';

describe('identity: principals of several sources', () => {
  let corp: TestOidc;
  let partner: TestOidc;
  let gh: TestProxy;
  let dir: string;
  const prefix = uniqueName('sources');
  const aliceTopic = `${prefix}-alice`;
  const adminTopic = `${prefix}-admin`;
  const auditTopic = `${prefix}-audit`;

  beforeAll(async () => {
    [corp, partner] = await Promise.all([startOidc({ audience: 'gatehouse' }), startOidc({ audience: 'gatehouse' })]);
    dir = mkdtempSync(join(tmpdir(), 'gh-sources-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      [
        'roles:',
        '  alice:',
        '    members: { principals: ["corp:alice"] }',
        '    rules:',
        `      - { resource: topic, name: "${aliceTopic}", operations: [Write] }`,
        '  corp-admins:',
        '    members: { issuers: [corp], groups: [platform-admins] }',
        '    rules:',
        `      - { resource: topic, name: "${adminTopic}", operations: [Write] }`,
        '',
      ].join('\n'),
    );
    const secretHash = await hashSecret(SECRET, { N: 1024, r: 8, p: 1 });
    gh = await startProxy(kafkaBootstrap, {
      identity: {
        issuers: [
          { issuer: corp.issuer, name: 'corp', audience: corp.audience },
          { issuer: partner.issuer, name: 'partner', audience: partner.audience },
        ],
        serviceAccounts: [{ name: 'alice', secretHash, groups: ['platform-admins'] }],
      },
      policy: { file: policyFile, watch: false },
      audit: { topic: auditTopic, spool: { dir: join(dir, 'spool') } },
    });
    const admin = kafkaClient(kafkaBootstrap, 'sources-setup').admin();
    await admin.connect();
    await createTopics(admin, [{ topic: aliceTopic, numPartitions: 1 }, { topic: adminTopic, numPartitions: 1 }]);
    await admin.disconnect();
  }, 60_000);
  afterAll(async () => {
    await gh?.stop();
    await Promise.all([corp?.stop(), partner?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const bearer = (oidc: TestOidc, sub: string, groups: string[]): SASLOptions => ({
    mechanism: 'oauthbearer',
    oauthBearerProvider: async () => ({ value: await oidc.sign({ sub, client_id: sub, groups }) }),
  });
  /** What producing one record to `topic` as `sasl` ends in: undefined when it landed, else the Kafka error. */
  const produce = async (sasl: SASLOptions, topic: string): Promise<string | undefined> => {
    const producer = new Kafka({ clientId: 'sources-e2e', brokers: [gh.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 100 }, sasl }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      return await errorOf(producer.send({ topic, messages: [{ value: 'x' }] }));
    } finally {
      await producer.disconnect();
    }
  };
  const localAlice: SASLOptions = { mechanism: 'plain', username: 'alice', password: SECRET };

  it("a role for corp's alice is not partner's alice's, nor the service account alice's", async () => {
    expect(await produce(bearer(corp, 'alice', []), aliceTopic)).toBeUndefined();
    expect(await produce(bearer(partner, 'alice', []), aliceTopic)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produce(localAlice, aliceTopic)).toBe('TOPIC_AUTHORIZATION_FAILED');
    const authenticated = gh.logs.filter((l) => l.msg === 'client authenticated').map((l) => `${String(l.principal)} ${String(l.issuer)}`);
    expect(authenticated).toEqual(expect.arrayContaining([`corp:alice ${corp.issuer}`, `partner:alice ${partner.issuer}`, 'local:alice local']));
    const denied = gh.logs.filter((l) => l.msg === 'request denied' && String(l.denied).includes(`topic:${aliceTopic}`)).map((l) => l.principal);
    expect(denied).toEqual(expect.arrayContaining(['partner:alice', 'local:alice']));
    expect(denied).not.toContain('corp:alice');
  });

  it("a role pinned to corp binds corp's admins only: the same group from partner or a service account does not", async () => {
    expect(await produce(bearer(corp, 'root', ['platform-admins']), adminTopic)).toBeUndefined();
    expect(await produce(bearer(partner, 'root', ['platform-admins']), adminTopic)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produce(localAlice, adminTopic)).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('the audit trail records each principal as source:name', async () => {
    await gh.stop();
    const configFile = join(dir, 'gatehouse.yaml');
    writeFileSync(configFile, [`upstream: { bootstrap: ["${kafkaBootstrap}"] }`, `audit: { topic: ${auditTopic} }`, ''].join('\n'));
    const outcomes: Record<string, string[]> = {};
    for (const principal of ['corp:alice', 'partner:alice', 'local:alice', 'alice']) {
      const r = await gatehouse(['audit', 'sessions', '--config', configFile, '--json', '--principal', principal]);
      expect(r.code, r.stderr).toBe(0);
      const sessions = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { principal: string; outcome: string });
      expect(sessions.every((s) => s.principal === principal)).toBe(true);
      outcomes[principal] = [...new Set(sessions.map((s) => s.outcome))].sort();
    }
    expect(outcomes['corp:alice']).toEqual(['ok']);
    expect(outcomes['partner:alice']).toContain('denied');
    expect(outcomes['local:alice']).toContain('denied');
    expect(outcomes.alice).toEqual([]);
  });
});
