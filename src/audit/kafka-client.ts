/**
 * A kafkajs client with the proxy's own connection settings: audit.bootstrap (default
 * upstream.bootstrap) and upstream.sasl (PLAIN, SCRAM-SHA-256/512, or OAUTHBEARER with the
 * client-credentials token), for the audit producer and the `gatehouse audit` commands.
 */
import kafkajs from 'kafkajs';
import type { Kafka, SASLOptions } from 'kafkajs';
import type { GatehouseConfig } from '../config/schema.js';
import { ClientCredentialsTokens } from '../identity/upstream/client-credentials.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

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
  return new KafkaClient({
    clientId,
    brokers,
    ...(sasl ? { sasl } : {}),
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(config.upstream.connectTimeoutMs, 5_000),
    requestTimeout: 10_000,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
}
