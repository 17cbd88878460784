/**
 * Never silence: a request the proxy does not forward is answered, or its connection is closed
 * with a logged reason; a client is never left waiting on an open connection. Each way the
 * proxy can end a request without the broker — answers it makes itself (a future ApiVersions,
 * a stage's answer given at once or later), refusals (unknown API, unsupported version, a
 * malformed body, a stage that closes or fails, a request before login) — is tried with the
 * request alone on a new connection, so no later response can carry the answer out for it.
 * Where the broker itself can be asked the same, the proxy's outcome is the broker's.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiCodec, ApiKey, writeRequestHeader } from '../../protocol/generated/index.js';
import { defaultListGroupsResponse } from '../../protocol/generated/list-groups-response.js';
import { Writer } from '../../protocol/runtime/index.js';
import type { Stage } from '../../src/stage/stage.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A request frame; `version` may lie outside what the codec knows (the header follows the newest it does). */
function frame(apiKey: number, version: number, body: (w: Writer) => void, correlationId = 77): Buffer {
  const codec = apiCodec(apiKey);
  const flexible = codec !== undefined && codec.requestFlexibleFrom >= 0 && Math.min(version, codec.maxVersion) >= codec.requestFlexibleFrom;
  const w = new Writer(128);
  w.int32(0);
  writeRequestHeader(w, flexible ? 2 : 1, { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'never-silent' });
  body(w);
  const out = Buffer.from(w.finish());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

const encoded = (apiKey: number, version: number, o: unknown) => frame(apiKey, version, (w) => apiCodec(apiKey)!.writeRequest(w, version, o));
const listGroups = () => encoded(ApiKey.ListGroups, 4, { statesFilter: [], typesFilter: [] });
const describeCluster = () => encoded(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
const metadata = () => encoded(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });

type Outcome = Awaited<ReturnType<RawClient['exchangeRaw']>>;

/** Sends `request` alone on a new connection; a request nobody answers shows up as 'silent'. */
async function alone(bootstrap: string, request: Buffer): Promise<{ outcome: Outcome; port: number }> {
  const c = await RawClient.open(bootstrap);
  try {
    return { outcome: await c.exchangeRaw(request, 4_000), port: c.localPort };
  } finally {
    c.close();
  }
}

/** The reason the proxy logged for closing the connection from `port`, if it did. */
function closeReason(gh: TestProxy, port: number): { code?: unknown; reason?: unknown } | undefined {
  const conn = gh.logs.find((l) => typeof l.client === 'string' && l.client.endsWith(`:${port}`) && l.conn !== undefined)?.conn;
  if (conn === undefined) return undefined;
  const line = gh.logs.find((l) => l.msg === 'connection closed' && l.conn === conn && l.code !== 'GH_CLIENT_CLOSED');
  return line ? { code: line.code, reason: line.reason } : undefined;
}

/** Stages that end requests in each of the ways a stage can, chosen by API key. */
const enders: Stage = {
  name: 'enders',
  interest: { requests: new Set([ApiKey.ListGroups, ApiKey.DescribeGroups, ApiKey.DescribeCluster, ApiKey.ListOffsets, ApiKey.DescribeConfigs]) },
  async onRequest(req) {
    switch (req.header.apiKey) {
      case ApiKey.ListGroups: // answered at once
        return { respond: { ...defaultListGroupsResponse(), errorCode: 0, groups: [] } };
      case ApiKey.DescribeGroups: // answered after a while
        await sleep(50);
        return { respond: { throttleTimeMs: 0, groups: [] } };
      case ApiKey.DescribeCluster: // the connection is closed
        return { close: 'refused by the test' };
      case ApiKey.ListOffsets: // the stage fails
        throw new Error('stage bug');
      default: // an answer the codec cannot write
        return { respond: { results: 'not an array' } };
    }
  },
};

describe('never silent', () => {
  let gh: TestProxy;
  let oidc: TestOidc;
  let authed: TestProxy;

  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap, {}, { stages: [enders] });
    oidc = await startOidc();
    authed = await startProxy(kafkaBootstrap, { identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] } });
  }, 60_000);
  afterAll(async () => {
    await gh?.stop();
    await authed?.stop();
    await oidc?.stop();
  });

  const refusals: Array<[string, () => Buffer]> = [
    ['an unknown API key', () => frame(999, 0, () => undefined)],
    ['a version of Metadata above any the broker speaks', () => frame(ApiKey.Metadata, 99, () => undefined)],
    ['an array length that runs past the frame', () => frame(ApiKey.Metadata, 12, (w) => w.uvarint(101))],
  ];
  for (const [what, request] of refusals) {
    it(`${what}: refused as the broker refuses it, with a logged reason`, async () => {
      const direct = await alone(kafkaBootstrap, request());
      const proxied = await alone(gh.bootstrap, request());
      expect(proxied.outcome.kind).toBe(direct.outcome.kind);
      expect(proxied.outcome.kind).toBe('closed');
      expect(closeReason(gh, proxied.port)?.reason).toEqual(expect.any(String));
    });
  }

  it('ApiVersions above the proxy\'s newest: answered at once by the proxy', async () => {
    const v = apiCodec(ApiKey.ApiVersions)!.maxVersion + 1;
    const { outcome } = await alone(gh.bootstrap, frame(ApiKey.ApiVersions, v, (w) => {
      w.compactString('x');
      w.compactString('1');
      w.uvarint(0);
    }));
    expect(outcome.kind).toBe('answer');
  });

  it('a stage\'s answer given at once, and one given later, each reach the client', async () => {
    expect((await alone(gh.bootstrap, listGroups())).outcome.kind).toBe('answer');
    expect((await alone(gh.bootstrap, encoded(ApiKey.DescribeGroups, 5, { groups: ['g'], includeAuthorizedOperations: false }))).outcome.kind).toBe('answer');
  });

  const stageEnds: Array<[string, () => Buffer, string]> = [
    ['a stage that closes', describeCluster, 'GH_STAGE_CLOSED'],
    ['a stage that throws', () => encoded(ApiKey.ListOffsets, 9, { replicaId: -1, isolationLevel: 0, topics: [], timeoutMs: 1000 }), 'GH_STAGE_FAILED'],
    ['a stage whose answer cannot be encoded', () => encoded(ApiKey.DescribeConfigs, 4, { resources: [], includeSynonyms: false, includeDocumentation: false }), 'GH_STAGE_FAILED'],
  ];
  for (const [what, request, code] of stageEnds) {
    it(`${what}: the connection is closed with ${code} and a reason`, async () => {
      const { outcome, port } = await alone(gh.bootstrap, request());
      expect(outcome.kind).toBe('closed');
      expect(closeReason(gh, port)).toEqual({ code, reason: expect.any(String) });
    });
  }

  it('a request before login: closed with a logged reason, as a SASL listener of the broker does', async () => {
    const { outcome, port } = await alone(authed.bootstrap, metadata());
    expect(outcome.kind).toBe('closed');
    expect(closeReason(authed, port)?.reason).toEqual(expect.any(String));
  });

  it('ApiVersions before login and a SaslHandshake for a mechanism the proxy lacks: answered', async () => {
    expect((await alone(authed.bootstrap, frame(ApiKey.ApiVersions, 7, () => undefined))).outcome.kind).toBe('answer');
    expect((await alone(authed.bootstrap, encoded(ApiKey.SaslHandshake, 1, { mechanism: 'GSSAPI' }))).outcome.kind).toBe('answer');
  });
});
