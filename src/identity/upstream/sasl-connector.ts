/**
 * The proxy's own login to brokers: an UpstreamConnector that opens the TCP connection with the
 * connector it wraps, then runs SaslHandshake v1 and SaslAuthenticate v2 with the proxy's
 * credentials (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or OAUTHBEARER with its own token) before the socket carries any client
 * request. Clients never see these credentials; the password is never logged or put in errors.
 */
import type { Socket } from 'node:net';
import { ApiKey } from '../../../protocol/generated/index.js';
import { writeSaslAuthenticateRequest } from '../../../protocol/generated/sasl-authenticate-request.js';
import { readSaslAuthenticateResponse, type SaslAuthenticateResponse } from '../../../protocol/generated/sasl-authenticate-response.js';
import { writeSaslHandshakeRequest } from '../../../protocol/generated/sasl-handshake-request.js';
import { readSaslHandshakeResponse } from '../../../protocol/generated/sasl-handshake-response.js';
import { ProxyError } from '../../proxy/errors.js';
import { ControlChannel } from '../../proxy/control-channel.js';
import { formatHostPort, type HostPort, type UpstreamConnector } from '../../proxy/upstream.js';
import { ScramClient, ScramPassword, type ScramHash } from './scram.js';

export type UpstreamSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'OAUTHBEARER';

export type UpstreamSaslCredentials =
  | { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string }
  /** OAUTHBEARER: `token()` gives the proxy's current access token; `principal` names it in messages. */
  | { mechanism: 'OAUTHBEARER'; principal: string; token: () => Promise<string> };

const HANDSHAKE_VERSION = 1;
const AUTHENTICATE_VERSION = 2;
const CLIENT_ID = 'gatehouse';
/** Kafka error codes the broker may answer the SASL requests with. */
const ERROR_NAMES: Record<number, string> = {
  33: 'UNSUPPORTED_SASL_MECHANISM',
  34: 'ILLEGAL_SASL_STATE',
  58: 'SASL_AUTHENTICATION_FAILED',
};

const SCRAM_HASH: Record<'SCRAM-SHA-256' | 'SCRAM-SHA-512', ScramHash> = {
  'SCRAM-SHA-256': 'sha256',
  'SCRAM-SHA-512': 'sha512',
};

function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `error ${code}`;
}

export class SaslUpstreamConnector implements UpstreamConnector {
  /** The SCRAM password with its salted forms, shared by every login of this connector (see scram.ts). */
  private readonly scramPassword: ScramPassword | undefined;

  constructor(
    private readonly inner: UpstreamConnector,
    private readonly credentials: UpstreamSaslCredentials,
    private readonly timeoutMs: number,
  ) {
    const c = credentials;
    this.scramPassword = c.mechanism === 'SCRAM-SHA-256' || c.mechanism === 'SCRAM-SHA-512' ? new ScramPassword(SCRAM_HASH[c.mechanism], c.password) : undefined;
  }

  async connect(target: HostPort): Promise<Socket> {
    const socket = await this.inner.connect(target);
    const ex = new ControlChannel(socket, CLIENT_ID);
    const { mechanism } = this.credentials;
    const timer = setTimeout(() => ex.fail(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    try {
      await this.login(ex);
      ex.detach();
      return socket;
    } catch (err) {
      ex.detach();
      socket.destroy();
      const why = err instanceof UpstreamAuthRefused ? err.message : `SASL exchange failed: ${(err as Error).message}`;
      const who = this.credentials.mechanism === 'OAUTHBEARER' ? this.credentials.principal : this.credentials.username;
      throw new ProxyError('GH_UPSTREAM_AUTH', `upstream login to ${formatHostPort(target)} with ${mechanism} as "${who}" failed: ${why}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private async login(ex: ControlChannel): Promise<void> {
    const creds = this.credentials;
    const { mechanism } = creds;
    const hs = readSaslHandshakeResponse(
      await ex.request(ApiKey.SaslHandshake, HANDSHAKE_VERSION, 1, (w) => writeSaslHandshakeRequest(w, HANDSHAKE_VERSION, { mechanism })),
      HANDSHAKE_VERSION,
    );
    if (hs.errorCode !== 0) {
      throw new UpstreamAuthRefused(`broker answered SaslHandshake with ${errorName(hs.errorCode)} (enabled mechanisms: ${hs.mechanisms.join(', ') || 'none'})`);
    }
    const authenticate = async (bytes: Buffer): Promise<SaslAuthenticateResponse> => {
      const res = readSaslAuthenticateResponse(
        await ex.request(ApiKey.SaslAuthenticate, AUTHENTICATE_VERSION, 2, (w) => writeSaslAuthenticateRequest(w, AUTHENTICATE_VERSION, { authBytes: bytes })),
        AUTHENTICATE_VERSION,
      );
      if (res.errorCode !== 0) {
        throw new UpstreamAuthRefused(`broker answered ${errorName(res.errorCode)}: ${res.errorMessage ?? '(no message)'}`);
      }
      return res;
    };
    if (creds.mechanism === 'OAUTHBEARER') {
      // RFC 7628 initial client response, as Kafka's OAuthBearerSaslClient sends it.
      const res = await authenticate(Buffer.from(`n,,\x01auth=Bearer ${await creds.token()}\x01\x01`, 'utf8'));
      if (res.authBytes.length > 0) {
        // A rejected token comes back as an error challenge (RFC 7628 §3.2.2); the client answers
        // with a single 0x01 and the broker then fails the exchange.
        const detail = res.authBytes.toString('utf8');
        await authenticate(Buffer.from([1])).catch((err: Error) => {
          throw new UpstreamAuthRefused(`broker rejected the token ${detail}; ${err.message}`);
        });
        throw new UpstreamAuthRefused(`broker rejected the token ${detail}`);
      }
      return;
    }
    const { username, password } = creds;
    if (creds.mechanism === 'PLAIN') {
      await authenticate(Buffer.from(`\0${username}\0${password}`, 'utf8'));
      return;
    }
    const scram = new ScramClient(this.scramPassword!, username);
    const first = await authenticate(Buffer.from(scram.clientFirst(), 'utf8'));
    const final = await authenticate(Buffer.from(await scram.clientFinal(first.authBytes.toString('utf8')), 'utf8'));
    scram.verifyServerFinal(final.authBytes.toString('utf8'));
  }
}

/** The broker said no (as opposed to the exchange breaking down). */
class UpstreamAuthRefused extends Error {}
