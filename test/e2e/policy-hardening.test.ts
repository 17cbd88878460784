/**
 * Policy holes an authenticated client with too few rights could use, closed (issue 11, items
 * 6-9), shown against the real broker with raw requests through a proxy that logs in to the
 * broker's SASL listener as its own SCRAM account, the broker auto-creating topics
 * (auto.create.topics.enable=true in the test broker):
 *  - Metadata v12 naming an allowed topic beside a hidden topic's id does not disclose it;
 *  - Metadata v1 (which cannot turn auto-creation off) and v4 with auto-creation on, from a
 *    principal who may Describe but not Create, create nothing; one who may Create still does;
 *  - Create on the cluster does not reach the protected topics (the audit topic's name);
 *  - with SCRAM administration turned on, the proxy's own upstream account cannot be reset or
 *    deleted, and the proxy keeps logging in with it, while another user is changed.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import type { AlterUserScramCredentialsResponse } from '../../protocol/generated/alter-user-scram-credentials-response.js';
import type { CreateTopicsResponse } from '../../protocol/generated/create-topics-response.js';
import type { MetadataResponse } from '../../protocol/generated/metadata-response.js';
import { ZERO_UUID } from '../../protocol/runtime/index.js';
import { adminListTopics, createTopics, kafkaClient, uniqueName, waitFor } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';
import { PROXY_USER, saslUpstream } from '../helpers/upstream-account.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const upstream = saslUpstream();
const SCRAM_SHA_512 = 2;
const TOPIC_AUTHORIZATION_FAILED = 29;
const CLUSTER_AUTHORIZATION_FAILED = 31;
const UNKNOWN_TOPIC_OR_PARTITION = 3;

describe('policy hardening: what too few rights can no longer do', () => {
  let oidc: TestOidc;
  let gh: TestProxy;
  const allowed = uniqueName('hard-allowed');
  const hidden = uniqueName('hidden');

  /** A raw client through the proxy, logged in as `principal`. */
  async function as(principal: string): Promise<RawClient> {
    const raw = await RawClient.open(gh.bootstrap);
    expect((await raw.oauthbearer(await oidc.sign({ sub: principal, client_id: principal, groups: [] }))).errorCode).toBe(0);
    return raw;
  }

  /** A topic's id, asked straight at the broker (PLAINTEXT, no authorizer). */
  async function topicId(name: string): Promise<string> {
    const raw = await RawClient.open(kafkaBootstrap);
    try {
      const md = await raw.request<MetadataResponse>(ApiKey.Metadata, 12, { topics: [{ name, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      expect(md.topics[0]!.errorCode).toBe(0);
      return md.topics[0]!.topicId;
    } finally {
      raw.close();
    }
  }

  beforeAll(async () => {
    oidc = await startOidc();
    const policyFile = join(mkdtempSync(join(tmpdir(), 'gh-policy-hardening-')), 'policy.yaml');
    writeFileSync(
      policyFile,
      stringify({
        roles: {
          reader: { members: { principals: ['reader'] }, rules: [{ resource: 'topic', name: 'hard-', pattern: 'prefix', operations: ['Describe', 'Read'] }] },
          creator: {
            members: { principals: ['creator'] },
            rules: [
              { resource: 'cluster', operations: ['Create'] },
              { resource: 'topic', name: 'hard-', pattern: 'prefix', operations: ['Describe'] },
            ],
          },
          'scram-admin': { members: { principals: ['scram-admin'] }, rules: [{ resource: 'cluster', operations: ['Alter', 'Describe'] }] },
        },
      }),
    );
    gh = await startProxy(upstream.bootstrap, {
      upstream: { sasl: upstream.sasl },
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      policy: { file: policyFile, brokerCredentialApis: { scramCredentials: true } },
    });
    const admin = kafkaClient(kafkaBootstrap, 'policy-hardening-setup').admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic: allowed, numPartitions: 1 }, { topic: hidden, numPartitions: 1 }]);
    } finally {
      await admin.disconnect();
    }
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  it('Metadata v12: an allowed name beside a hidden topic\'s id is authorized by the id, and the hidden topic is not disclosed', async () => {
    const [hiddenId, allowedId] = [await topicId(hidden), await topicId(allowed)];
    const raw = await as('reader');
    try {
      const md = await raw.request<MetadataResponse>(ApiKey.Metadata, 12, { topics: [{ name: allowed, topicId: hiddenId }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      // Refused as the broker refuses an id (name null, the id, TOPIC_AUTHORIZATION_FAILED); nothing of the hidden topic.
      expect(md.topics.map((t) => [t.name, t.topicId, t.errorCode, t.partitions.length])).toEqual([[null, hiddenId, TOPIC_AUTHORIZATION_FAILED, 0]]);
      expect(JSON.stringify(md)).not.toContain(hidden);
      // The other way round: the id decides, so the allowed topic is described whatever name stands beside it.
      const back = await raw.request<MetadataResponse>(ApiKey.Metadata, 12, { topics: [{ name: hidden, topicId: allowedId }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      expect(back.topics.map((t) => [t.name, t.topicId, t.errorCode, t.partitions.length])).toEqual([[allowed, allowedId, 0, 1]]);
    } finally {
      raw.close();
    }
    expect(gh.logs.some((l) => l.msg === 'request denied' && l.api === 'Metadata' && String(l.denied).includes(`Describe topic:${hidden}`))).toBe(true);
  });

  it('Metadata v1 and v4 from a principal without Create create nothing; one with Create on the cluster still auto-creates', async () => {
    const viaV1 = uniqueName('hard-auto-v1');
    const viaV4 = uniqueName('hard-auto-v4');
    const control = uniqueName('hard-auto-control');
    const reader = await as('reader');
    try {
      // v1 cannot say "do not create": the proxy asks the broker for every topic and picks these.
      const v1 = await reader.request<MetadataResponse>(ApiKey.Metadata, 1, { topics: [{ name: viaV1, topicId: ZERO_UUID }, { name: allowed, topicId: ZERO_UUID }] });
      expect(v1.topics.map((t) => [t.name, t.errorCode, t.partitions.length])).toEqual([
        [viaV1, UNKNOWN_TOPIC_OR_PARTITION, 0],
        [allowed, 0, 1],
      ]);
      const v4 = await reader.request<MetadataResponse>(ApiKey.Metadata, 4, { topics: [{ name: viaV4, topicId: ZERO_UUID }], allowAutoTopicCreation: true });
      expect(v4.topics.map((t) => [t.name, t.errorCode])).toEqual([[viaV4, UNKNOWN_TOPIC_OR_PARTITION]]);
    } finally {
      reader.close();
    }
    // After the reader's requests, the creator's: the broker auto-creates its topic.
    const creator = await as('creator');
    try {
      await creator.request<MetadataResponse>(ApiKey.Metadata, 1, { topics: [{ name: control, topicId: ZERO_UUID }] });
    } finally {
      creator.close();
    }
    const listed = await waitFor('the control topic auto-created', async () => {
      const topics = await adminListTopics(kafkaBootstrap);
      return topics.includes(control) ? topics : undefined;
    });
    expect(listed.filter((t) => t === viaV1 || t === viaV4)).toEqual([]);
  });

  it('Create on the cluster does not reach a protected topic: CreateTopics of the audit topic\'s name is refused with TOPIC_AUTHORIZATION_FAILED', async () => {
    const ownConfigs = (name: string) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '1000' }] });
    const internal = uniqueName('__gatehouse_hard');
    const ordinary = uniqueName('hard-created');
    const raw = await as('creator');
    try {
      const res = await raw.request<CreateTopicsResponse>(ApiKey.CreateTopics, 5, { topics: ['__gatehouse_audit', internal, ordinary].map(ownConfigs), timeoutMs: 30_000, validateOnly: false });
      expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([
        ['__gatehouse_audit', TOPIC_AUTHORIZATION_FAILED],
        [internal, TOPIC_AUTHORIZATION_FAILED],
        [ordinary, 0],
      ]);
      expect(raw.closed).toBe(false);
    } finally {
      raw.close();
    }
    const topics = await adminListTopics(kafkaBootstrap);
    expect(topics).toContain(ordinary);
    expect(topics).not.toContain(internal);
    const denied = gh.logs.filter((l) => l.msg === 'request denied' && l.api === 'CreateTopics' && l.principal === 'creator');
    expect(String(denied.at(-1)?.denied)).toContain('Create topic:__gatehouse_audit (protected-topic)');
  });

  it('with SCRAM administration on, the proxy\'s own upstream account can be neither reset nor deleted, and the proxy keeps logging in with it', async () => {
    const other = uniqueName('hard-user');
    const upsert = (name: string, password: string) => {
      const salt = randomBytes(16);
      return { name, mechanism: SCRAM_SHA_512, iterations: 4096, salt, saltedPassword: pbkdf2Sync(password, salt, 4096, 64, 'sha512') };
    };
    const raw = await as('scram-admin');
    try {
      const reset = await raw.request<AlterUserScramCredentialsResponse>(ApiKey.AlterUserScramCredentials, 0, { deletions: [], upsertions: [upsert(PROXY_USER, 'taken-over'), upsert(other, 'other-secret')] });
      expect(reset.results.map((r) => [r.user, r.errorCode])).toEqual([
        [PROXY_USER, CLUSTER_AUTHORIZATION_FAILED],
        [other, 0],
      ]);
      const deleted = await raw.request<AlterUserScramCredentialsResponse>(ApiKey.AlterUserScramCredentials, 0, { deletions: [{ name: PROXY_USER, mechanism: SCRAM_SHA_512 }, { name: other, mechanism: SCRAM_SHA_512 }], upsertions: [] });
      expect(deleted.results.map((r) => [r.user, r.errorCode])).toEqual([
        [PROXY_USER, CLUSTER_AUTHORIZATION_FAILED],
        [other, 0],
      ]);
    } finally {
      raw.close();
    }
    // Every client connection logs the proxy in to the broker afresh with its configured password.
    const after = await as('reader');
    try {
      const md = await after.request<MetadataResponse>(ApiKey.Metadata, 12, { topics: [{ name: allowed, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      expect(md.topics.map((t) => [t.name, t.errorCode])).toEqual([[allowed, 0]]);
    } finally {
      after.close();
    }
    expect(gh.logs.filter((l) => l.code === 'GH_UPSTREAM_AUTH')).toEqual([]);
  });
});
