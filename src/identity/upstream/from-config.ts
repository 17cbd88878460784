/** The upstream connector `upstream` in the config asks for: plain TCP, plus the proxy's SASL login if `upstream.sasl` is set. */
import type { UpstreamConfig } from '../../config/schema.js';
import { PlainConnector, type UpstreamConnector } from '../../proxy/upstream.js';
import { SaslUpstreamConnector } from './sasl-connector.js';

export function upstreamConnectorFromConfig(upstream: UpstreamConfig): UpstreamConnector {
  const plain = new PlainConnector(upstream.connectTimeoutMs);
  return upstream.sasl ? new SaslUpstreamConnector(plain, upstream.sasl, upstream.connectTimeoutMs) : plain;
}
