/**
 * SaslUpstreamConnector against a scripted fake broker: what each failure of the exchange turns
 * into (the real broker's answers are covered by test/e2e/upstream-sasl.test.ts).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey, readRequestHeader, writeResponseHeader } from '../../../protocol/generated/index.js';
import { readSaslAuthenticateRequest } from '../../../protocol/generated/sasl-authenticate-request.js';
import { writeSaslAuthenticateResponse } from '../../../protocol/generated/sasl-authenticate-response.js';
import { readSaslHandshakeRequest } from '../../../protocol/generated/sasl-handshake-request.js';
import { writeSaslHandshakeResponse } from '../../../protocol/generated/sasl-handshake-response.js';
import { Reader, Writer } from '../../../protocol/runtime/index.js';
import { ProxyError } from '../../proxy/errors.js';
import { PlainConnector } from '../../proxy/upstream.js';
import { SaslUpstreamConnector, type UpstreamSaslCredentials } from './sasl-connector.js';

const PASSWORD = 'pa55-never-shown';

/** Answers SaslAuthenticate with `answer(authBytes, n)`: bytes to send back, or 'close' / 'silent'. */
type Script = (authBytes: Buffer, n: number) => Buffer | 'close' | 'silent';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function fakeBroker(script: Script): Promise<number> {
  server = createServer((s: Socket) => {
    let buf = Buffer.alloc(0);
    let n = 0;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const frame = buf.subarray(4, 4 + buf.readInt32BE(0));
        buf = buf.subarray(4 + frame.length);
        const r = new Reader(frame, 0);
        const key = r.int16();
        const headerVersion = key === ApiKey.SaslAuthenticate ? 2 : 1;
        const h = readRequestHeader(new Reader(frame, 0), headerVersion);
        const w = new Writer(64);
        w.int32(0);
        if (key === ApiKey.SaslHandshake) {
          const hr = new Reader(frame, 0);
          readRequestHeader(hr, 1);
          const mechanisms = ['PLAIN', 'SCRAM-SHA-256', 'OAUTHBEARER'];
          const ok = mechanisms.includes(readSaslHandshakeRequest(hr, 1).mechanism);
          writeResponseHeader(w, 0, { correlationId: h.correlationId });
          writeSaslHandshakeResponse(w, 1, { errorCode: ok ? 0 : 33, mechanisms });
        } else {
          const hr = new Reader(frame, 0);
          readRequestHeader(hr, 2);
          const req = readSaslAuthenticateRequest(hr, 2);
          const out = script(req.authBytes, n++);
          if (out === 'close') return void s.destroy();
          if (out === 'silent') return;
          writeResponseHeader(w, 1, { correlationId: h.correlationId });
          writeSaslAuthenticateResponse(w, 2, { errorCode: 0, errorMessage: null, authBytes: out, sessionLifetimeMs: 0n });
        }
        const f = w.finish();
        f.writeInt32BE(f.length - 4, 0);
        s.write(f);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server!.address() as AddressInfo).port;
}

async function login(port: number, creds: { mechanism?: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512' } | UpstreamSaslCredentials = {}, timeoutMs = 2000): Promise<Error | Socket> {
  const full: UpstreamSaslCredentials = 'token' in creds ? creds : { username: 'svc', password: PASSWORD, mechanism: creds.mechanism ?? 'SCRAM-SHA-256' };
  const c = new SaslUpstreamConnector(new PlainConnector(1000), full, timeoutMs);
  return c.connect({ host: '127.0.0.1', port }).then(
    (s) => s,
    (e: unknown) => e as Error,
  );
}

function expectAuthError(e: Error | Socket, pattern: RegExp): void {
  expect(e).toBeInstanceOf(ProxyError);
  const err = e as ProxyError;
  expect(err.code).toBe('GH_UPSTREAM_AUTH');
  expect(err.message).toMatch(pattern);
  expect(err.message).not.toContain(PASSWORD);
}

describe('SaslUpstreamConnector', () => {
  it('sends PLAIN as \\0user\\0password and hands over the socket', async () => {
    let seen = '';
    const port = await fakeBroker((b) => ((seen = b.toString()), Buffer.alloc(0)));
    const s = await login(port, { mechanism: 'PLAIN' });
    expect(s).not.toBeInstanceOf(Error);
    expect(seen).toBe(`\0svc\0${PASSWORD}`);
    (s as Socket).destroy();
  });

  it('sends OAUTHBEARER as an RFC 7628 initial response with the current token', async () => {
    let seen = '';
    const port = await fakeBroker((b) => ((seen = b.toString()), Buffer.alloc(0)));
    const s = await login(port, { mechanism: 'OAUTHBEARER', principal: 'gatehouse', token: async () => 'tok.en.x' });
    expect(s).not.toBeInstanceOf(Error);
    expect(seen).toBe('n,,\x01auth=Bearer tok.en.x\x01\x01');
    (s as Socket).destroy();
  });

  it('names the mechanisms the broker enables when it lacks the configured one', async () => {
    const port = await fakeBroker(() => Buffer.alloc(0));
    expectAuthError(await login(port, { mechanism: 'SCRAM-SHA-512' }), /with SCRAM-SHA-512 as "svc" failed: broker answered SaslHandshake with UNSUPPORTED_SASL_MECHANISM \(enabled mechanisms: PLAIN, SCRAM-SHA-256, OAUTHBEARER\)/);
  });

  it('refuses a broker whose SCRAM server signature does not verify', async () => {
    const port = await fakeBroker((b, n) => {
      if (n === 0) {
        const nonce = /r=([^,]+)/.exec(b.toString())![1]!;
        return Buffer.from(`r=${nonce}xyz,s=${Buffer.from('salt').toString('base64')},i=4096`);
      }
      return Buffer.from(`v=${Buffer.alloc(32).toString('base64')}`);
    });
    expectAuthError(await login(port), /with SCRAM-SHA-256 as "svc" failed: SASL exchange failed: server signature does not verify/);
  });

  it('reports a broker that closes mid-exchange, and one that never answers', async () => {
    const closing = await fakeBroker(() => 'close');
    expectAuthError(await login(closing), /the broker closed the connection/);
    await new Promise((r) => server!.close(r));
    const silent = await fakeBroker(() => 'silent');
    expectAuthError(await login(silent, {}, 300), /no answer within 300 ms/);
  });
});
