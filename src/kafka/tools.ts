/**
 * Runs Kafka's Java command-line tools (what bin/kafka-*.sh would run) by main class, on the
 * classpath from ensureKafka()/startBroker(), with a small fast-starting quiet JVM.
 */
import { readdirSync } from 'node:fs';
import { basename, delimiter, dirname } from 'node:path';
import { javaBin, kafkaMajor, toolJvmArgs } from './jars.js';
import { runProcess, type ProcessResult } from './process.js';

/** Main class of each tool, by Kafka major version (checked against the 4.3.1 and 3.9.1 jars). */
const TOOL_CLASSES = {
  topics: { 4: 'org.apache.kafka.tools.TopicCommand', 3: 'org.apache.kafka.tools.TopicCommand' },
  'console-producer': { 4: 'org.apache.kafka.tools.ConsoleProducer', 3: 'kafka.tools.ConsoleProducer' },
  'console-consumer': { 4: 'org.apache.kafka.tools.consumer.ConsoleConsumer', 3: 'org.apache.kafka.tools.consumer.ConsoleConsumer' },
  'consumer-groups': { 4: 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', 3: 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand' },
  configs: { 4: 'kafka.admin.ConfigCommand', 3: 'kafka.admin.ConfigCommand' },
  acls: { 4: 'org.apache.kafka.tools.AclCommand', 3: 'kafka.admin.AclCommand' },
  'producer-perf': { 4: 'org.apache.kafka.tools.ProducerPerformance', 3: 'org.apache.kafka.tools.ProducerPerformance' },
  'consumer-perf': { 4: 'org.apache.kafka.tools.ConsumerPerformance', 3: 'org.apache.kafka.tools.ConsumerPerformance' },
  'broker-api-versions': { 4: 'org.apache.kafka.tools.BrokerApiVersionsCommand', 3: 'kafka.admin.BrokerApiVersionsCommand' },
  features: { 4: 'org.apache.kafka.tools.FeatureCommand', 3: 'org.apache.kafka.tools.FeatureCommand' },
  'metadata-quorum': { 4: 'org.apache.kafka.tools.MetadataQuorumCommand', 3: 'org.apache.kafka.tools.MetadataQuorumCommand' },
  'get-offsets': { 4: 'org.apache.kafka.tools.GetOffsetShell', 3: 'org.apache.kafka.tools.GetOffsetShell' },
  'delete-records': { 4: 'org.apache.kafka.tools.DeleteRecordsCommand', 3: 'org.apache.kafka.tools.DeleteRecordsCommand' },
  'dump-log': { 4: 'org.apache.kafka.tools.DumpLogSegments', 3: 'kafka.tools.DumpLogSegments' },
  transactions: { 4: 'org.apache.kafka.tools.TransactionsCommand', 3: 'org.apache.kafka.tools.TransactionsCommand' },
  'delegation-tokens': { 4: 'org.apache.kafka.tools.DelegationTokenCommand', 3: 'org.apache.kafka.tools.DelegationTokenCommand' },
  'leader-election': { 4: 'org.apache.kafka.tools.LeaderElectionCommand', 3: 'org.apache.kafka.tools.LeaderElectionCommand' },
  'reassign-partitions': { 4: 'org.apache.kafka.tools.reassign.ReassignPartitionsCommand', 3: 'org.apache.kafka.tools.reassign.ReassignPartitionsCommand' },
  'log-dirs': { 4: 'org.apache.kafka.tools.LogDirsCommand', 3: 'org.apache.kafka.tools.LogDirsCommand' },
  'client-metrics': { 4: 'org.apache.kafka.tools.ClientMetricsCommand', 3: 'org.apache.kafka.tools.ClientMetricsCommand' },
  'e2e-latency': { 4: 'org.apache.kafka.tools.EndToEndLatency', 3: 'org.apache.kafka.tools.EndToEndLatency' },
  'verifiable-producer': { 4: 'org.apache.kafka.tools.VerifiableProducer', 3: 'org.apache.kafka.tools.VerifiableProducer' },
  'verifiable-consumer': { 4: 'org.apache.kafka.tools.VerifiableConsumer', 3: 'org.apache.kafka.tools.VerifiableConsumer' },
  cluster: { 4: 'org.apache.kafka.tools.ClusterTool', 3: 'org.apache.kafka.tools.ClusterTool' },
  storage: { 4: 'kafka.tools.StorageTool', 3: 'kafka.tools.StorageTool' },
  // Kafka 4 only.
  groups: { 4: 'org.apache.kafka.tools.GroupsCommand' },
  'share-groups': { 4: 'org.apache.kafka.tools.consumer.group.ShareGroupCommand' },
  'console-share-consumer': { 4: 'org.apache.kafka.tools.consumer.ConsoleShareConsumer' },
  'streams-groups': { 4: 'org.apache.kafka.tools.streams.StreamsGroupCommand' },
} as const satisfies Record<string, { 4: string; 3?: string }>;

export type KafkaTool = keyof typeof TOOL_CLASSES;
export const KAFKA_TOOLS = Object.keys(TOOL_CLASSES) as KafkaTool[];

/** Main class of `tool` for Kafka major version `major` (3 or 4); throws if that version has no such tool. */
export function toolClass(tool: KafkaTool, major: number): string {
  const byMajor: { 4: string; 3?: string } = TOOL_CLASSES[tool];
  if (!byMajor) throw new Error(`unknown Kafka tool "${tool}"`);
  const cls = major >= 4 ? byMajor[4] : major === 3 ? byMajor[3] : undefined;
  if (!cls) throw new Error(`Kafka ${major}.x has no "${tool}" tool`);
  return cls;
}

/** The Kafka version of a classpath, read from its kafka-clients-<version>.jar (a `dir/*` entry is listed). */
export function classpathKafkaVersion(classpath: string): string {
  for (const entry of classpath.split(delimiter)) {
    const names = entry.endsWith('*') ? safeReaddir(dirname(entry)) : [basename(entry)];
    for (const name of names) {
      const m = /^kafka-clients-(\d+\.\d+\.\d+.*)\.jar$/.exec(name);
      if (m) return m[1]!;
    }
  }
  throw new Error('no kafka-clients-<version>.jar on the classpath');
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export interface RunToolOptions {
  /** Written to the tool's stdin, which is then closed (otherwise stdin is /dev/null). */
  input?: string | Buffer;
  /** Kill the JVM and reject after this long; default 120 s. */
  timeoutMs?: number;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Kafka version of `classpath`; default: read from its kafka-clients jar name. */
  version?: string;
  /** Extra JVM arguments (e.g. -Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=...). */
  jvmArgs?: string[];
}

export type ToolResult = ProcessResult;

/**
 * Runs Kafka CLI `tool` (a name from the map, or a fully qualified main class) with `args`.
 * Resolves with exit code and output whatever the code; rejects only if the JVM cannot start or
 * runs past the timeout.
 */
export function runTool(classpath: string, tool: KafkaTool | (string & {}), args: string[], opts: RunToolOptions = {}): Promise<ToolResult> {
  const version = opts.version ?? classpathKafkaVersion(classpath);
  const mainClass = Object.hasOwn(TOOL_CLASSES, tool) ? toolClass(tool as KafkaTool, kafkaMajor(version)) : tool;
  if (!/^[\w$]+(\.[\w$]+)+$/.test(mainClass)) throw new Error(`unknown Kafka tool "${tool}" (name from KAFKA_TOOLS or a main class)`);
  return runProcess(javaBin(), [...toolJvmArgs(version), ...(opts.jvmArgs ?? []), '-cp', classpath, mainClass, ...args], opts, `kafka ${tool} ${args.join(' ')}`);
}
