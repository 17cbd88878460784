/**
 * vitest globalSetup: one real Kafka broker for the whole run (version from
 * GATEHOUSE_KAFKA_VERSION, default 4.3.1), handed to tests as inject('kafkaBootstrap'),
 * inject('kafkaClasspath') and inject('kafkaVersion'); its SASL listener as inject('kafkaSaslBootstrap').
 */
import type { TestProject } from 'vitest/node';
import { defaultKafkaVersion, ensureKafka } from '../src/kafka/jars.js';
import { startBroker } from '../src/kafka/broker.js';
import { PROXY_PASSWORD, PROXY_USER } from './helpers/upstream-credentials.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const version = defaultKafkaVersion();
  await ensureKafka(version);
  const started = Date.now();
  // Besides PLAINTEXT, a listener that requires SASL (PLAIN or SCRAM-SHA-512 as the proxy's own
  // account): the identity tests put the proxy in front of it so its upstream login is real.
  const broker = await startBroker({
    version,
    listeners: [{
      name: 'SASL',
      securityProtocol: 'SASL_PLAINTEXT',
      props: {
        'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-512',
        'plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${PROXY_USER}="${PROXY_PASSWORD}";`,
        'scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      },
    }],
    formatArgs: ['--add-scram', `SCRAM-SHA-512=[name=${PROXY_USER},password=${PROXY_PASSWORD}]`],
  });
  process.stderr.write(`[gatehouse] Kafka ${version} broker at ${broker.bootstrap} (ready in ${Date.now() - started} ms, pid ${broker.pid})\n`);
  project.provide('kafkaBootstrap', broker.bootstrap);
  project.provide('kafkaClasspath', broker.classpath);
  project.provide('kafkaVersion', broker.version);
  project.provide('kafkaSaslBootstrap', broker.endpoints.SASL!);
  return async () => {
    await broker.stop();
  };
}
