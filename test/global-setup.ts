/**
 * vitest globalSetup: one real Kafka broker for the whole run (version from
 * GATEHOUSE_KAFKA_VERSION, default 4.3.1), handed to tests as inject('kafkaBootstrap'),
 * inject('kafkaClasspath') and inject('kafkaVersion').
 */
import type { TestProject } from 'vitest/node';
import { defaultKafkaVersion, ensureKafka } from '../src/kafka/jars.js';
import { startBroker } from '../src/kafka/broker.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const version = defaultKafkaVersion();
  await ensureKafka(version);
  const started = Date.now();
  const broker = await startBroker({ version });
  process.stderr.write(`[gatehouse] Kafka ${version} broker at ${broker.bootstrap} (ready in ${Date.now() - started} ms, pid ${broker.pid})\n`);
  project.provide('kafkaBootstrap', broker.bootstrap);
  project.provide('kafkaClasspath', broker.classpath);
  project.provide('kafkaVersion', broker.version);
  return async () => {
    await broker.stop();
  };
}
