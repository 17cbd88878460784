/**
 * The proxy's own account on the test broker's SASL listener (test/global-setup.ts), and the
 * upstream settings that use it: identity and policy tests put the proxy in front of that
 * listener, so the proxy logs in to the broker for real while clients log in to the proxy.
 */
import { inject } from 'vitest';
import { PROXY_PASSWORD, PROXY_USER } from './upstream-credentials.js';

export { PROXY_PASSWORD, PROXY_USER };

/** For startProxy(): the SASL listener and a SCRAM-SHA-512 login as the proxy's account. */
export function saslUpstream(): { bootstrap: string; sasl: { mechanism: 'SCRAM-SHA-512'; username: string; password: string } } {
  return { bootstrap: inject('kafkaSaslBootstrap'), sasl: { mechanism: 'SCRAM-SHA-512', username: PROXY_USER, password: PROXY_PASSWORD } };
}
