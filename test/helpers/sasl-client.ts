/**
 * A bare Kafka client for the identity tests: one socket, requests encoded with the generated
 * codecs, responses read in order. It does SaslHandshake v1 + SaslAuthenticate v2 the way Java
 * clients do and reports exactly what the proxy answered, or that it closed the connection.
 */
import { connect, type Socket } from 'node:net';
import { apiCodec, ApiKey } from '../../protocol/generated/index.js';
import type { SaslAuthenticateResponse } from '../../protocol/generated/sasl-authenticate-response.js';
import type { SaslHandshakeResponse } from '../../protocol/generated/sasl-handshake-response.js';
import { Reader, Writer } from '../../protocol/runtime/index.js';
import { portOf, requestFrame } from './e2e.js';

export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<{ resolve: (b: Buffer) => void; reject: (e: Error) => void }> = [];
  private correlation = 1;
  closed = false;
  localPort = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const n = this.buf.readInt32BE(0);
        const frame = this.buf.subarray(4, 4 + n);
        this.buf = this.buf.subarray(4 + n);
        this.waiters.shift()?.resolve(frame);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed by the proxy'));
    });
    socket.on('error', () => undefined);
  }

  /** `localAddress`: connect from that address (say another loopback address, 127.0.0.2). */
  static open(bootstrap: string, localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: bootstrap.slice(0, bootstrap.lastIndexOf(':')), port: portOf(bootstrap), ...(localAddress ? { localAddress } : {}) });
      s.once('error', reject);
      s.once('connect', () => {
        const c = new RawClient(s);
        c.localPort = s.localPort ?? 0;
        resolve(c);
      });
    });
  }

  /** Sends a request and resolves with the decoded response body (rejects if the proxy closes). */
  async request<T>(apiKey: number, version: number, body: unknown): Promise<T> {
    const codec = apiCodec(apiKey)!;
    const w = new Writer(256);
    codec.writeRequest(w, version, body);
    const flexible = codec.requestFlexibleFrom >= 0 && version >= codec.requestFlexibleFrom;
    const frame = requestFrame(apiKey, version, w.finish(), { flexible, correlationId: this.correlation++, clientId: 'identity-e2e' });
    const answer = new Promise<Buffer>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.closed) throw new Error('connection closed by the proxy');
    this.socket.write(frame);
    const res = await answer;
    const r = new Reader(res, 4);
    // ApiVersions answers with header v0 whatever its version; other flexible responses use v1.
    if (apiKey !== ApiKey.ApiVersions && codec.responseFlexibleFrom >= 0 && version >= codec.responseFlexibleFrom) r.taggedFields(() => false);
    return codec.readResponse(r, version) as T;
  }

  handshake(mechanism: string, version = 1): Promise<SaslHandshakeResponse> {
    return this.request(ApiKey.SaslHandshake, version, { mechanism });
  }

  authenticate(authBytes: Buffer, version = 2): Promise<SaslAuthenticateResponse> {
    return this.request(ApiKey.SaslAuthenticate, version, { authBytes });
  }

  /** Handshake + SaslAuthenticate with an OAUTHBEARER client-first message carrying `token`. */
  async oauthbearer(token: string): Promise<SaslAuthenticateResponse> {
    const hs = await this.handshake('OAUTHBEARER');
    if (hs.errorCode !== 0) throw new Error(`SaslHandshake failed with ${hs.errorCode}`);
    return this.authenticate(Buffer.from(`n,,\x01auth=Bearer ${token}\x01\x01`, 'utf8'));
  }

  async plain(username: string, password: string): Promise<SaslAuthenticateResponse> {
    const hs = await this.handshake('PLAIN');
    if (hs.errorCode !== 0) throw new Error(`SaslHandshake failed with ${hs.errorCode}`);
    return this.authenticate(Buffer.from(`\0${username}\0${password}`, 'utf8'));
  }

  /**
   * Sends a whole frame (size prefix included) as it is and reports what came of it: the response
   * frame (size prefix excluded), the connection closed, or nothing at all within `timeoutMs`
   * (a request left unanswered on an open connection: what a client experiences as a hang).
   */
  async exchangeRaw(frame: Buffer, timeoutMs = 5_000): Promise<{ kind: 'answer'; frame: Buffer } | { kind: 'closed' } | { kind: 'silent' }> {
    if (this.closed) return { kind: 'closed' };
    const answer = new Promise<Buffer>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.socket.write(frame);
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<'silent'>((resolve) => (timer = setTimeout(() => resolve('silent'), timeoutMs)));
    try {
      const got = await Promise.race([answer, silent]);
      return got === 'silent' ? { kind: 'silent' } : { kind: 'answer', frame: got };
    } catch {
      return { kind: 'closed' };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes bytes as they are (e.g. the unframed SASL tokens of the legacy SaslHandshake v0 flow). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves once the proxy has closed the connection (rejects after timeoutMs). */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the proxy kept the connection open');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
