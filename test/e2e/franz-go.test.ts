/**
 * franz-go (Go, github.com/twmb/franz-go) through the proxy. franz-go opens every connection
 * with ApiVersions v5, newer than the broker and the proxy know; per KIP-511 the answer is an
 * UNSUPPORTED_VERSION v0 body naming the versions to retry with, and the client retries at v4.
 * The Go program test/go/franz creates a topic, produces, consumes with a consumer group and
 * commits; it gets the same records directly, through a pass-through proxy, and through a proxy
 * that requires OIDC tokens (SASL/OAUTHBEARER) and applies the sandbox's demo policy.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { cacheRoot } from '../../src/kafka/jars.js';
import { demoPolicyYaml } from '../../src/sandbox/demo-policy.js';
import { requestFrame, run, uniqueName } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';
import { saslUpstream } from '../helpers/upstream-account.js';

const kafkaBootstrap = inject('kafkaBootstrap');
/** The identity proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();
const sourceDir = fileURLToPath(new URL('../go/franz', import.meta.url));
const binary = join(cacheRoot(), 'go-bin', 'franz');
const COUNT = 30;

interface FranzResult {
  produced: number;
  consumed: string[];
  byPartition: Record<string, string[]>;
  committed: boolean;
  kgoVersion?: string;
}

/** Builds test/go/franz (modules as go.sum pins them; `go mod download` fetched them in CI). */
async function buildFranz(): Promise<void> {
  mkdirSync(join(cacheRoot(), 'go-bin'), { recursive: true });
  let res;
  try {
    res = await run('go', ['-C', sourceDir, 'build', '-o', binary, '.'], { timeoutMs: 300_000, env: { GOFLAGS: '-mod=readonly -buildvcs=false' } });
  } catch (err) {
    throw new Error(`cannot run go (Go 1.26 is needed for the franz-go test): ${(err as Error).message}`);
  }
  if (res.code !== 0) throw new Error(`go build of test/go/franz failed (${res.code}):\n${res.stderr}`);
}

/** One round trip of the Go program; `token` makes it log in with SASL/OAUTHBEARER. */
async function franz(bootstrap: string, names: { topic: string; group: string }, token?: string): Promise<FranzResult> {
  const settings = { bootstrap, ...names, count: COUNT, partitions: 3, ...(token ? { token } : {}), timeoutSec: 60 };
  const res = await run(binary, [JSON.stringify(settings)], { timeoutMs: 90_000 });
  expect(res.code, `${res.stdout}\n${res.stderr.split('\n').slice(-40).join('\n')}`).toBe(0);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as FranzResult;
}

/** The records the program produces, as "key=value". */
const ALL = Array.from({ length: COUNT }, (_, i) => `k${i}=v${i}`);

/** Every partition's records are in the order they were produced (k0 before k1 ...). */
function inProducedOrder(byPartition: Record<string, string[]>): boolean {
  return Object.values(byPartition).every((kvs) => {
    const indexes = kvs.map((kv) => Number(/^k(\d+)=/.exec(kv)![1]));
    return indexes.every((n, i) => i === 0 || n > indexes[i - 1]!);
  });
}

describe('franz-go (twmb/franz-go v1.22.3) through the proxy', () => {
  let direct: FranzResult;
  let plain: TestProxy;
  let oidc: TestOidc;
  let secured: TestProxy;

  beforeAll(async () => {
    await buildFranz();
    oidc = await startOidc();
    // The sandbox's policy: payments-app owns payments_* topics and payments-* groups.
    const policyFile = join(mkdtempSync(join(tmpdir(), 'gh-franz-e2e-')), 'policy.yaml');
    writeFileSync(policyFile, demoPolicyYaml('__gatehouse_audit'));
    plain = await startProxy(kafkaBootstrap);
    secured = await startProxy(upstream.bootstrap, {
      upstream: { sasl: upstream.sasl },
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      policy: { file: policyFile },
    });
    // The reference: the same program straight against the broker.
    direct = await franz(kafkaBootstrap, { topic: uniqueName('payments_franz-direct'), group: uniqueName('payments-franz-direct') });
  }, 300_000);
  afterAll(async () => {
    await secured?.stop();
    await plain?.stop();
    await oidc?.stop();
  });

  it('directly: all records, each partition in produced order, offsets committed', () => {
    expect(direct.kgoVersion).toBe('v1.22.3');
    expect(direct.produced).toBe(COUNT);
    expect([...direct.consumed].sort()).toEqual([...ALL].sort());
    expect(Object.keys(direct.byPartition).length).toBeGreaterThan(1);
    expect(inProducedOrder(direct.byPartition)).toBe(true);
    expect(direct.committed).toBe(true);
  });

  it('through a pass-through proxy: the same records per partition as directly', async () => {
    const out = await franz(plain.bootstrap, { topic: uniqueName('payments_franz-plain'), group: uniqueName('payments-franz-plain') });
    expect(out.produced).toBe(COUNT);
    expect(out.byPartition).toEqual(direct.byPartition);
    expect(out.committed).toBe(true);
  });

  it('through a proxy requiring OIDC tokens: the same records, as payments-app', async () => {
    const token = await oidc.token('payments-app');
    const out = await franz(secured.bootstrap, { topic: uniqueName('payments_franz-oidc'), group: uniqueName('payments-franz-oidc') }, token);
    expect(out.produced).toBe(COUNT);
    expect(out.byPartition).toEqual(direct.byPartition);
    expect(out.committed).toBe(true);
    const authed = secured.logs.filter((l) => l.msg === 'client authenticated');
    expect(authed.length).toBeGreaterThan(0);
    expect(authed.every((l) => l.principal === 'payments-app' && l.mechanism === 'OAUTHBEARER' && l.issuer === oidc.issuer)).toBe(true);
    expect(JSON.stringify(secured.logs)).not.toContain(token);
  });

  it('answers ApiVersions v5 on a fresh connection: UNSUPPORTED_VERSION with a v0 body naming the versions to use', async () => {
    // ApiVersions v5 (flexible): client software name and version as compact strings, no tags.
    const body = Buffer.from([4, ...Buffer.from('raw'), 2, ...Buffer.from('1'), 0]);
    const c = await RawClient.open(plain.bootstrap);
    try {
      const got = await c.exchangeRaw(requestFrame(ApiKey.ApiVersions, 5, body, { flexible: true, correlationId: 11 }));
      expect(got.kind).toBe('answer');
      if (got.kind !== 'answer') return;
      // Header v0 (correlation id), then the v0 body: error code, [api key, min, max]...
      const f = got.frame;
      expect(f.readInt32BE(0)).toBe(11);
      expect(f.readInt16BE(4)).toBe(35);
      const n = f.readInt32BE(6);
      expect(f.length).toBe(10 + 6 * n);
      const keys = Array.from({ length: n }, (_, i) => ({ apiKey: f.readInt16BE(10 + 6 * i), min: f.readInt16BE(12 + 6 * i), max: f.readInt16BE(14 + 6 * i) }));
      const versions = keys.find((k) => k.apiKey === ApiKey.ApiVersions);
      expect(versions).toBeDefined();
      expect(versions!.min).toBe(0);
      expect(versions!.max).toBeGreaterThanOrEqual(3);
      expect(versions!.max).toBeLessThan(5);
    } finally {
      c.close();
    }
  });
});
