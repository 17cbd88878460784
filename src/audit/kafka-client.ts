/**
 * A kafkajs client with the proxy's own connection settings, for the audit producer and the
 * `gatehouse audit` commands: audit.bootstrap (default upstream.bootstrap), upstream.tls (the CA
 * bundle, client certificate and key, servername and verification the proxy's broker connections
 * use) and upstream.sasl (PLAIN, SCRAM-SHA-256/512, or OAUTHBEARER with the client-credentials
 * token). audit.useUpstreamTls / useUpstreamSasl: false leave them out (an audit cluster of its own).
 */
import kafkajs from 'kafkajs';
import type { Kafka, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import type { GatehouseConfig } from '../config/schema.js';
import { ClientCredentialsTokens } from '../identity/upstream/client-credentials.js';
import { upstreamTlsOptions } from '../proxy/upstream-tls.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

/**
 * kafkajs's `ssl` for the audit client: upstream.tls as the proxy's TlsConnector uses it. SNI and
 * the certificate check use `servername` when set, else each broker's host name (kafkajs sends no
 * SNI for an IP address and checks the certificate against the address, as the proxy does).
 */
export function auditTls(config: GatehouseConfig): ConnectionOptions | undefined {
  const tls = config.audit?.useUpstreamTls === false ? undefined : config.upstream.tls;
  if (!tls) return undefined;
  return { ...upstreamTlsOptions(tls), ...(tls.servername ? { servername: tls.servername } : {}) };
}

export function kafkaFromConfig(config: GatehouseConfig, clientId: string, { retries = 5 }: { retries?: number } = {}): Kafka {
  const audit = config.audit;
  const brokers = audit?.bootstrap ?? config.upstream.bootstrap;
  const s = audit?.useUpstreamSasl === false ? undefined : config.upstream.sasl;
  let sasl: SASLOptions | undefined;
  if (s?.mechanism === 'PLAIN') sasl = { mechanism: 'plain', username: s.username, password: s.password };
  else if (s?.mechanism === 'SCRAM-SHA-256') sasl = { mechanism: 'scram-sha-256', username: s.username, password: s.password };
  else if (s?.mechanism === 'SCRAM-SHA-512') sasl = { mechanism: 'scram-sha-512', username: s.username, password: s.password };
  else if (s?.mechanism === 'OAUTHBEARER') {
    const tokens = new ClientCredentialsTokens({ ...s, timeoutMs: config.upstream.connectTimeoutMs });
    sasl = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await tokens.token() }) };
  }
  const ssl = auditTls(config);
  return new KafkaClient({
    clientId,
    brokers,
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(config.upstream.connectTimeoutMs, 5_000),
    requestTimeout: 10_000,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
}
