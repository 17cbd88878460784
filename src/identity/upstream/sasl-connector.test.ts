/**
 * SaslUpstreamConnector against a scripted fake broker: what each failure of the exchange turns
 * into (the real broker's answers are covered by test/e2e/upstream-sasl.test.ts), and SCRAM
 * logins that cost PBKDF2 only once per connector, never on the event loop.
 */
import * as crypto from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiKey, readRequestHeader, writeResponseHeader } from '../../../protocol/generated/index.js';
import { readSaslAuthenticateRequest } from '../../../protocol/generated/sasl-authenticate-request.js';
import { writeSaslAuthenticateResponse } from '../../../protocol/generated/sasl-authenticate-response.js';
import { readSaslHandshakeRequest } from '../../../protocol/generated/sasl-handshake-request.js';
import { writeSaslHandshakeResponse } from '../../../protocol/generated/sasl-handshake-response.js';
import { Reader, Writer } from '../../../protocol/runtime/index.js';
import { ProxyError } from '../../proxy/errors.js';
import { PlainConnector } from '../../proxy/upstream.js';
import { SaslUpstreamConnector, type UpstreamSaslCredentials } from './sasl-connector.js';

// PBKDF2 calls are counted (the real ones run).
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, pbkdf2: vi.fn(real.pbkdf2), pbkdf2Sync: vi.fn(real.pbkdf2Sync) };
});

const PASSWORD = 'pa55-never-shown';

/**
 * The server side of SCRAM-SHA-256 for user svc with PASSWORD (RFC 5802 §3): a script that checks
 * the client's proof and proves it knows the password too; 'close' for a wrong proof.
 */
const hmac = (key: Buffer, text: string) => crypto.createHmac('sha256', key).update(text).digest();
const SCRAM_SALT = Buffer.from('a-fixed-salt-16b');
const SCRAM_ITERATIONS = 4096;
/** What the broker stores for svc (computed once, before any count is taken). */
const SCRAM_KEYS = (() => {
  const salted = crypto.pbkdf2Sync(PASSWORD, SCRAM_SALT, SCRAM_ITERATIONS, 32, 'sha256');
  return { storedKey: crypto.createHash('sha256').update(hmac(salted, 'Client Key')).digest(), serverKey: hmac(salted, 'Server Key') };
})();

function scramServer(): Script {
  const { storedKey, serverKey } = SCRAM_KEYS;
  const salt = SCRAM_SALT;
  const iterations = SCRAM_ITERATIONS;
  let clientFirstBare = '';
  let serverFirst = '';
  return (b, n) => {
    const text = b.toString();
    if (n === 0) {
      clientFirstBare = text.slice(3);
      serverFirst = `r=${/r=([^,]+)/.exec(text)![1]}srv,s=${salt.toString('base64')},i=${iterations}`;
      return Buffer.from(serverFirst);
    }
    const withoutProof = text.slice(0, text.lastIndexOf(',p='));
    const proof = Buffer.from(text.slice(text.lastIndexOf(',p=') + 3), 'base64');
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const clientKey = Buffer.from(proof.map((x, i) => x ^ signature[i]!));
    if (!crypto.createHash('sha256').update(clientKey).digest().equals(storedKey)) return 'close';
    return Buffer.from(`v=${hmac(serverKey, authMessage).toString('base64')}`);
  };
}

/** Answers SaslAuthenticate with `answer(authBytes, n)`: bytes to send back, or 'close' / 'silent'. */
type Script = (authBytes: Buffer, n: number) => Buffer | 'close' | 'silent';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A broker speaking `script` on each connection (a function makes a script per connection). */
async function fakeBroker(script: Script | { perConnection: () => Script }): Promise<number> {
  server = createServer((s: Socket) => {
    const answer = typeof script === 'function' ? script : script.perConnection();
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
          const out = answer(req.authBytes, n++);
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

  it('SCRAM: derives the salted password once per connector, off the event loop; later and simultaneous logins cost no PBKDF2', async () => {
    const port = await fakeBroker({ perConnection: scramServer });
    vi.mocked(crypto.pbkdf2).mockClear();
    vi.mocked(crypto.pbkdf2Sync).mockClear();
    const c = new SaslUpstreamConnector(new PlainConnector(1000), { mechanism: 'SCRAM-SHA-256', username: 'svc', password: PASSWORD }, 2000);
    const target = { host: '127.0.0.1', port };
    const first = await c.connect(target);
    first.destroy();
    expect(vi.mocked(crypto.pbkdf2).mock.calls.length).toBe(1);
    const more = await Promise.all(Array.from({ length: 10 }, () => c.connect(target)));
    for (const s of more) s.destroy();
    expect(vi.mocked(crypto.pbkdf2).mock.calls.length).toBe(1);
    expect(vi.mocked(crypto.pbkdf2Sync).mock.calls.length).toBe(0);
    // A wrong password is still refused (the broker checks the proof).
    const wrong = new SaslUpstreamConnector(new PlainConnector(1000), { mechanism: 'SCRAM-SHA-256', username: 'svc', password: 'wrong' }, 2000);
    expectAuthError(await wrong.connect(target).catch((e: Error) => e), /the broker closed the connection/);
  });

  it('reports a broker that closes mid-exchange, and one that never answers', async () => {
    const closing = await fakeBroker(() => 'close');
    expectAuthError(await login(closing), /the broker closed the connection/);
    await new Promise((r) => server!.close(r));
    const silent = await fakeBroker(() => 'silent');
    expectAuthError(await login(silent, {}, 300), /no answer within 300 ms/);
  });
});
