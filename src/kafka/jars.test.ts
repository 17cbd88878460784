import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureKafka, kafkaMajor, which } from './jars.js';

const saved = { PATH: process.env.PATH, GATEHOUSE_CACHE: process.env.GATEHOUSE_CACHE };
const scratch: string[] = [];

afterEach(async () => {
  process.env.PATH = saved.PATH;
  if (saved.GATEHOUSE_CACHE === undefined) delete process.env.GATEHOUSE_CACHE;
  else process.env.GATEHOUSE_CACHE = saved.GATEHOUSE_CACHE;
  await Promise.all(scratch.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'gatehouse-jars-test-'));
  scratch.push(d);
  return d;
}

/** A PATH holding only links to the named tools. */
async function pathWith(...tools: string[]): Promise<string> {
  const bin = await tempDir();
  for (const t of tools) {
    const real = which(t);
    if (!real) throw new Error(`${t} not installed`);
    await symlink(real, join(bin, t));
  }
  return bin;
}

describe('ensureKafka', () => {
  it.each(['4.3.1', '3.9.1'])('gives the jars and message definitions of Kafka %s', async (version) => {
    const kafka = await ensureKafka(version);
    expect(kafka.version).toBe(version);
    expect(existsSync(join(kafka.dir, '.complete'))).toBe(true);
    const cp = kafka.classpath.split(delimiter);
    expect(cp).toContain(join(kafka.dir, `kafka-clients-${version}.jar`));
    expect(cp).toContain(join(kafka.dir, `kafka_2.13-${version}.jar`));
    expect(cp).toContain(join(kafka.dir, `kafka-tools-${version}.jar`));
    expect(cp.every((j) => j.endsWith('.jar') && existsSync(j))).toBe(true);
    if (kafkaMajor(version) >= 4) {
      expect(cp.some((j) => /log4j-core-2\.[\d.]+\.jar$/.test(j))).toBe(true);
      expect(cp.some((j) => /reload4j/.test(j))).toBe(false);
    } else {
      expect(cp.some((j) => /reload4j-[\d.]+\.jar$/.test(j))).toBe(true);
    }
    const produce = JSON.parse(readFileSync(join(kafka.defsDir, 'common', 'message', 'ProduceRequest.json'), 'utf8').replace(/^\s*\/\/.*$/gm, ''));
    expect(produce).toMatchObject({ apiKey: 0, type: 'request', name: 'ProduceRequest' });
  });

  it('needs neither Maven nor unzip once the cache is complete', async () => {
    await ensureKafka('4.3.1');
    process.env.PATH = await pathWith(); // nothing at all on PATH
    const again = await ensureKafka('4.3.1');
    expect(again.classpath).toContain('kafka-clients-4.3.1.jar');
  });

  it('fails with a one-line install hint when Maven is missing', async () => {
    process.env.GATEHOUSE_CACHE = await tempDir();
    process.env.PATH = await pathWith('java');
    const err = await ensureKafka('4.3.1').then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/^Maven \(mvn\) not found: install it .*apt-get install maven/);
    expect(err?.message).not.toContain('\n');
  });

  it('rejects a malformed version before doing anything', async () => {
    await expect(ensureKafka('latest')).rejects.toThrow(/not a Kafka version/);
  });

  it.each([
    ['unzip', ['unzip']],
    ['the JDK jar tool when unzip is missing', ['jar']],
  ])('unpacks common/message/*.json from kafka-clients with %s', async (_how, tools) => {
    const real = await ensureKafka('4.3.1');
    const cache = await tempDir();
    const jarDir = join(cache, 'kafka', '4.3.1');
    await mkdir(jarDir, { recursive: true });
    await symlink(join(real.dir, 'kafka-clients-4.3.1.jar'), join(jarDir, 'kafka-clients-4.3.1.jar'));
    await writeFile(join(jarDir, '.complete'), '{}\n');
    process.env.GATEHOUSE_CACHE = cache;
    process.env.PATH = await pathWith(...tools);

    const kafka = await ensureKafka('4.3.1');
    expect(kafka.defsDir).toBe(join(cache, 'defs', '4.3.1'));
    const got = readdirSync(join(kafka.defsDir, 'common', 'message')).sort();
    const want = readdirSync(join(real.defsDir, 'common', 'message')).filter((f) => f.endsWith('.json')).sort();
    expect(got).toEqual(want);
    expect(got).toContain('FetchResponse.json');
    // no staging folders left behind
    expect(readdirSync(join(cache, 'defs'))).toEqual(['4.3.1']);
  });
});
