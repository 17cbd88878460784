/**
 * The identity stage's SASL state machine with a stand-in token check and clock: which requests
 * pass before and after authentication, session expiry, re-authentication, and what is answered.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { SaslAuthenticateResponse } from '../../protocol/generated/sasl-authenticate-response.js';
import type { SaslHandshakeResponse } from '../../protocol/generated/sasl-handshake-response.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import type { InterceptedRequest, RequestDecision } from '../stage/stage.js';
import { fakeRequest } from '../../test/helpers/fake-request.js';
import { LoginAttempts } from './login-attempts.js';
import { getAuthFailure, getPrincipal } from './principal.js';
import { hashSecret, ServiceAccounts } from './service-accounts.js';
import { AUTHENTICATION_FAILED_MESSAGE, SaslError, SaslStage } from './sasl-stage.js';
import { TokenRejected, type ValidatedToken } from './token-validator.js';

const NAMES: Record<number, string> = { 0: 'Produce', 3: 'Metadata', 17: 'SaslHandshake', 18: 'ApiVersions', 36: 'SaslAuthenticate' };

function conn(): ConnectionInfo {
  return { id: 'c1', remoteAddress: '127.0.0.1', remotePort: 1, listener: 'bootstrap', nodeId: -1, openedAt: 0, attributes: new Map() };
}

const req = (c: ConnectionInfo, apiKey: number, body: unknown = {}, apiVersion = 1): InterceptedRequest => fakeRequest(c, apiKey, body, apiVersion);

/** Tokens are "<principal>:<expiresAtMs>", or "bad:x" (expired), "down:x" (keys not fetched), "stranger:x" (untrusted issuer). */
const validator = {
  async validate(token: string): Promise<ValidatedToken> {
    const [who, exp] = token.split(':');
    if (who === 'bad') throw new TokenRejected('expired', 'token expired at then');
    if (who === 'down') throw new TokenRejected('issuer unavailable', 'keys of https://idp could not be fetched (connect ECONNREFUSED 10.0.0.7:443)');
    if (who === 'stranger') throw new TokenRejected('untrusted issuer', 'issuer "https://evil.example" is not trusted');
    return { principal: who!, groups: ['g'], issuer: 'https://idp', source: 'oidc', clientId: `${who}-client`, expiresAt: Number(exp), claims: { sub: who } };
  },
};

/** A pino logger whose lines end up in `lines`. */
function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

function setup(mechanisms: Array<'OAUTHBEARER' | 'PLAIN'> = ['OAUTHBEARER', 'PLAIN'], maxSessionMs?: number) {
  let now = 1_000_000;
  const { log, lines } = capturingLog();
  const stage = new SaslStage({ validator, mechanisms, maxSessionMs, now: () => now, log });
  const c = conn();
  stage.onConnect(c);
  const run = (apiKey: number, body?: unknown, v?: number) => stage.onRequest(req(c, apiKey, body, v)) as RequestDecision | Promise<RequestDecision>;
  const login = async (mech: string, bytes: string) => {
    const hs = (await run(17, { mechanism: mech })) as { respond: SaslHandshakeResponse };
    if (hs.respond.errorCode !== 0) return hs.respond;
    return ((await run(36, { authBytes: Buffer.from(bytes) }, 2)) as { respond: SaslAuthenticateResponse }).respond;
  };
  return { stage, c, run, login, lines, tick: (ms: number) => (now += ms), now: () => now };
}

describe('SaslStage', () => {
  it('lets only ApiVersions and SASL through before authentication', async () => {
    const { run } = setup();
    expect(await run(18)).toBeUndefined();
    expect(await run(3)).toEqual({ close: 'Metadata request before authentication' });
  });

  it('authenticates with OAUTHBEARER, stores the principal and reports the session lifetime', async () => {
    const { login, run, c, now } = setup();
    const res = await login('OAUTHBEARER', `n,,\x01auth=Bearer alice:${now() + 60_000}\x01\x01`);
    expect(res).toMatchObject({ errorCode: 0, errorMessage: null, sessionLifetimeMs: 60_000n });
    expect(getPrincipal(c)).toMatchObject({ name: 'alice', groups: ['g'], mechanism: 'OAUTHBEARER', clientId: 'alice-client' });
    expect(await run(3)).toBeUndefined();
  });

  it('PLAIN: the user name must be the principal or its client id', async () => {
    const a = setup();
    expect((await a.login('PLAIN', `\0alice-client\0alice:${a.now() + 1000}`)).errorCode).toBe(0);
    const b = setup();
    const res = await b.login('PLAIN', `\0mallory\0alice:${b.now() + 1000}`);
    expect(res).toMatchObject({ errorCode: SaslError.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed' });
    expect(getAuthFailure(b.c)?.reason).toBe('user name "mallory" does not match the token\'s principal');
    expect(getPrincipal(b.c)).toBeUndefined();
  });

  it('answers a rejected token with SASL_AUTHENTICATION_FAILED and no reason; the reason is logged and kept for the audit', async () => {
    const { login, run, c, lines } = setup();
    const res = await login('OAUTHBEARER', 'n,,\x01auth=Bearer bad:x\x01\x01');
    expect(res).toEqual({ errorCode: 58, errorMessage: 'Authentication failed', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n });
    expect(lines.filter((l) => l.code === 'GH_AUTH_FAILED')).toMatchObject([{ msg: 'authentication failed', conn: 'c1', mechanism: 'OAUTHBEARER', reason: 'token expired: token expired at then' }]);
    expect(getAuthFailure(c)).toEqual({ reason: 'token expired: token expired at then', errorCode: 58, mechanism: 'OAUTHBEARER', at: 1_000_000 });
    expect(await run(0)).toEqual({ close: 'Produce request after failed authentication' });
  });

  it('tells an unauthenticated client the same for every reason: no key-fetch errors, no issuers, no names', async () => {
    const cases: Array<[string, string, (now: number) => string, number, string]> = [
      ['expired token', 'OAUTHBEARER', () => 'n,,\x01auth=Bearer bad:x\x01\x01', 58, 'token expired: token expired at then'],
      ['keys not fetched', 'OAUTHBEARER', () => 'n,,\x01auth=Bearer down:x\x01\x01', 58, 'token issuer unavailable: keys of https://idp could not be fetched (connect ECONNREFUSED 10.0.0.7:443)'],
      ['untrusted issuer', 'OAUTHBEARER', () => 'n,,\x01auth=Bearer stranger:x\x01\x01', 58, 'token untrusted issuer: issuer "https://evil.example" is not trusted'],
      ['malformed message', 'OAUTHBEARER', () => 'n,,auth=Bearer', 58, 'malformed: malformed OAUTHBEARER message'],
      ['authzid of another', 'OAUTHBEARER', (now) => `n,a=admin,\x01auth=Bearer alice:${now + 1000}\x01\x01`, 58, 'user name "admin" does not match the token\'s principal'],
      ['PLAIN authzid differs', 'PLAIN', (now) => `admin\0alice\0alice:${now + 1000}`, 58, 'PLAIN authorization id differs from the username'],
      ['PLAIN bad token', 'PLAIN', () => '\0alice\0bad:x', 58, 'token expired: token expired at then'],
    ];
    for (const [name, mechanism, bytes, errorCode, reason] of cases) {
      const s = setup();
      const res = await s.login(mechanism, bytes(s.now()));
      expect({ name, ...res }).toEqual({ name, errorCode, errorMessage: AUTHENTICATION_FAILED_MESSAGE, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n });
      expect({ name, logged: s.lines.find((l) => l.code === 'GH_AUTH_FAILED')?.reason, kept: getAuthFailure(s.c)?.reason }).toEqual({ name, logged: reason, kept: reason });
    }
    // Re-authentication as someone else, and SaslAuthenticate without a handshake (ILLEGAL_SASL_STATE): the same message.
    const r = setup();
    await r.login('OAUTHBEARER', `n,,\x01auth=Bearer alice:${r.now() + 60_000}\x01\x01`);
    expect(getAuthFailure(r.c)).toBeUndefined();
    expect(await r.login('OAUTHBEARER', `n,,\x01auth=Bearer bob:${r.now() + 60_000}\x01\x01`)).toMatchObject({ errorCode: 58, errorMessage: AUTHENTICATION_FAILED_MESSAGE });
    expect(getAuthFailure(r.c)?.reason).toBe('re-authentication as bob on a connection of alice');
    const n = setup();
    expect(((await n.run(36, { authBytes: Buffer.from('\0a\0b') }, 2)) as { respond: SaslAuthenticateResponse }).respond).toMatchObject({
      errorCode: SaslError.ILLEGAL_SASL_STATE,
      errorMessage: AUTHENTICATION_FAILED_MESSAGE,
    });
    expect(getAuthFailure(n.c)).toMatchObject({ reason: 'SaslAuthenticate without a preceding SaslHandshake', errorCode: SaslError.ILLEGAL_SASL_STATE, mechanism: undefined });
  });

  it('gives each connection one attempt, as a broker does', async () => {
    const { login, run } = setup();
    expect((await login('OAUTHBEARER', 'n,,\x01auth=Bearer bad:x\x01\x01')).errorCode).toBe(58);
    expect(await run(17, { mechanism: 'OAUTHBEARER' })).toEqual({ close: 'SaslHandshake request after failed authentication' });
  });

  it('offers only configured mechanisms', async () => {
    const { login } = setup(['OAUTHBEARER']);
    expect(await login('PLAIN', '')).toEqual({ errorCode: SaslError.UNSUPPORTED_SASL_MECHANISM, mechanisms: ['OAUTHBEARER'] });
  });

  it('closes an expired session at its next request unless the client re-authenticated', async () => {
    const s = setup();
    await s.login('OAUTHBEARER', `n,,\x01auth=Bearer alice:${s.now() + 1000}\x01\x01`);
    s.tick(999);
    expect(await s.run(3)).toBeUndefined();
    const again = await s.login('OAUTHBEARER', `n,,\x01auth=Bearer alice:${s.now() + 5000}\x01\x01`);
    expect(again.errorCode).toBe(0);
    s.tick(2000);
    expect(await s.run(3)).toBeUndefined();
    s.tick(3000);
    expect(await s.run(3)).toEqual({ close: expect.stringMatching(/^session of alice expired at .* without re-authentication$/) });
  });

  it('ends sessions after maxSessionMs when the token lives longer', async () => {
    const s = setup(['OAUTHBEARER'], 10_000);
    const res = await s.login('OAUTHBEARER', `n,,\x01auth=Bearer alice:${s.now() + 60_000}\x01\x01`);
    expect(res).toMatchObject({ errorCode: 0, sessionLifetimeMs: 10_000n });
    s.tick(9_999);
    expect(await s.run(3)).toBeUndefined();
    s.tick(1);
    expect(await s.run(3)).toEqual({ close: expect.stringMatching(/^session of alice expired at/) });
  });

  it('refuses re-authentication as someone else and drops the session', async () => {
    const s = setup();
    await s.login('OAUTHBEARER', `n,,\x01auth=Bearer alice:${s.now() + 60_000}\x01\x01`);
    const res = await s.login('OAUTHBEARER', `n,,\x01auth=Bearer bob:${s.now() + 60_000}\x01\x01`);
    expect(res.errorCode).toBe(58);
    expect(getPrincipal(s.c)).toBeUndefined();
  });

  it('refuses SaslHandshake v0 and SaslAuthenticate without a handshake', async () => {
    const v0 = setup();
    expect(((await v0.run(17, { mechanism: 'PLAIN' }, 0)) as { respond: SaslHandshakeResponse }).respond.errorCode).toBe(SaslError.ILLEGAL_SASL_STATE);
    // Whatever follows a refused v0 handshake (a raw SASL token, in that flow) closes the connection.
    expect(await v0.run(36, { authBytes: Buffer.from('\0a\0b') }, 2)).toEqual({ close: 'SaslAuthenticate request after failed authentication' });
    const { run } = setup();
    expect(((await run(36, { authBytes: Buffer.from('\0a\0b') }, 2)) as { respond: SaslAuthenticateResponse }).respond.errorCode).toBe(SaslError.ILLEGAL_SASL_STATE);
    expect(await run(18)).toEqual({ close: 'ApiVersions request after failed authentication' });
  });
});

describe('SaslStage and the limits for strangers', () => {
  /** A connection as the proxy makes it, with limits the stage may lift. */
  function limitedConn(remoteAddress: string, id = 'c1') {
    const limits = { admitted: false, maxFrameBytes: 512 * 1024, admit: () => void (limits.admitted = true) };
    const c: ConnectionInfo = { ...conn(), id, remoteAddress, limits };
    return { c, limits };
  }

  it('admits a connection at its first successful login, never before or on a failure', async () => {
    const { log } = capturingLog();
    const stage = new SaslStage({ validator, mechanisms: ['OAUTHBEARER'], now: () => 1_000_000, log });
    expect(stage.admitsConnections).toBe(true);
    const login = async (c: ConnectionInfo, token: string) => {
      await stage.onRequest(req(c, 18));
      await stage.onRequest(req(c, 17, { mechanism: 'OAUTHBEARER' }));
      return ((await stage.onRequest(req(c, 36, { authBytes: Buffer.from(`n,,\x01auth=Bearer ${token}\x01\x01`) }, 2))) as { respond: SaslAuthenticateResponse }).respond;
    };
    const good = limitedConn('10.0.0.1');
    stage.onConnect(good.c);
    expect(good.limits.admitted).toBe(false);
    expect((await login(good.c, 'alice:2000000')).errorCode).toBe(0);
    expect(good.limits.admitted).toBe(true);
    const bad = limitedConn('10.0.0.1', 'c2');
    stage.onConnect(bad.c);
    expect((await login(bad.c, 'bad:x')).errorCode).toBe(58);
    expect(bad.limits.admitted).toBe(false);
  });

  it('refuses logins beyond the failed-login limit of an address unchecked, with the reason logged and kept for the audit', async () => {
    const { log, lines } = capturingLog();
    const check = vi.fn(validator.validate);
    const stage = new SaslStage({ validator: { validate: check }, mechanisms: ['OAUTHBEARER'], now: () => 1_000_000, log, loginAttempts: new LoginAttempts({ perAddress: 2, perAccount: 0, windowMs: 60_000 }) });
    const login = async (address: string, token: string, id: string) => {
      const { c, limits } = limitedConn(address, id);
      stage.onConnect(c);
      await stage.onRequest(req(c, 17, { mechanism: 'OAUTHBEARER' }));
      const res = ((await stage.onRequest(req(c, 36, { authBytes: Buffer.from(`n,,\x01auth=Bearer ${token}\x01\x01`) }, 2))) as { respond: SaslAuthenticateResponse }).respond;
      return { res, c, limits };
    };
    expect((await login('10.0.0.1', 'bad:x', 'c1')).res.errorCode).toBe(58);
    expect((await login('10.0.0.1', 'stranger:x', 'c2')).res.errorCode).toBe(58);
    expect(check).toHaveBeenCalledTimes(2);
    // The third attempt from that address, a valid token even: refused as any failure, and never checked.
    const refused = await login('10.0.0.1', 'alice:2000000', 'c3');
    expect(refused.res).toEqual({ errorCode: 58, errorMessage: AUTHENTICATION_FAILED_MESSAGE, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n });
    expect(check).toHaveBeenCalledTimes(2);
    expect(refused.limits.admitted).toBe(false);
    const reason = 'too many failed logins from 10.0.0.1: 2 in 60000 ms (limits.loginAttempts.perAddress)';
    expect(getAuthFailure(refused.c)?.reason).toBe(reason);
    expect(lines.filter((l) => l.conn === 'c3' && l.code === 'GH_AUTH_FAILED')).toMatchObject([{ msg: 'authentication failed', reason }]);
    // Another address logs in.
    expect((await login('10.0.0.2', 'alice:2000000', 'c4')).res.errorCode).toBe(0);
    expect(check).toHaveBeenCalledTimes(3);
  });

  it('refuses PLAIN logins naming an account beyond its failed-login limit without any scrypt work', async () => {
    const accounts = new ServiceAccounts([{ name: 'billing-batch', secretHash: await hashSecret('pw-1', { N: 1024, r: 8, p: 1 }), groups: [] }]);
    const scrypt = vi.spyOn(accounts, 'authenticate');
    const dummy = vi.spyOn(accounts, 'dummyCheck');
    const { log, lines } = capturingLog();
    const stage = new SaslStage({ validator, mechanisms: ['PLAIN'], serviceAccounts: accounts, log, loginAttempts: new LoginAttempts({ perAddress: 0, perAccount: 3, windowMs: 60_000 }) });
    const plain = async (address: string, user: string, password: string, id: string) => {
      const { c } = limitedConn(address, id);
      stage.onConnect(c);
      await stage.onRequest(req(c, 17, { mechanism: 'PLAIN' }));
      return ((await stage.onRequest(req(c, 36, { authBytes: Buffer.from(`\0${user}\0${password}`) }, 2))) as { respond: SaslAuthenticateResponse }).respond;
    };
    for (let i = 0; i < 3; i++) expect((await plain(`10.0.1.${i}`, 'billing-batch', `guess-${i}`, `g${i}`)).errorCode).toBe(58);
    expect(scrypt).toHaveBeenCalledTimes(3);
    // From new addresses, the right secret even: refused unchecked for the rest of the window.
    for (let i = 0; i < 5; i++) expect((await plain(`10.0.2.${i}`, 'billing-batch', 'pw-1', `r${i}`)).errorCode).toBe(58);
    expect(scrypt).toHaveBeenCalledTimes(3);
    expect(dummy).toHaveBeenCalledTimes(0);
    expect(lines.filter((l) => l.code === 'GH_AUTH_FAILED' && String(l.reason).includes('limits.loginAttempts.perAccount'))).toHaveLength(5);
    // Other names are not held back.
    expect((await plain('10.0.2.9', 'alice-client', 'alice:99999999999999', 'o1')).errorCode).toBe(0);
  });
});

describe('SaslStage: principals of several identity sources', () => {
  /** Tokens are "<source>/<principal>": the same bare name can come from two issuers. */
  const twoIssuers = {
    async validate(token: string): Promise<ValidatedToken> {
      const [source, who] = token.split('/');
      return { principal: who!, groups: [], issuer: `https://${source}.example`, source: source!, clientId: undefined, expiresAt: 2_000_000, claims: { sub: who } };
    },
  };
  const setupWith = (qualifyNames: boolean) => {
    const stage = new SaslStage({ validator: twoIssuers, mechanisms: ['OAUTHBEARER', 'PLAIN'], qualifyNames, now: () => 1_000_000 });
    const c = conn();
    stage.onConnect(c);
    const login = async (mech: string, bytes: string) => {
      await stage.onRequest(req(c, 17, { mechanism: mech }));
      return ((await stage.onRequest(req(c, 36, { authBytes: Buffer.from(bytes) }, 2))) as { respond: SaslAuthenticateResponse }).respond;
    };
    return { c, login };
  };
  const bearer = (token: string) => `n,,\x01auth=Bearer ${token}\x01\x01`;

  it('names the principal source:name where sources could collide, keeping the source and the qualified name', async () => {
    const q = setupWith(true);
    expect((await q.login('OAUTHBEARER', bearer('partner/alice'))).errorCode).toBe(0);
    expect(getPrincipal(q.c)).toMatchObject({ name: 'partner:alice', source: 'partner', qualifiedName: 'partner:alice', issuer: 'https://partner.example' });
    const bare = setupWith(false);
    expect((await bare.login('OAUTHBEARER', bearer('corp/alice'))).errorCode).toBe(0);
    expect(getPrincipal(bare.c)).toMatchObject({ name: 'alice', source: 'corp', qualifiedName: 'corp:alice' });
    // A PLAIN user name may be the bare or the qualified name.
    expect((await setupWith(true).login('PLAIN', '\0corp:alice\0corp/alice')).errorCode).toBe(0);
    expect((await setupWith(true).login('PLAIN', '\0alice\0corp/alice')).errorCode).toBe(0);
    expect((await setupWith(true).login('PLAIN', '\0partner:alice\0corp/alice')).errorCode).toBe(SaslError.SASL_AUTHENTICATION_FAILED);
  });

  it("refuses re-authentication as another source's principal of the same bare name", async () => {
    for (const qualify of [true, false]) {
      const s = setupWith(qualify);
      expect((await s.login('OAUTHBEARER', bearer('corp/alice'))).errorCode).toBe(0);
      expect((await s.login('OAUTHBEARER', bearer('corp/alice'))).errorCode).toBe(0);
      expect((await s.login('OAUTHBEARER', bearer('partner/alice'))).errorCode).toBe(SaslError.SASL_AUTHENTICATION_FAILED);
      expect(getAuthFailure(s.c)?.reason).toBe('re-authentication as partner:alice on a connection of corp:alice');
    }
  });
});
