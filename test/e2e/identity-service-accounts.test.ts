/**
 * Local service accounts end to end: a hash made by `gatehouse hash-secret` (the real command)
 * in `identity.serviceAccounts`, next to an OIDC issuer; kcat logs in with SASL/PLAIN as the
 * account and round-trips records; a wrong secret and a name that is no account are refused
 * alike ("Authentication failed", the reason only in the log); a PLAIN user name that is not an
 * account still takes an access token.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kcat, run, uniqueName } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();
const gatehouseBin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const SECRET = 'billing-batch-secret-7f3a';

describe('identity: local service accounts', () => {
  let oidc: TestOidc;
  let gh: TestProxy;

  beforeAll(async () => {
    const hashed = await run(process.execPath, [gatehouseBin, 'hash-secret'], { input: `${SECRET}\n` });
    expect(hashed.code, hashed.stderr).toBe(0);
    const secretHash = hashed.stdout.trim();
    expect(secretHash).toMatch(/^scrypt\$32768\$8\$1\$/);
    oidc = await startOidc();
    gh = await startProxy(upstream.bootstrap, { upstream: { sasl: upstream.sasl },
      identity: {
        issuers: [{ issuer: oidc.issuer, audience: oidc.audience }],
        serviceAccounts: [{ name: 'billing-batch', secretHash, groups: ['payments-team', 'batch'] }],
      },
    });
  }, 60_000);
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  const plain = (user: string, password: string) => ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', `sasl.username=${user}`, '-X', `sasl.password=${password}`];

  it('kcat logs in as the account with its secret and round-trips records', async () => {
    const topic = uniqueName('service-account');
    const produced = await kcat(gh.bootstrap, [...plain('billing-batch', SECRET), '-P', '-t', topic, '-K:'], { input: 'inv-1:100\ninv-2:250\n' });
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await kcat(gh.bootstrap, [...plain('billing-batch', SECRET), '-C', '-t', topic, '-o', 'beginning', '-c', '2', '-e', '-f', '%k=%s\\n']);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.split('\n').filter(Boolean).sort()).toEqual(['inv-1=100', 'inv-2=250']);
    // Next to an issuer, principals are named by their source: the account is local:billing-batch.
    const authed = gh.logs.filter((l) => l.msg === 'client authenticated' && l.principal === 'local:billing-batch');
    expect(authed.length).toBeGreaterThan(0);
    expect(authed[0]).toMatchObject({ issuer: 'local', mechanism: 'PLAIN', groups: ['payments-team', 'batch'], expiresAt: null });
    expect(JSON.stringify(gh.logs)).not.toContain(SECRET);
  });

  it('a wrong secret and an unknown name are refused alike; the reason is logged', async () => {
    const known = await kcat(gh.bootstrap, [...plain('billing-batch', 'guess'), '-L', '-m', '5'], { timeoutMs: 30_000 });
    const unknown = await kcat(gh.bootstrap, [...plain('billing-batcb', 'guess'), '-L', '-m', '5'], { timeoutMs: 30_000 });
    for (const res of [known, unknown]) {
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(/Authentication failed/);
      expect(res.stderr).not.toMatch(/secret|service account|token|malformed|billing/);
    }
    const reasons = gh.logs.filter((l) => l.code === 'GH_AUTH_FAILED' && l.mechanism === 'PLAIN').map((l) => l.reason);
    expect(reasons).toContain('bad secret: wrong secret for service account "billing-batch"');
    expect(reasons).toContain('token malformed: not a signed JWT');
  });

  it('other PLAIN user names still take an access token', async () => {
    const res = await kcat(gh.bootstrap, [...plain('analytics', await oidc.token('analytics')), '-L', '-m', '5'], { timeoutMs: 30_000 });
    expect(res.code, res.stderr).toBe(0);
    expect(gh.logs.some((l) => l.msg === 'client authenticated' && l.principal === 'oidc:analytics' && l.issuer === oidc.issuer)).toBe(true);
  });
});
