import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureKafka, kafkaMajor } from './jars.js';
import { KAFKA_TOOLS, classpathKafkaVersion, runTool, toolClass } from './tools.js';

/** Every class file name in every jar of a Kafka install. */
async function classesOf(version: string): Promise<Set<string>> {
  const kafka = await ensureKafka(version);
  const names = new Set<string>();
  for (const jar of ['kafka_2.13', 'kafka-tools', 'kafka-server', 'kafka-storage']) {
    const listing = execFileSync('unzip', ['-Z1', join(kafka.dir, `${jar}-${version}.jar`)], { encoding: 'utf8', maxBuffer: 64 << 20 });
    for (const line of listing.split('\n')) if (line.endsWith('.class')) names.add(line.slice(0, -'.class'.length).replaceAll('/', '.'));
  }
  return names;
}

describe('tool main classes', () => {
  it.each(['4.3.1', '3.9.1'])('exist in the Kafka %s jars for every tool that version has', async (version) => {
    const classes = await classesOf(version);
    const major = kafkaMajor(version);
    const checked: string[] = [];
    for (const tool of KAFKA_TOOLS) {
      let cls: string;
      try {
        cls = toolClass(tool, major);
      } catch {
        expect(major).toBe(3); // only 4.x-only tools may be missing
        continue;
      }
      expect(classes.has(cls), `${tool} -> ${cls}`).toBe(true);
      checked.push(tool);
    }
    expect(checked).toEqual(expect.arrayContaining(['topics', 'console-producer', 'console-consumer', 'consumer-groups', 'configs', 'acls', 'producer-perf', 'consumer-perf']));
  });

  it('maps by major version where classes moved', () => {
    expect(toolClass('console-producer', 4)).toBe('org.apache.kafka.tools.ConsoleProducer');
    expect(toolClass('console-producer', 3)).toBe('kafka.tools.ConsoleProducer');
    expect(toolClass('acls', 3)).toBe('kafka.admin.AclCommand');
    expect(() => toolClass('share-groups', 3)).toThrow(/Kafka 3.x has no "share-groups" tool/);
  });
});

describe('runTool', () => {
  it('reads the Kafka version from the classpath', async () => {
    const k4 = await ensureKafka('4.3.1');
    expect(classpathKafkaVersion(k4.classpath)).toBe('4.3.1');
    expect(classpathKafkaVersion(join(k4.dir, '*'))).toBe('4.3.1');
    expect(() => classpathKafkaVersion('/nowhere/x.jar')).toThrow(/kafka-clients/);
  });

  it.each(['4.3.1', '3.9.1'])('runs a Kafka %s tool and returns its exit code and output', async (version) => {
    const kafka = await ensureKafka(version);
    const ok = await runTool(kafka.classpath, 'topics', ['--version']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(version);
    const bad = await runTool(kafka.classpath, 'topics', ['--no-such-option']);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/no-such-option/);
  });

  it('rejects names that are neither a known tool nor a class name', async () => {
    const kafka = await ensureKafka('4.3.1');
    expect(() => runTool(kafka.classpath, 'rm -rf /', [])).toThrow(/unknown Kafka tool/);
  });
});
