/**
 * Resolves Apache Kafka's jars from Maven Central into a cache folder (no Docker, no tarball),
 * and unpacks the protocol message definitions (common/message/*.json) from kafka-clients.
 *
 * Layout under the cache root (env GATEHOUSE_CACHE, default ~/.cache/gatehouse):
 *   kafka/<version>/*.jar         every runtime jar of kafka_2.13 + kafka-tools (+ log4j2 on 4.x)
 *   kafka/<version>/.complete     written after Maven succeeded; its absence means "resolve again"
 *   defs/<version>/common/message/*.json
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const DEFAULT_KAFKA_VERSION = '4.3.1';
/** The versions `scripts/kafka-jars.ts` prepares when given no arguments. */
export const DEFAULT_KAFKA_VERSIONS: readonly string[] = ['4.3.1', '3.9.1'];

export interface KafkaInstall {
  version: string;
  /** Folder holding every jar. */
  dir: string;
  /** Every jar in `dir`, joined with the platform's path delimiter, ready for `java -cp`. */
  classpath: string;
  /** Folder whose `common/message/*.json` are the protocol message definitions of `version`. */
  defsDir: string;
}

export function defaultKafkaVersion(): string {
  return process.env.GATEHOUSE_KAFKA_VERSION || DEFAULT_KAFKA_VERSION;
}

export function cacheRoot(): string {
  return resolve(process.env.GATEHOUSE_CACHE || join(homedir(), '.cache', 'gatehouse'));
}

export function kafkaMajor(version: string): number {
  const major = Number.parseInt(version, 10);
  if (!Number.isInteger(major) || !/^\d+\.\d+\.\d+([-.].+)?$/.test(version)) {
    throw new Error(`not a Kafka version: "${version}" (expected e.g. 4.3.1)`);
  }
  return major;
}

/** deploy/kafka of this checkout (found by walking up from this module, so it works from src/ and dist/). */
export function deployKafkaDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'deploy', 'kafka');
    if (existsSync(join(candidate, 'pom.xml'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find deploy/kafka/pom.xml above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Absolute path of an executable on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The `java` to run: $JAVA_HOME/bin/java if it exists, else `java` on PATH; throws a one-line hint if neither. */
export function javaBin(): string {
  const home = process.env.JAVA_HOME;
  if (home) {
    const bin = join(home, 'bin', 'java');
    if (existsSync(bin)) return bin;
  }
  const found = which('java');
  if (!found) {
    throw new Error('Java not found: install a JDK or JRE 17+ (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME');
  }
  return found;
}

/** The -D flag pointing Kafka's logging at deploy/kafka's config for `kind` (log4j2 on 4.x, log4j 1 on 3.x). */
export function log4jArgs(version: string, kind: 'broker' | 'tools'): string[] {
  const dir = deployKafkaDir();
  if (kafkaMajor(version) >= 4) {
    return [`-Dlog4j2.configurationFile=${join(dir, kind === 'broker' ? 'log4j2.properties' : 'tools-log4j2.properties')}`];
  }
  return [`-Dlog4j.configuration=${pathToFileURL(join(dir, kind === 'broker' ? 'log4j.properties' : 'tools-log4j.properties')).href}`];
}

/** JVM flags for short-lived tools: small heap, fast start, quiet log4j (WARN to stderr). */
export function toolJvmArgs(version: string): string[] {
  return ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto', '-Djava.awt.headless=true', ...log4jArgs(version, 'tools')];
}

function mavenBin(): string {
  const found = which('mvn');
  if (!found) {
    throw new Error('Maven (mvn) not found: install it (e.g. `apt-get install maven`) to fetch the Kafka jars from Maven Central');
  }
  return found;
}

function log(line: string): void {
  process.stderr.write(`[gatehouse] ${line}\n`);
}

/** Runs a command, its stdout and stderr going to our stderr; rejects on a non-zero exit. */
function runVisible(cmd: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

function listJars(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jar'))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Moves a freshly filled staging folder into place. If another process finished first (the
 * destination is complete), the staging copy is discarded.
 */
async function publish(staging: string, dest: string, isComplete: () => boolean): Promise<void> {
  if (isComplete()) {
    await rm(staging, { recursive: true, force: true });
    return;
  }
  await rm(dest, { recursive: true, force: true });
  try {
    await rename(staging, dest);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (!isComplete()) throw err;
  }
}

async function resolveJars(version: string, dir: string): Promise<void> {
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return;
  const mvn = mavenBin();
  javaBin(); // Maven needs it too; fail early with the same hint
  const pom = join(deployKafkaDir(), kafkaMajor(version) >= 4 ? 'pom.xml' : 'pom-3.x.xml');
  const staging = `${dir}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  log(`resolving Kafka ${version} from Maven Central into ${dir} (first run, ~100 MB)…`);
  await runVisible(mvn, ['-B', '-Dstyle.color=never', '-f', pom, `-Dkafka.version=${version}`, `-Dout=${staging}`, 'dependency:copy-dependencies']);
  const jars = await readdir(staging).catch(() => [] as string[]);
  if (!jars.some((f) => f === `kafka-clients-${version}.jar`)) {
    throw new Error(`Maven finished but ${staging} has no kafka-clients-${version}.jar`);
  }
  await writeFile(join(staging, '.complete'), JSON.stringify({ version, pom, at: new Date().toISOString() }) + '\n');
  await publish(staging, dir, () => existsSync(marker));
  log(`Kafka ${version}: ${jars.length} jars in ${dir}`);
}

function hasDefs(defsDir: string): boolean {
  try {
    return readdirSync(join(defsDir, 'common', 'message')).some((f) => f.endsWith('.json'));
  } catch {
    return false;
  }
}

async function extractDefs(version: string, jarDir: string, defsDir: string): Promise<void> {
  if (hasDefs(defsDir)) return;
  const clientsJar = join(jarDir, `kafka-clients-${version}.jar`);
  if (!existsSync(clientsJar)) throw new Error(`missing ${clientsJar}; delete ${jarDir} and run again`);
  const staging = `${defsDir}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const unzip = which('unzip');
  if (unzip) {
    await runVisible(unzip, ['-q', '-o', clientsJar, 'common/message/*.json', '-d', staging]);
  } else {
    const jarTool = process.env.JAVA_HOME && existsSync(join(process.env.JAVA_HOME, 'bin', 'jar')) ? join(process.env.JAVA_HOME, 'bin', 'jar') : which('jar');
    if (!jarTool) throw new Error('neither `unzip` nor the JDK `jar` tool found: install unzip (e.g. `apt-get install unzip`)');
    await runVisible(jarTool, ['xf', clientsJar, 'common/message/'], staging);
    // `jar xf` cannot filter by pattern; keep only the definitions, as unzip does.
    const messageDir = join(staging, 'common', 'message');
    for (const f of await readdir(messageDir)) {
      if (!f.endsWith('.json')) await rm(join(messageDir, f), { recursive: true, force: true });
    }
  }
  if (!hasDefs(staging)) throw new Error(`${clientsJar} holds no common/message/*.json`);
  await mkdir(dirname(defsDir), { recursive: true });
  await publish(staging, defsDir, () => hasDefs(defsDir));
}

/**
 * Makes sure Kafka `version`'s jars and message definitions are in the cache (running Maven and
 * unzip only when they are missing) and says where they are. Fast when everything is present.
 */
export async function ensureKafka(version: string = defaultKafkaVersion()): Promise<KafkaInstall> {
  kafkaMajor(version);
  const root = cacheRoot();
  const dir = join(root, 'kafka', version);
  const defsDir = join(root, 'defs', version);
  await resolveJars(version, dir);
  await extractDefs(version, dir, defsDir);
  return { version, dir, classpath: listJars(dir).join(delimiter), defsDir };
}
