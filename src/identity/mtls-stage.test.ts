/**
 * The identity stage with identity.mtls: a connection with a verified client certificate is
 * authenticated at connect time (session until the certificate expires), one without is not,
 * and a SASL login on a certificate's connection replaces its principal.
 */
import { describe, expect, it } from 'vitest';
import type { SaslAuthenticateResponse } from '../../protocol/generated/sasl-authenticate-response.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import type { InterceptedRequest, RequestDecision } from '../stage/stage.js';
import type { TlsInfo } from '../stage/connection-info.js';
import { fakeRequest } from '../../test/helpers/fake-request.js';
import { getPrincipal } from './principal.js';
import { SaslStage } from './sasl-stage.js';

const NAMES: Record<number, string> = { 3: 'Metadata', 17: 'SaslHandshake', 36: 'SaslAuthenticate' };
const NOW = 1_000_000;
const CERT_EXPIRY = NOW + 60_000;

function conn(tls?: TlsInfo): ConnectionInfo & { limits: { admitted: boolean } } {
  const limits = { admitted: false, maxFrameBytes: 512 * 1024, admit: () => void (limits.admitted = true) };
  return { id: 'c1', remoteAddress: '127.0.0.1', remotePort: 1, listener: 'tls-bootstrap', nodeId: -1, openedAt: 0, attributes: new Map(), limits, ...(tls ? { tls } : {}) };
}

const req = (c: ConnectionInfo, apiKey: number, body: unknown = {}, apiVersion = 1): InterceptedRequest => fakeRequest(c, apiKey, body, apiVersion);

const verified: TlsInfo = {
  protocol: 'TLSv1.3',
  cipher: 'TLS_AES_128_GCM_SHA256',
  peerSubject: 'CN=payments-app,OU=payments-team',
  peerIssuer: 'CN=CA',
  peerCertFingerprint: 'AA',
  peerSerial: '01',
  peerValidTo: CERT_EXPIRY,
};

function setup(tls: TlsInfo | undefined, mtls = true) {
  let now = NOW;
  const validator = { validate: async (token: string) => ({ principal: token, groups: ['g'], issuer: 'https://idp', source: 'oidc', clientId: token, expiresAt: now + 3_600_000, claims: {} }) };
  const stage = new SaslStage({ validator, mechanisms: ['PLAIN'], now: () => now, ...(mtls ? { mtls: { principalFrom: 'CN', groupsFrom: 'OU' } as const } : {}) });
  const c = conn(tls);
  stage.onConnect(c);
  const run = (apiKey: number, body?: unknown, v?: number) => stage.onRequest(req(c, apiKey, body, v)) as RequestDecision | Promise<RequestDecision>;
  return { c, run, tick: (ms: number) => (now += ms) };
}

describe('SaslStage with identity.mtls', () => {
  it('authenticates a verified certificate at connect, until the certificate expires', async () => {
    const { c, run, tick } = setup(verified);
    expect(getPrincipal(c)).toMatchObject({ name: 'payments-app', groups: ['payments-team'], mechanism: 'MTLS', issuer: 'CN=CA', expiresAt: CERT_EXPIRY });
    // Admitted at connect: no login deadline, the ordinary frame limit.
    expect(c.limits.admitted).toBe(true);
    expect(await run(3)).toBeUndefined();
    tick(60_000);
    expect(await run(3)).toEqual({ close: expect.stringMatching(/session of payments-app expired/) });
  });

  it('does not authenticate without a verified certificate, or without identity.mtls', async () => {
    const plain = setup(undefined);
    expect(getPrincipal(plain.c)).toBeUndefined();
    expect(plain.c.limits.admitted).toBe(false);
    expect(await plain.run(3)).toEqual({ close: 'Metadata request before authentication' });
    const unconfigured = setup(verified, false);
    expect(getPrincipal(unconfigured.c)).toBeUndefined();
    expect(unconfigured.c.limits.admitted).toBe(false);
  });

  it('lets a SASL login replace the certificate principal', async () => {
    const { c, run } = setup(verified);
    await run(17, { mechanism: 'PLAIN' });
    const res = ((await run(36, { authBytes: Buffer.from('\0analytics\0analytics') }, 2)) as { respond: SaslAuthenticateResponse }).respond;
    expect(res.errorCode).toBe(0);
    expect(getPrincipal(c)).toMatchObject({ name: 'analytics', mechanism: 'PLAIN' });
  });
});
