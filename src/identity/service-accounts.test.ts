/**
 * Local service accounts: the hash format `gatehouse hash-secret` writes, verification, bounds on
 * the scrypt parameters, the SASL/PLAIN login through the identity stage, and the proxy-wide
 * bound on scrypt work.
 */
import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { SaslAuthenticateResponse } from '../../protocol/generated/sasl-authenticate-response.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import type { InterceptedRequest, RequestDecision } from '../stage/stage.js';
import { locatedFrom } from '../../test/helpers/fake-request.js';
import { getAuthFailure, getPrincipal } from './principal.js';
import { SaslStage } from './sasl-stage.js';
import type { Logger } from 'pino';
import { serviceAccountChecksRefused } from './metrics.js';
import { hashSecret, LOCAL_ISSUER, parseSecretHash, ServiceAccounts, verifySecret } from './service-accounts.js';
import { TokenRejected, type ValidatedToken } from './token-result.js';

// Every scrypt derivation is counted (the real one runs): an unknown name must cost what a known one does.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, scrypt: vi.fn(real.scrypt) };
});
const scryptCalls = vi.mocked(crypto.scrypt).mock.calls;

const FAST = { N: 1024, r: 8, p: 1 };

describe('service accounts', () => {
  it('hashes with a fresh salt and verifies only the right secret', async () => {
    const h = await hashSecret('s3cret-for-billing');
    expect(h).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await hashSecret('s3cret-for-billing')).not.toBe(h);
    expect(await verifySecret('s3cret-for-billing', h)).toBe(true);
    expect(await verifySecret('s3cret-for-billinG', h)).toBe(false);
    expect(await verifySecret('', h)).toBe(false);
    await expect(hashSecret('')).rejects.toThrow(/empty/);
  });

  it('refuses malformed hashes and out-of-range parameters', () => {
    expect(() => parseSecretHash('plaintext')).toThrow(/expected scrypt\$N\$r\$p\$salt\$hash/);
    expect(() => parseSecretHash(`scrypt$1000$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`)).toThrow(/power of two/);
    expect(() => parseSecretHash(`scrypt$${1 << 22}$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`)).toThrow(/power of two/);
    expect(() => parseSecretHash(`scrypt$1024$64$1$${'A'.repeat(22)}$${'A'.repeat(43)}`)).toThrow(/r must be/);
    expect(() => new ServiceAccounts([{ name: 'x', secretHash: 'nope', groups: [] }])).toThrow();
  });

  it('authenticates an account to its principal (issuer local, no expiry)', async () => {
    const accounts = new ServiceAccounts([{ name: 'billing-batch', secretHash: await hashSecret('pw-1', FAST), groups: ['payments-team'] }]);
    expect(accounts.has('billing-batch')).toBe(true);
    expect(accounts.has('other')).toBe(false);
    expect(await accounts.authenticate('billing-batch', 'pw-1')).toMatchObject({ principal: 'billing-batch', groups: ['payments-team'], issuer: LOCAL_ISSUER, expiresAt: Infinity });
    await expect(accounts.authenticate('billing-batch', 'pw-2')).rejects.toThrow(new TokenRejected('bad secret', 'wrong secret for service account "billing-batch"'));
  });

  it('logs in over SASL/PLAIN in the identity stage; other PLAIN user names still take a token', async () => {
    const accounts = new ServiceAccounts([{ name: 'billing-batch', secretHash: await hashSecret('pw-1', FAST), groups: ['payments-team'] }]);
    const validator = {
      async validate(token: string): Promise<ValidatedToken> {
        if (token !== 'good-token') throw new TokenRejected('malformed', 'not a signed JWT');
        return { principal: 'app', groups: [], issuer: 'https://idp', source: 'oidc', clientId: 'app', expiresAt: Date.now() + 60_000, claims: {} };
      },
    };
    const login = async (user: string, password: string, maxSessionMs?: number) => {
      const stage = new SaslStage({ validator, mechanisms: ['OAUTHBEARER', 'PLAIN'], serviceAccounts: accounts, maxSessionMs });
      const c: ConnectionInfo = { id: 'c1', remoteAddress: '127.0.0.1', remotePort: 1, listener: 'bootstrap', nodeId: -1, openedAt: 0, attributes: new Map() };
      stage.onConnect(c);
      const req = (apiKey: number, body: unknown, apiVersion: number): InterceptedRequest => ({
        header: { apiKey, apiVersion, correlationId: 1, clientId: 't', apiName: apiKey === 17 ? 'SaslHandshake' : 'SaslAuthenticate' },
        connection: c, frame: Buffer.alloc(0), size: 0, body: <T>() => body as T, skim: <T>() => body as T, setBody: () => undefined, locate: () => locatedFrom(body), modified: false, expectsResponse: true, interceptResponse: () => undefined,
      });
      await stage.onRequest(req(17, { mechanism: 'PLAIN' }, 1));
      const res = ((await stage.onRequest(req(36, { authBytes: Buffer.from(`\0${user}\0${password}`) }, 2))) as { respond: SaslAuthenticateResponse }).respond;
      return { res, principal: getPrincipal(c), next: (await stage.onRequest(req(3, {}, 9))) as RequestDecision };
    };
    const ok = await login('billing-batch', 'pw-1');
    expect(ok.res).toMatchObject({ errorCode: 0, sessionLifetimeMs: 0n });
    expect(ok.principal).toMatchObject({ name: 'billing-batch', groups: ['payments-team'], issuer: 'local', mechanism: 'PLAIN', clientId: undefined });
    expect(ok.next).toBeUndefined();
    expect((await login('billing-batch', 'pw-1', 60_000)).res.sessionLifetimeMs).toBe(60_000n);
    const bad = await login('billing-batch', 'good-token');
    expect(bad.res).toMatchObject({ errorCode: 58, errorMessage: 'Authentication failed' });
    expect(bad.principal).toBeUndefined();
    expect((await login('app', 'good-token')).res.errorCode).toBe(0);
  });

  it('costs an unknown name the scrypt work of a known one, and answers both alike', async () => {
    const params = { N: 2048, r: 4, p: 1 };
    const accounts = new ServiceAccounts([
      { name: 'billing-batch', secretHash: await hashSecret('pw-1', params), groups: [] },
      { name: 'ledger-batch', secretHash: await hashSecret('pw-2', params), groups: [] },
    ]);
    const validator = {
      async validate(token: string): Promise<ValidatedToken> {
        if (token !== 'token-of-app') throw new TokenRejected('malformed', 'not a signed JWT');
        return { principal: 'app', groups: [], issuer: 'https://idp', source: 'oidc', clientId: 'app', expiresAt: Date.now() + 60_000, claims: {} };
      },
    };
    /** A PLAIN login: the answer, the reason kept for the audit, and the scrypt derivations it took (N, r, p, key length). */
    const login = async (user: string, password: string, serviceAccounts: ServiceAccounts | null = accounts) => {
      const stage = new SaslStage({ validator, mechanisms: ['PLAIN'], serviceAccounts: serviceAccounts ?? undefined });
      const c: ConnectionInfo = { id: 'c1', remoteAddress: '127.0.0.1', remotePort: 1, listener: 'bootstrap', nodeId: -1, openedAt: 0, attributes: new Map() };
      stage.onConnect(c);
      const req = (apiKey: number, body: unknown, apiVersion: number): InterceptedRequest => ({
        header: { apiKey, apiVersion, correlationId: 1, clientId: 't', apiName: apiKey === 17 ? 'SaslHandshake' : 'SaslAuthenticate' },
        connection: c, frame: Buffer.alloc(0), size: 0, body: <T>() => body as T, skim: <T>() => body as T, setBody: () => undefined, locate: () => locatedFrom(body), modified: false, expectsResponse: true, interceptResponse: () => undefined,
      });
      await stage.onRequest(req(17, { mechanism: 'PLAIN' }, 1));
      const before = scryptCalls.length;
      const res = ((await stage.onRequest(req(36, { authBytes: Buffer.from(`\0${user}\0${password}`) }, 2))) as { respond: SaslAuthenticateResponse }).respond;
      const derivations = scryptCalls.slice(before).map(([, , keylen, opts]) => ({ keylen, N: (opts as crypto.ScryptOptions).N, r: (opts as crypto.ScryptOptions).r, p: (opts as crypto.ScryptOptions).p }));
      return { res: { errorCode: res.errorCode, errorMessage: res.errorMessage }, reason: getAuthFailure(c)?.reason, derivations };
    };
    const one = [{ keylen: 32, N: 2048, r: 4, p: 1 }];
    const refused = { errorCode: 58, errorMessage: 'Authentication failed' };

    // A known name with a wrong secret: one derivation with the account's parameters.
    expect(await login('billing-batch', 'guess')).toEqual({ res: refused, reason: 'bad secret: wrong secret for service account "billing-batch"', derivations: one });
    // Unknown names cost the same, whether the password is no token, or a token of someone else.
    expect(await login('billing-batcb', 'guess')).toEqual({ res: refused, reason: 'token malformed: not a signed JWT', derivations: one });
    expect(await login('nobody', 'token-of-app')).toEqual({ res: refused, reason: 'user name "nobody" does not match the token\'s principal', derivations: one });
    // Direct use: an unknown name is checked against the dummy hash too.
    const before = scryptCalls.length;
    await expect(accounts.authenticate('nobody', 'guess')).rejects.toThrow(new TokenRejected('bad secret', 'no service account "nobody"'));
    expect(scryptCalls.length - before).toBe(1);
    // Logins that succeed are not slowed down: the right secret derives once, a token login not at all.
    expect(await login('ledger-batch', 'pw-2')).toMatchObject({ res: { errorCode: 0 }, derivations: one });
    expect(await login('app', 'token-of-app')).toMatchObject({ res: { errorCode: 0 }, derivations: [] });
    // Accounts with different parameters: unknown names cost what most accounts cost.
    const mixed = new ServiceAccounts([
      { name: 'a', secretHash: await hashSecret('x', FAST), groups: [] },
      { name: 'b', secretHash: await hashSecret('y', params), groups: [] },
      { name: 'c', secretHash: await hashSecret('z', params), groups: [] },
    ]);
    expect((await login('nobody', 'guess', mixed)).derivations).toEqual(one);
    // Without service accounts there are no names to hide: no scrypt work.
    expect(await login('billing-batch', 'guess', null)).toEqual({ res: refused, reason: 'token malformed: not a signed JWT', derivations: [] });
  });

  it('bounds scrypt work proxy-wide: logins beyond identity.serviceAccountChecks are refused unchecked, known and unknown names alike', async () => {
    const params = { N: 2048, r: 4, p: 1 };
    const logs: Array<Record<string, unknown>> = [];
    const log = { warn: (fields: Record<string, unknown>, msg: string) => void logs.push({ ...fields, msg }) } as unknown as Logger;
    const accounts = new ServiceAccounts([{ name: 'billing-batch', secretHash: await hashSecret('pw-1', params), groups: [] }], { limits: { maxInFlight: 1, perSecond: 3 }, log });
    const validator = { validate: async (): Promise<ValidatedToken> => Promise.reject(new TokenRejected('malformed', 'not a signed JWT')) };
    const stage = new SaslStage({ validator, mechanisms: ['PLAIN'], serviceAccounts: accounts });
    const login = async (user: string, password: string) => {
      const c: ConnectionInfo = { id: `c-${user}`, remoteAddress: '127.0.0.1', remotePort: 1, listener: 'bootstrap', nodeId: -1, openedAt: 0, attributes: new Map() };
      stage.onConnect(c);
      const req = (apiKey: number, body: unknown, apiVersion: number): InterceptedRequest => ({
        header: { apiKey, apiVersion, correlationId: 1, clientId: 't', apiName: apiKey === 17 ? 'SaslHandshake' : 'SaslAuthenticate' },
        connection: c, frame: Buffer.alloc(0), size: 0, body: <T>() => body as T, skim: <T>() => body as T, setBody: () => undefined, locate: () => locatedFrom(body), modified: false, expectsResponse: true, interceptResponse: () => undefined,
      });
      await stage.onRequest(req(17, { mechanism: 'PLAIN' }, 1));
      const res = ((await stage.onRequest(req(36, { authBytes: Buffer.from(`\0${user}\0${password}`) }, 2))) as { respond: SaslAuthenticateResponse }).respond;
      return { errorCode: res.errorCode, errorMessage: res.errorMessage, reason: getAuthFailure(c)?.reason, principal: getPrincipal(c)?.name };
    };
    const refusedBefore = (await serviceAccountChecksRefused.get()).values.reduce((n, v) => n + v.value, 0);
    const before = scryptCalls.length;
    // Twelve attempts at once, known and unknown names: three are checked (one at a time), nine refused at once.
    const attempts = await Promise.all(Array.from({ length: 12 }, (_, i) => login(i % 2 ? 'billing-batch' : `nobody-${i}`, 'guess')));
    expect(scryptCalls.length - before).toBe(3);
    for (const a of attempts) expect(a).toMatchObject({ errorCode: 58, errorMessage: 'Authentication failed', principal: undefined });
    // The log's reasons: for the account, checked or not; for other names, the token's (the dummy check, run or not, says nothing).
    const known = new Set(attempts.filter((_, i) => i % 2).map((a) => a.reason));
    expect(known).toEqual(new Set(['bad secret: wrong secret for service account "billing-batch"', 'too many logins: secret for "billing-batch" not checked (over identity.serviceAccountChecks: 1 at once, 3 per second)']));
    expect(new Set(attempts.filter((_, i) => i % 2 === 0).map((a) => a.reason))).toEqual(new Set(['token malformed: not a signed JWT']));
    // Counted and logged (once for the burst, however many were refused).
    expect((await serviceAccountChecksRefused.get()).values.reduce((n, v) => n + v.value, 0) - refusedBefore).toBe(9);
    expect(logs).toEqual([expect.objectContaining({ code: 'GH_AUTH_LIMITED', refused: 1, maxInFlight: 1, perSecond: 3 })]);
    // The right secret is refused too while over the bound; it gets in once there is room again.
    expect((await login('billing-batch', 'pw-1')).principal).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1100));
    expect((await login('billing-batch', 'pw-1')).principal).toBe('billing-batch');
  });
});
