/**
 * Every request the broker answers gets an answer through the proxy, checked side by side with
 * the broker itself: ApiVersions at every version from 0 to two past the newest the proxy
 * speaks (KIP-511: a version above the broker's gets a v0 answer with UNSUPPORTED_VERSION and
 * the ApiVersions range, and the client retries), each alone on a new connection so nothing
 * else can carry the answer out; and the all-topics Metadata request current librdkafka writes,
 * three stray bytes after its last field, with and without the proxy's stages.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiCodec, ApiKey, writeRequestHeader } from '../../protocol/generated/index.js';
import { readApiVersionsResponse } from '../../protocol/generated/api-versions-response.js';
import { readMetadataResponse, type MetadataResponse } from '../../protocol/generated/metadata-response.js';
import { Reader, Writer } from '../../protocol/runtime/index.js';
import { uniqueName } from '../helpers/e2e.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const apiVersionsCodec = apiCodec(ApiKey.ApiVersions)!;

function frame(apiKey: number, version: number, correlationId: number, body: (w: Writer) => void): Buffer {
  const codec = apiCodec(apiKey)!;
  const w = new Writer(128);
  w.int32(0);
  const flexible = codec.requestFlexibleFrom >= 0 && Math.min(version, codec.maxVersion) >= codec.requestFlexibleFrom;
  writeRequestHeader(w, flexible ? 2 : 1, { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'compat-test' });
  body(w);
  const out = Buffer.from(w.finish());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** ApiVersions at `version`, its body as v3+ writes it (client software name and version). */
function apiVersionsFrame(version: number, correlationId: number): Buffer {
  return frame(ApiKey.ApiVersions, version, correlationId, (w) => {
    if (version >= 3) {
      w.compactString('compat-test');
      w.compactString('1.0');
      w.uvarint(0);
    }
  });
}

/**
 * The all-topics Metadata request of librdkafka 2.x at v12/v13: room for a 4-byte topic count,
 * filled with the 1-byte null compact array, so three bytes are left over after the last field.
 */
function librdkafkaMetadataFrame(version: number, correlationId: number): Buffer {
  return frame(ApiKey.Metadata, version, correlationId, (w) => {
    w.uvarint(0); // topics: null (all topics)
    w.bool(false); // allowAutoTopicCreation
    w.bool(false); // includeTopicAuthorizedOperations
    w.uvarint(0); // tagged fields
    w.raw(Buffer.from([0, 0, 0])); // what librdkafka leaves behind
  });
}

async function once(bootstrap: string, request: Buffer) {
  const c = await RawClient.open(bootstrap);
  try {
    return await c.exchangeRaw(request, 5_000);
  } finally {
    c.close();
  }
}

/** The error code and the ApiVersions entry of an ApiVersions answer (size prefix excluded). */
function readApiVersions(answer: Buffer, requestVersion: number) {
  const errorCode = answer.readInt16BE(4); // after the v0 response header (correlation id)
  const bodyVersion = errorCode === 35 ? 0 : requestVersion;
  const body = readApiVersionsResponse(new Reader(answer, 4), bodyVersion);
  return { errorCode, correlationId: answer.readInt32BE(0), self: body.apiKeys.find((k) => k.apiKey === ApiKey.ApiVersions) };
}

function topicNames(answer: Buffer, version: number): string[] {
  const r = new Reader(answer, 4);
  r.taggedFields(() => false); // response header v1
  const md = readMetadataResponse(r, version) as MetadataResponse;
  return md.topics.map((t) => t.name ?? '').filter((n) => !n.startsWith('__')).sort();
}

describe('requests the broker answers are answered through the proxy', () => {
  let gh: TestProxy;

  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap);
  });
  afterAll(async () => {
    await gh?.stop();
  });

  const newest = apiVersionsCodec.maxVersion;
  for (let v = 0; v <= newest + 2; v++) {
    it(`ApiVersions v${v}, alone on a new connection, is answered as the broker answers it`, async () => {
      const direct = await once(kafkaBootstrap, apiVersionsFrame(v, 100 + v));
      const proxied = await once(gh.bootstrap, apiVersionsFrame(v, 100 + v));
      expect(direct.kind).toBe('answer');
      expect(proxied.kind).toBe('answer');
      if (direct.kind !== 'answer' || proxied.kind !== 'answer') return;
      const d = readApiVersions(direct.frame, v);
      const p = readApiVersions(proxied.frame, v);
      expect(p.correlationId).toBe(100 + v);
      expect(p.errorCode).toBe(d.errorCode);
      expect(p.errorCode).toBe(v > newest ? 35 : 0);
      // The range a client retries within: the proxy's, which the broker's must cover.
      expect(p.self).toEqual({ apiKey: ApiKey.ApiVersions, minVersion: apiVersionsCodec.minVersion, maxVersion: newest });
      expect(d.self!.maxVersion).toBeGreaterThanOrEqual(newest);
    });
  }

  // Metadata v13 came with Kafka 4.0; the 3.9 compatibility run's broker speaks up to v12.
  for (const v of inject('kafkaVersion').startsWith('4.') ? [12, 13] : [12]) {
    it(`librdkafka's all-topics Metadata v${v} with three trailing bytes gets the broker's topics`, async () => {
      const direct = await once(kafkaBootstrap, librdkafkaMetadataFrame(v, 7));
      const proxied = await once(gh.bootstrap, librdkafkaMetadataFrame(v, 7));
      expect(direct.kind).toBe('answer');
      expect(proxied.kind, JSON.stringify(gh.logs.filter((l) => l.msg === 'connection closed'))).toBe('answer');
      if (direct.kind !== 'answer' || proxied.kind !== 'answer') return;
      expect(topicNames(proxied.frame, v)).toEqual(topicNames(direct.frame, v));
    });
  }
});

describe('with identity, policy and audit on, a librdkafka client that logged in', () => {
  const upstream = saslUpstream();
  let oidc: TestOidc;
  let gh: TestProxy;
  let dir: string;

  beforeAll(async () => {
    oidc = await startOidc();
    dir = mkdtempSync(join(tmpdir(), 'gh-compat-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, ['roles:', '  admins:', '    members: { groups: [platform-admins] }', '    rules:', '      - { resource: topic, name: "*", operations: [Describe] }', ''].join('\n'));
    gh = await startProxy(upstream.bootstrap, {
      upstream: { sasl: upstream.sasl },
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      policy: { file: policyFile, watch: false },
      audit: { topic: uniqueName('compat-audit'), spool: { dir: join(dir, 'spool') } },
    });
  }, 60_000);
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets Metadata answered despite the stray bytes (policy reads the request, audit and identity pass it)', async () => {
    const c = await RawClient.open(gh.bootstrap);
    try {
      const auth = await c.oauthbearer(await oidc.sign());
      expect(auth.errorCode).toBe(0);
      const res = await c.exchangeRaw(librdkafkaMetadataFrame(12, 9), 5_000);
      expect(res.kind, JSON.stringify(gh.logs.filter((l) => l.msg === 'connection closed'))).toBe('answer');
    } finally {
      c.close();
    }
  });
});
