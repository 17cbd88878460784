/** The upstream connector `upstream` in the config asks for: plain TCP or TLS (`upstream.tls`), plus the proxy's SASL login if `upstream.sasl` is set. */
import type { UpstreamConfig } from '../../config/schema.js';
import { PlainConnector, type UpstreamConnector } from '../../proxy/upstream.js';
import { TlsConnector } from '../../proxy/upstream-tls.js';
import { ClientCredentialsTokens } from './client-credentials.js';
import { SaslUpstreamConnector, type UpstreamSaslCredentials } from './sasl-connector.js';

export function upstreamConnectorFromConfig(upstream: UpstreamConfig): UpstreamConnector {
  const plain = upstream.tls ? new TlsConnector(upstream.tls, upstream.connectTimeoutMs) : new PlainConnector(upstream.connectTimeoutMs);
  const sasl = upstream.sasl;
  if (!sasl) return plain;
  let credentials: UpstreamSaslCredentials;
  if (sasl.mechanism === 'OAUTHBEARER') {
    const tokens = new ClientCredentialsTokens({ ...sasl, timeoutMs: upstream.connectTimeoutMs });
    credentials = { mechanism: 'OAUTHBEARER', principal: sasl.clientId, token: () => tokens.token() };
  } else {
    credentials = sasl;
  }
  return new SaslUpstreamConnector(plain, credentials, upstream.connectTimeoutMs);
}
