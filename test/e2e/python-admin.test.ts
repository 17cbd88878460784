/**
 * confluent-kafka's AdminClient (librdkafka) with every call a platform team uses, run by
 * test/python/admin_calls.py: once straight at the broker (PLAINTEXT, no authentication), once
 * through the proxy as the sandbox's admin (OIDC client credentials, group platform-admins,
 * which the demo policy gives All on the cluster, every topic and every group), with the proxy
 * logged in to the broker's SASL listener as its own account. Both runs name their resources
 * differently but report them by role, so their normalized results must be identical. Then the
 * payments team's client runs the calls against another team's topic and group and gets Kafka's
 * own authorization errors, on connections that stay open.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import type { DescribeUserScramCredentialsResponse } from '../../protocol/generated/describe-user-scram-credentials-response.js';
import { demoPolicyYaml } from '../../src/sandbox/demo-policy.js';
import { createTopics, kafkaClient, run, uniqueName } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { pythonWithConfluentKafka } from '../helpers/python.js';
import { RawClient } from '../helpers/sasl-client.js';
import { PROXY_USER, saslUpstream } from '../helpers/upstream-account.js';

const kafkaBootstrap = inject('kafkaBootstrap');
/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();
const script = fileURLToPath(new URL('../python/admin_calls.py', import.meta.url));

type Results = Record<string, unknown>;
interface Outcome {
  results: Results;
  /** What librdkafka's error_cb reported (transport failures would show here). */
  errors: string[];
}

/** The AdminClient calls the full run must make (the script's labels name the call first). */
const ADMIN_CALLS = [
  'list_topics', 'describe_cluster', 'create_topics', 'describe_topics', 'delete_topics', 'describe_configs', 'alter_configs',
  'incremental_alter_configs', 'list_consumer_groups', 'describe_consumer_groups', 'delete_consumer_groups',
  'list_consumer_group_offsets', 'alter_consumer_group_offsets', 'create_partitions', 'list_offsets', 'describe_user_scram_credentials',
];

/** A run's resource names by role (the script reports roles, never names). */
function namesFor(prefix: string): Record<string, string> {
  const base = uniqueName(prefix);
  return { topic: `${base}-topic`, extraTopic: `${base}-extra`, missingTopic: `${base}-missing`, group: `${base}-group`, missingGroup: `${base}-nogroup`, missingUser: `${base}-nouser` };
}

describe('Python confluent-kafka AdminClient, directly and through the proxy', () => {
  let python: string;
  let oidc: TestOidc;
  let gh: TestProxy;

  /** Runs admin_calls.py with `settings`; its JSON lines become {call label: result}. */
  async function adminCalls(settings: Record<string, unknown>): Promise<Outcome> {
    const res = await run(python, [script, JSON.stringify({ scramUser: PROXY_USER, ...settings })], { timeoutMs: 60_000 });
    const output = `${res.stdout}\n${res.stderr}`;
    expect(res.code, output).toBe(0);
    const lines = res.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { call?: string; result?: unknown; done?: boolean; errors?: string[] });
    const done = lines.find((l) => l.done);
    expect(done, output).toBeDefined();
    return { results: Object.fromEntries(lines.filter((l) => l.call).map((l) => [l.call!, l.result])), errors: done!.errors! };
  }

  function viaProxy(clientId: string): Record<string, unknown> {
    const client = oidc.clients.find((c) => c.clientId === clientId)!;
    return { bootstrap: gh.bootstrap, oidc: { tokenEndpoint: oidc.tokenEndpoint, clientId, clientSecret: client.clientSecret } };
  }

  beforeAll(async () => {
    python = await pythonWithConfluentKafka();
    oidc = await startOidc();
    const policyFile = join(mkdtempSync(join(tmpdir(), 'gh-python-admin-')), 'policy.yaml');
    writeFileSync(policyFile, demoPolicyYaml('__gatehouse_audit'));
    gh = await startProxy(upstream.bootstrap, {
      upstream: { sasl: upstream.sasl },
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      // describe_user_scram_credentials is among the calls: SCRAM administration is off unless turned on.
      policy: { file: policyFile, brokerCredentialApis: { scramCredentials: true } },
    });
  }, 300_000);
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  it('gives the same results through the proxy as an admin as straight from the broker', async () => {
    const direct = await adminCalls({ mode: 'full', bootstrap: kafkaBootstrap, names: namesFor('py-admin-direct') });
    const proxied = await adminCalls({ mode: 'full', ...viaProxy('admin'), names: namesFor('py-admin-proxied') });

    // Every call ran, none raised outright, and librdkafka saw no transport trouble.
    const calls = Object.keys(direct.results);
    expect(ADMIN_CALLS.filter((c) => !calls.some((label) => label.split(' ')[0] === c))).toEqual([]);
    expect(JSON.stringify(direct.results)).not.toContain('"raised"');
    expect(direct.errors).toEqual([]);
    expect(proxied.errors).toEqual([]);

    // The direct run did what it was asked (so that equality below is not of two broken runs).
    const r = direct.results;
    expect(r['create_topics']).toEqual({ topic: null, extraTopic: null });
    expect(r['create_topics existing']).toEqual({ topic: { error: 'TOPIC_ALREADY_EXISTS' } });
    expect(r['produce and consume with a group']).toEqual({ undelivered: 0, deliveryErrors: [], consumed: 5, committed: { 'topic/0': 3, 'topic/1': 2 } });
    expect(r['list_consumer_group_offsets after alter']).toEqual({ group: { 'topic/0': 1, 'topic/1': 2 } });
    expect(r['list_offsets']).toEqual({ earliest: { 'topic/0': 0, 'topic/1': 0, 'topic/2': 0 }, latest: { 'topic/0': 3, 'topic/1': 2, 'topic/2': 0 } });
    expect(r['describe_configs after incremental_alter_configs']).toMatchObject({ topic: { 'max.message.bytes': { value: '200000', source: 'DYNAMIC_TOPIC_CONFIG' } } });
    expect(r['delete_consumer_groups']).toEqual({ group: null, missingGroup: { error: 'GROUP_ID_NOT_FOUND' } });
    expect(r['delete_topics']).toEqual({ topic: null, extraTopic: null, missingTopic: { error: 'UNKNOWN_TOPIC_OR_PART' } });
    // describe_user_scram_credentials: the PLAINTEXT broker has no authorizer and answers with
    // the proxy's SCRAM account (and RESOURCE_NOT_FOUND for a user that does not exist). Through
    // the proxy (with policy.brokerCredentialApis.scramCredentials on) the admin holds All on the
    // cluster (so Describe, which the API needs), the proxy forwards the request on its own SASL
    // connection and the broker gives the same answer: the proxied result matches, it is not a
    // denial.
    expect(r['describe_user_scram_credentials']).toEqual({
      all: { [PROXY_USER]: [['SCRAM_SHA_512', 4096]] },
      named: { scramUser: [['SCRAM_SHA_512', 4096]], missingUser: { error: 'RESOURCE_NOT_FOUND' } },
    });

    // The point: through the proxy, call for call, the same.
    expect(proxied.results).toEqual(direct.results);

    const authed = gh.logs.filter((l) => l.msg === 'client authenticated');
    expect(authed.length).toBeGreaterThan(0);
    expect(authed.every((l) => l.principal === 'admin' && l.mechanism === 'OAUTHBEARER')).toBe(true);
    expect(gh.logs.filter((l) => l.msg === 'request denied')).toEqual([]);
    expect(Object.keys(gh.proxy.stats.closedByCode).filter((c) => c !== 'GH_CLIENT_CLOSED')).toEqual([]);
  });

  it("denies another team's topic and group with Kafka's authorization errors, not transport failures", async () => {
    // Another team's topic and group (with committed offsets), made straight on the broker.
    const foreign = { topic: uniqueName('py-admin-orders'), group: uniqueName('py-admin-orders-group') };
    const admin = kafkaClient(kafkaBootstrap, 'python-admin-setup').admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic: foreign.topic, numPartitions: 1 }]);
      await admin.setOffsets({ groupId: foreign.group, topic: foreign.topic, partitions: [{ partition: 0, offset: '0' }] });
    } finally {
      await admin.disconnect();
    }
    const closedBefore = { ...gh.proxy.stats.closedByCode };
    // payments-app (group payments-team) has All on payments_* topics and payments-* groups only.
    const names = { ...foreign, ownTopic: uniqueName('payments_py_admin'), extraTopic: uniqueName('py-admin-unowned') };
    const { results: r, errors } = await adminCalls({ mode: 'denied', ...viaProxy('payments-app'), names });

    expect(errors).toEqual([]);
    // A request naming an allowed and a denied topic is answered for both.
    expect(r['create_topics']).toEqual({ ownTopic: null, extraTopic: { error: 'TOPIC_AUTHORIZATION_FAILED' } });
    expect(r['delete_topics']).toEqual({ ownTopic: null, topic: { error: 'TOPIC_AUTHORIZATION_FAILED' } });
    expect(r['describe_topics']).toMatchObject({ topic: { error: 'TOPIC_AUTHORIZATION_FAILED' }, ownTopic: { partitions: [{ id: 0 }] } });
    // Listings show only what the principal may describe, as the broker's would.
    expect((r['list_topics'] as { topics: unknown }).topics).toEqual({ ownTopic: { partitions: 1, error: null } });
    expect(r['list_consumer_groups']).toEqual({ groups: {}, errors: [] });
    // Broker configs need DescribeConfigs on the cluster.
    expect(r['describe_configs']).toEqual({ topic: { error: 'TOPIC_AUTHORIZATION_FAILED' }, 'broker 1': { error: 'CLUSTER_AUTHORIZATION_FAILED' } });
    expect(r['alter_configs']).toEqual({ topic: { error: 'TOPIC_AUTHORIZATION_FAILED' } });
    expect(r['incremental_alter_configs']).toEqual({ topic: { error: 'TOPIC_AUTHORIZATION_FAILED' } });
    expect(r['create_partitions']).toEqual({ topic: { error: 'TOPIC_AUTHORIZATION_FAILED' } });
    // librdkafka finds partition leaders through Metadata first; the denied topic's error comes
    // from there. (Asked for the denied partition alone, it reports _NOENT "No leaders found",
    // against a broker with ACLs just the same.)
    expect(r['list_offsets']).toEqual({
      earliest: { 'ownTopic/0': 0, 'topic/0': { error: 'TOPIC_AUTHORIZATION_FAILED' } },
      latest: { 'ownTopic/0': 0, 'topic/0': { error: 'TOPIC_AUTHORIZATION_FAILED' } },
    });
    // Group calls start with FindCoordinator, which is denied with GROUP_AUTHORIZATION_FAILED.
    for (const call of ['describe_consumer_groups', 'list_consumer_group_offsets', 'alter_consumer_group_offsets', 'delete_consumer_groups']) {
      expect(r[call], call).toEqual({ group: { error: 'GROUP_AUTHORIZATION_FAILED' } });
    }
    // DescribeCluster needs no rights; a principal without any on the cluster is told of none.
    expect(r['describe_cluster']).toMatchObject({ nodes: [expect.any(Number)], authorizedOperations: null });

    // describe_user_scram_credentials needs Describe on the cluster, which payments-app lacks, so
    // the policy dictates CLUSTER_AUTHORIZATION_FAILED. librdkafka 2.16 cannot take that answer
    // from anyone: for a top-level error rd_kafka_DescribeUserScramCredentialsResponse_parse
    // keeps rd_kafka_err2str()'s static string (or an alloca copy of the message) as the result's
    // errstr, which is later freed ("munmap_chunk(): invalid pointer", SIGABRT). A broker with
    // StandardAuthorizer answers the same request with the same error code and crashes it the
    // same way, so the script leaves this call out and the denial is checked on the wire here.
    const raw = await RawClient.open(gh.bootstrap);
    try {
      expect((await raw.oauthbearer(await oidc.token('payments-app'))).errorCode).toBe(0);
      for (let i = 0; i < 2; i++) {
        const res = await raw.request<DescribeUserScramCredentialsResponse>(ApiKey.DescribeUserScramCredentials, 0, { users: [{ name: PROXY_USER }] });
        expect(res.errorCode).toBe(31); // CLUSTER_AUTHORIZATION_FAILED
        expect(res.results.every((u) => u.errorCode === 31 && u.credentialInfos.length === 0)).toBe(true);
      }
      expect(raw.closed).toBe(false);
    } finally {
      raw.close();
    }

    // Every denial was the policy's answer, and no connection was cut for it.
    const denied = gh.logs.filter((l) => l.msg === 'request denied' && l.principal === 'payments-app');
    expect(new Set(denied.map((l) => `${l.api} ${l.errorCode}`))).toEqual(new Set([
      'CreateTopics 29', 'Metadata 29', 'DescribeConfigs 29', 'AlterConfigs 29', 'IncrementalAlterConfigs 29', 'CreatePartitions 29',
      'FindCoordinator 30', 'DeleteTopics 29', 'DescribeUserScramCredentials 31',
    ]));
    const closedAfter = gh.proxy.stats.closedByCode;
    expect(Object.keys(closedAfter).filter((c) => c !== 'GH_CLIENT_CLOSED' && closedAfter[c] !== closedBefore[c])).toEqual([]);
  });
});
