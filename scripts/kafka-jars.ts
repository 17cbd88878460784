/**
 * Fetches Kafka's jars (via Maven) and message definitions into the cache, once.
 *   tsx scripts/kafka-jars.ts              # 4.3.1 and 3.9.1
 *   tsx scripts/kafka-jars.ts 4.3.1 ...    # just these
 * Prints one line per version: version, jar folder, definitions folder.
 */
import { DEFAULT_KAFKA_VERSIONS, ensureKafka } from '../src/kafka/jars.js';

const versions = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [...DEFAULT_KAFKA_VERSIONS];
try {
  for (const version of versions) {
    const kafka = await ensureKafka(version);
    process.stdout.write(`${kafka.version}\tjars=${kafka.dir}\tdefs=${kafka.defsDir}\n`);
  }
} catch (err) {
  process.stderr.write(`kafka-jars: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
