/**
 * Starts a real single-node Kafka (KRaft, combined broker + controller) on loopback from the
 * Maven-resolved jars: two JVM launches (StorageTool format, then kafka.Kafka), fresh temp
 * folder, free ports, no JMX port, no fixed sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKafka, javaBin, log4jArgs, toolJvmArgs } from './jars.js';
import { track, watchParent } from './reaper.js';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

/** A listener added next to the built-in PLAINTEXT and CONTROLLER ones, e.g. for SASL. */
export interface ExtraListener {
  /** Listener name, upper case by convention (e.g. "SASL"); not PLAINTEXT or CONTROLLER. */
  name: string;
  securityProtocol: SecurityProtocol;
  /** Loopback port; default: a free one. */
  port?: number;
  /**
   * Listener-scoped settings, written as `listener.name.<name lower-cased>.<key>=<value>`, e.g.
   * `{ 'sasl.enabled.mechanisms': 'PLAIN', 'plain.sasl.jaas.config': '...PlainLoginModule required user_svc="x";' }`.
   */
  props?: Record<string, string>;
}

export interface StartBrokerOptions {
  /** Kafka version; default env GATEHOUSE_KAFKA_VERSION or 4.3.1. */
  version?: string;
  /** Extra listeners (e.g. SASL_PLAINTEXT); each gets a port, an advertised 127.0.0.1 address and a protocol-map entry. */
  listeners?: ExtraListener[];
  /** server.properties entries; applied last, so they override or add anything. */
  serverProps?: Record<string, string>;
  /** JVM system properties (-Dkey=value) for the broker JVM. */
  jvmProps?: Record<string, string>;
  /** Extra arguments to `StorageTool format`, e.g. ['--add-scram', 'SCRAM-SHA-512=[name=svc,password=x]']. */
  formatArgs?: string[];
  /** Where server.log goes (kept after stop). Default: inside the temp folder (deleted on stop). */
  logDir?: string;
  /** How long to wait for "Kafka Server started" and an open port; default 90 s. */
  startTimeoutMs?: number;
  /** Fixed PLAINTEXT and controller ports (default: free ones), e.g. to restart a broker where it was. */
  port?: number;
  controllerPort?: number;
  /**
   * A folder to use (and keep after stop) instead of a fresh temp one: a broker started again
   * with the same folder and ports comes back with its data (the storage is formatted once).
   */
  workDir?: string;
}

export interface Broker {
  /** "127.0.0.1:port" of the PLAINTEXT listener. */
  bootstrap: string;
  port: number;
  controllerPort: number;
  /** "127.0.0.1:port" of every client listener by name (PLAINTEXT and the extra ones). */
  endpoints: Record<string, string>;
  version: string;
  /** The folder holding the version's jars (as ensureKafka's `dir`); `dir/*` is a classpath too. */
  dir: string;
  classpath: string;
  /** Kafka's log.dirs (the partition data). */
  dataDir: string;
  /** The temp folder holding server.properties, data and (by default) logs; removed by stop(). */
  workDir: string;
  /** server.log (Kafka's INFO log). */
  logFile: string;
  /** The broker JVM's process id. */
  pid: number;
  /** SIGTERM, wait for the JVM to exit (SIGKILL after 20 s), remove the temp folder. Idempotent. */
  stop(): Promise<void>;
}

/** startBroker's failure once the broker JVM was launched; by then the JVM is gone and `workDir` removed. */
export class BrokerStartError extends Error {
  constructor(message: string, readonly pid: number | undefined, readonly workDir: string) {
    super(message);
    this.name = 'BrokerStartError';
  }
}

const STARTED_MARKER = 'Kafka Server started';
const TAIL_LINES = 15;
const MAX_ERROR_LINES = 8;

/** A random Kafka Uuid in its string form (16 bytes, base64url, no padding), never starting with "-". */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** `count` distinct free loopback ports (bound to port 0 together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function escapeProp(s: string, isKey: boolean): string {
  let out = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  if (isKey) out = out.replace(/([=: #!])/g, '\\$1');
  else out = out.replace(/^([ #!])/, '\\$1');
  return out;
}

/** Java .properties text for `props`. */
export function formatProperties(props: Record<string, string>): string {
  return Object.entries(props).map(([k, v]) => `${escapeProp(k, true)}=${escapeProp(v, false)}`).join('\n') + '\n';
}

function sysProps(props: Record<string, string> | undefined): string[] {
  return Object.entries(props ?? {}).map(([k, v]) => `-D${k}=${v}`);
}

/** Remembers the last lines of a stream of text, and its first ERROR/FATAL and "Caused by" lines. */
class Tail {
  private lines: string[] = [];
  private partial = '';
  readonly errors: string[] = [];
  push(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    for (const line of parts) {
      if (this.errors.length < MAX_ERROR_LINES && /\] (ERROR|FATAL) |^Caused by: /.test(line)) this.errors.push(line);
    }
    if (this.lines.length > TAIL_LINES) this.lines.splice(0, this.lines.length - TAIL_LINES);
  }
  text(): string {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].join('\n');
  }
}

function runOnce(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const untrack = track(child);
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (err) => {
      untrack();
      reject(err);
    });
    child.on('close', (code) => {
      untrack();
      resolve({ code, output });
    });
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

function brokerProperties(o: {
  port: number;
  controllerPort: number;
  dataDir: string;
  extra: { listener: ExtraListener; port: number }[];
  serverProps: Record<string, string> | undefined;
}): Record<string, string> {
  const listeners = [`PLAINTEXT://127.0.0.1:${o.port}`, `CONTROLLER://127.0.0.1:${o.controllerPort}`];
  const advertised = [`PLAINTEXT://127.0.0.1:${o.port}`];
  const protocolMap = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  const scoped: Record<string, string> = {};
  for (const { listener, port } of o.extra) {
    const name = listener.name.toUpperCase();
    listeners.push(`${name}://127.0.0.1:${port}`);
    advertised.push(`${name}://127.0.0.1:${port}`);
    protocolMap.push(`${name}:${listener.securityProtocol}`);
    for (const [k, v] of Object.entries(listener.props ?? {})) scoped[`listener.name.${name.toLowerCase()}.${k}`] = v;
  }
  return {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${o.controllerPort}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    listeners: listeners.join(','),
    'advertised.listeners': advertised.join(','),
    'listener.security.protocol.map': protocolMap.join(','),
    'log.dirs': o.dataDir,
    'num.partitions': '1',
    'default.replication.factor': '1',
    'min.insync.replicas': '1',
    'auto.create.topics.enable': 'true',
    'group.initial.rebalance.delay.ms': '0',
    'offsets.topic.replication.factor': '1',
    // One partition each: a test broker creates these internal topics much faster.
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'share.coordinator.state.topic.num.partitions': '1',
    ...scoped,
    ...(o.serverProps ?? {}),
  };
}

/** Starts a fresh single-node KRaft Kafka on loopback and resolves once it serves clients. */
export async function startBroker(opts: StartBrokerOptions = {}): Promise<Broker> {
  const kafka = await ensureKafka(opts.version);
  const { version, classpath } = kafka;
  const java = javaBin();
  const extraListeners = opts.listeners ?? [];
  for (const l of extraListeners) {
    if (['PLAINTEXT', 'CONTROLLER'].includes(l.name.toUpperCase())) throw new Error(`listener name ${l.name} is reserved`);
  }
  const ports = await freePorts(2 + extraListeners.filter((l) => l.port === undefined).length);
  const port = opts.port ?? ports[0]!;
  const controllerPort = opts.controllerPort ?? ports[1]!;
  let next = 2;
  const extra = extraListeners.map((listener) => ({ listener, port: listener.port ?? ports[next++]! }));

  const keepWorkDir = opts.workDir !== undefined;
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'gatehouse-kafka-')));
  if (keepWorkDir) await mkdir(workDir, { recursive: true });
  const dataDir = join(workDir, 'data');
  const logDir = opts.logDir ?? join(workDir, 'logs');
  const logFile = join(logDir, 'server.log');
  const propsFile = join(workDir, 'server.properties');
  try {
    await mkdir(logDir, { recursive: true });
    await writeFile(propsFile, formatProperties(brokerProperties({ port, controllerPort, dataDir, extra, serverProps: opts.serverProps })));
    // A kept folder that was formatted before keeps its cluster id and data.
    const formatted = keepWorkDir && existsSync(join(dataDir, 'meta.properties'));
    const format = formatted ? { code: 0, output: '' } : await runOnce(java, [
      ...toolJvmArgs(version),
      `-Dkafka.logs.dir=${logDir}`,
      '-cp', classpath, 'kafka.tools.StorageTool',
      'format', '--config', propsFile, `--cluster-id=${randomClusterId()}`, '--ignore-formatted',
      ...(opts.formatArgs ?? []),
    ]);
    if (format.code !== 0) {
      throw new Error(`Kafka ${version} StorageTool format failed (exit ${format.code}):\n${format.output.trim()}`);
    }
  } catch (err) {
    if (!keepWorkDir) await rm(workDir, { recursive: true, force: true });
    throw err;
  }

  const child = spawn(java, [
    '-Xms256m', '-Xmx768m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${logDir}`,
    ...log4jArgs(version, 'broker'),
    ...sysProps(opts.jvmProps),
    '-cp', classpath, 'kafka.Kafka', propsFile,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const untrack = track(child, [workDir]);
  const stopWatchdog = child.pid !== undefined ? watchParent(child.pid, [workDir]) : () => {};
  const consoleTail = new Tail();
  const consoleLog = createWriteStream(join(logDir, 'console.log'));
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (b: Buffer) => {
      consoleTail.push(b.toString());
      consoleLog.write(b);
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited(child)) {
        child.kill('SIGTERM');
        if (!(await waitExit(child, 20_000))) {
          child.kill('SIGKILL');
          await waitExit(child, 10_000);
        }
      }
      stopWatchdog();
      await new Promise<void>((resolve) => consoleLog.end(() => resolve()));
      if (!keepWorkDir) await rm(workDir, { recursive: true, force: true, maxRetries: 3 });
      untrack();
    })();
    return stopping;
  };

  // Wait for the readiness line in server.log (or the console) and for the port to answer.
  const logTail = new Tail();
  let logOffset = 0;
  let carry = '';
  let started = false;
  const readLog = async (): Promise<void> => {
    if (!existsSync(logFile)) return;
    const fh = await open(logFile, 'r');
    try {
      for (;;) {
        const buf = Buffer.alloc(64 * 1024);
        const { bytesRead } = await fh.read(buf, 0, buf.length, logOffset);
        if (bytesRead === 0) break;
        logOffset += bytesRead;
        const text = buf.subarray(0, bytesRead).toString();
        logTail.push(text);
        if ((carry + text).includes(STARTED_MARKER)) started = true;
        carry = text.slice(-STARTED_MARKER.length);
      }
    } finally {
      await fh.close();
    }
  };
  const failure = async (why: string): Promise<Error> => {
    await readLog().catch(() => {});
    const lastLog = logTail.text().trim();
    const lastConsole = consoleTail.text().trim();
    const errors = [...new Set([...logTail.errors, ...consoleTail.errors])];
    await stop().catch(() => {});
    return new BrokerStartError(
      `Kafka ${version} broker (127.0.0.1:${port}) ${why}.` +
        (errors.length ? `\n--- errors ---\n${errors.join('\n')}` : '') +
        (lastLog ? `\n--- last lines of server.log ---\n${lastLog}` : '') +
        (lastConsole ? `\n--- last console output ---\n${lastConsole}` : ''),
      child.pid,
      workDir,
    );
  };

  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) throw await failure(`could not be launched: ${spawnError.message}`);
    if (exited(child)) throw await failure(`exited (${child.signalCode ?? `code ${child.exitCode}`}) before it was ready`);
    await readLog();
    if (!started && consoleTail.text().includes(STARTED_MARKER)) started = true;
    if (started && (await canConnect(port))) break;
    if (Date.now() > deadline) throw await failure(`was not ready after ${Math.round(timeoutMs / 1000)} s`);
    // Poll, but wake up at once if the JVM dies.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 100);
      function done(): void {
        clearTimeout(timer);
        child.off('exit', done);
        resolve();
      }
      child.once('exit', done);
    });
  }

  const endpoints: Record<string, string> = { PLAINTEXT: `127.0.0.1:${port}` };
  for (const { listener, port: p } of extra) endpoints[listener.name.toUpperCase()] = `127.0.0.1:${p}`;
  return {
    bootstrap: `127.0.0.1:${port}`,
    port,
    controllerPort,
    endpoints,
    version,
    dir: kafka.dir,
    classpath,
    dataDir,
    workDir,
    logFile,
    pid: child.pid!,
    stop,
  };
}
