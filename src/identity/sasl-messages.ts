/**
 * Parsers for the SASL client messages the proxy accepts: OAUTHBEARER's client-first message
 * (RFC 7628 §3.1, `n,[a=authzid],\x01auth=Bearer <token>\x01[key=value\x01]*\x01`) and PLAIN
 * (RFC 4616, `[authzid]\0username\0password`). Errors never quote the message (it holds a token).
 */

export class SaslMessageError extends Error {
  override readonly name = 'SaslMessageError';
}

export interface OAuthBearerClientFirst {
  token: string;
  authzid: string | undefined;
  /** SASL extensions (KIP-342), e.g. from `sasl.oauthbearer.extensions`. */
  extensions: Record<string, string>;
}

const SEP = '\x01';

export function parseOAuthBearerClientFirst(bytes: Buffer): OAuthBearerClientFirst {
  const msg = bytes.toString('utf8');
  const firstSep = msg.indexOf(SEP);
  if (firstSep < 0 || !msg.endsWith(SEP + SEP)) throw new SaslMessageError('malformed OAUTHBEARER message');
  const gs2 = msg.slice(0, firstSep);
  const m = /^([ny]|p=[^,]*),(a=[^,]*)?,$/.exec(gs2);
  if (!m) throw new SaslMessageError('malformed OAUTHBEARER GS2 header');
  if (m[1]!.startsWith('p=')) throw new SaslMessageError('channel binding is not supported');
  const authzid = m[2] ? m[2].slice(2).replace(/=2C/g, ',').replace(/=3D/g, '=') : undefined;
  const kvs = msg.slice(firstSep + 1, msg.length - 2).split(SEP);
  let token: string | undefined;
  const extensions: Record<string, string> = {};
  for (const kv of kvs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new SaslMessageError('malformed OAUTHBEARER key/value pair');
    const key = kv.slice(0, eq);
    const value = kv.slice(eq + 1);
    if (key === 'auth') {
      const b = /^Bearer +(\S+)$/i.exec(value);
      if (!b) throw new SaslMessageError('OAUTHBEARER auth value is not "Bearer <token>"');
      token = b[1]!;
    } else {
      extensions[key] = value;
    }
  }
  if (token === undefined) throw new SaslMessageError('OAUTHBEARER message has no auth=Bearer token');
  return { token, authzid, extensions };
}

export interface PlainMessage {
  authzid: string;
  username: string;
  password: string;
}

export function parsePlain(bytes: Buffer): PlainMessage {
  const parts = bytes.toString('utf8').split('\0');
  if (parts.length !== 3) throw new SaslMessageError('malformed PLAIN message');
  const [authzid, username, password] = parts as [string, string, string];
  if (!password) throw new SaslMessageError('PLAIN message has an empty password');
  return { authzid, username, password };
}
