/**
 * Benchmark: Kafka's own perf tools against one broker, direct and through Gatehouse, in the
 * same run. Three proxies, each measured against direct:
 *   pass-through                  no identity, policy or audit: the hop alone;
 *   OIDC + policy + audit         as deployed (the sandbox's identity, demo policy and audit
 *                                 trail): the Java tools log in with OIDC client credentials,
 *                                 the audit trail records offsets on the same broker;
 *   OIDC + policy + audit + capture   the same with full payload capture on the bench topic.
 * Rows: produce with the Java producer defaults and with linger.ms=5 batch.size=65536, consume,
 * a produce round trip timed here (round-trip.ts), and for the pass-through proxy also produce
 * at a fixed rate and Kafka's end-to-end latency tool. Each row reports the proxy's CPU per MB,
 * the proxied/direct throughput ratio and the p99 the proxy adds, as medians with min–max.
 *
 *   npm run bench                      default sizes
 *   npm run bench -- --records 500000  more records per run
 *   npm run bench -- --update-readme   also write the table into README.md
 *   npm run bench -- --only consume    only the rows whose "measurement · proxy" starts so
 *                                      (comma-separated; e.g. "produce round trip", "consume · OIDC")
 *
 * Each row runs direct and proxied back to back, alternating which goes first; ratios and added
 * p99 are taken per round (proxied against the direct run next to it) and the median of the
 * rounds is reported with their range. This is a benchmark, not a test: nothing fails on speed.
 */
import { spawn } from 'node:child_process';
import { cpus, totalmem, tmpdir } from 'node:os';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { canConnect, startBroker } from '../../src/kafka/broker.js';
import { runTool } from '../../src/kafka/tools.js';
import { SANDBOX_AUDIT_TOPIC, sandboxSecurityConfig } from '../../src/cli/sandbox.js';
import { oidcClientProperties } from '../../src/sandbox/client-properties.js';
import { demoClientsWithGeneratedSecrets, startOidcProvider } from '../../src/sandbox/oidc-provider.js';
import { produceRoundTrips } from './round-trip.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
    'latency-rate': { type: 'string', default: '2000' },
    'update-readme': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const RECORDS = Number(values.records);
const ROUNDS = Number(values.rounds);
/** Sequential Produce round trips timed per round, after untimed ones. */
const ROUND_TRIPS = 20_000;
const ROUND_TRIP_WARMUP = 2000;
/** Records EndToEndLatency sends one at a time. */
const E2E_RECORDS = 5000;
const LATENCY_RATE = Number(values['latency-rate']);
const RECORD_SIZE = 1024;
const ONLY = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
if (ONLY && values['update-readme']) throw new Error('--update-readme needs every measurement; drop --only');

/** The demo policy gives payments-app every right on payments_* topics and payments-* groups. */
const PRINCIPAL = 'payments-app';
const TOPIC = 'payments_bench';
const E2E_TOPIC = 'bench-latency';
/** The broker looks for log segments past retention this often (keeps the disk bounded: rows write tens of GB). */
const RETENTION_CHECK_MS = 5000;
const AUDIT_MAX_MESSAGE_BYTES = 64 * 2 ** 20;
/** Proxy log lines saying the audit trail is not keeping up: numbers measured so are not published. */
const AUDIT_TROUBLE = /GH_AUDIT_(UNREACHABLE|BACKLOG|SPOOL_FULL)/;
const troubles: string[] = [];

const PRODUCER_SETTINGS: Array<{ name: string; props: string[] }> = [
  { name: 'Java defaults', props: [] },
  { name: 'linger.ms=5 batch.size=65536', props: ['linger.ms=5', 'batch.size=65536'] },
];

interface Result {
  recordsPerSec: number;
  mbPerSec: number;
  p50?: number;
  p99?: number;
  /** Proxied runs: CPU time the proxy process used (user + system), per MB moved. */
  proxyCpuMsPerMB?: number;
}

/** How a client reaches a target: where, and for an authenticating proxy, how it logs in. */
interface Client {
  bootstrap: string;
  /** Java client properties file for SASL/OAUTHBEARER (OIDC client credentials). */
  saslProps?: string;
  jvmArgs: string[];
  /** A fresh access token, for the round-trip client. */
  token?: () => Promise<string>;
}

interface Proxy {
  name: string;
  client: Client;
  pid: number;
  stop: () => Promise<void>;
}

/** User + system CPU seconds a process has used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/**
 * Waits until the process has used no CPU for two 250 ms polls in a row (at most 60 s): work a
 * run left behind (audit events still being delivered) belongs to that run, not the next one.
 */
async function settle(pid: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = cpuSeconds(pid);
  let quiet = 0;
  while (quiet < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = cpuSeconds(pid);
    quiet = now - last <= 0.01 ? quiet + 1 : 0;
    last = now;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Kafka 4.2+ tools take a properties file as --command-config (KIP-1147); older ones --producer.config / --consumer.config. */
function configFileOption(kafkaVersion: string, kind: 'producer' | 'consumer'): string {
  const [major = 0, minor = 0] = kafkaVersion.split('.').map(Number);
  return major > 4 || (major === 4 && minor >= 2) ? '--command-config' : `--${kind}.config`;
}

async function tool(classpath: string, name: string, args: string[], jvmArgs: string[] = []): Promise<string> {
  const r = await runTool(classpath, name as never, args, { timeoutMs: 600_000, jvmArgs });
  if (r.code !== 0) throw new Error(`${name} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

// "300000 records sent, 27555.8 records/sec (26.91 MB/sec), 1015.68 ms avg latency, 2340.00 ms max latency, 974 ms 50th, 1990 ms 95th, 2292 ms 99th, 2332 ms 99.9th."
function parseProducer(out: string): Result {
  const line = out.trim().split('\n').filter((l) => l.includes('records sent')).pop() ?? '';
  const m = /records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\).* ([\d.]+) ms 50th, [\d.]+ ms 95th, ([\d.]+) ms 99th/.exec(line);
  if (!m) throw new Error(`cannot parse ProducerPerformance output: ${line || out.slice(-500)}`);
  return { recordsPerSec: Number(m[1]), mbPerSec: Number(m[2]), p50: Number(m[3]), p99: Number(m[4]) };
}

// CSV: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
function parseConsumer(out: string): Result {
  const line = out.trim().split('\n').filter((l) => /^\d{4}-/.test(l.trim())).pop() ?? '';
  const f = line.split(',').map((s) => s.trim());
  if (f.length < 10) throw new Error(`cannot parse ConsumerPerformance output: ${out.slice(-500)}`);
  return { recordsPerSec: Number(f[9]), mbPerSec: Number(f[8]) };
}

// "Avg latency: 1.2345 ms" / "Percentiles: 50th = 1, 99th = 3, 99.9th = 7"
function parseEndToEnd(out: string): Result {
  const m = /Percentiles: 50th = ([\d.]+), 99th = ([\d.]+)/.exec(out);
  if (!m) throw new Error(`cannot parse EndToEndLatency output: ${out.slice(-500)}`);
  return { recordsPerSec: NaN, mbPerSec: NaN, p50: Number(m[1]), p99: Number(m[2]) };
}

/** A proxy process (`gatehouse run`) in front of `upstream`, with `sections` added to its config (written to `dir`). */
async function startProxyProcess(name: string, dir: string, upstream: string, sections: object): Promise<{ bootstrap: string; pid: number; stop: () => Promise<void> }> {
  const config = join(dir, 'gatehouse.yaml');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const listen = { host: '127.0.0.1', advertisedHost: '127.0.0.1', bootstrapPort: port, brokerPortBase: port };
  writeFileSync(config, stringify({ listen, upstream: { bootstrap: [upstream] }, ...sections, log: { level: 'warn' } }));
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'gatehouse.mjs'), 'run', '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: false,
  });
  process.once('exit', () => child.kill('SIGKILL'));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`proxy exited with ${code}`))));
  // Its log (warnings and errors only: audit trouble shows here) goes to our stderr.
  child.stdout!.on('data', (d: Buffer) => {
    const text = d.toString();
    if (AUDIT_TROUBLE.test(text)) troubles.push(`${name}: ${text.trim().split('\n')[0]}`);
    process.stderr.write(text.replace(/^(?=.)/gm, `  [${name}] `));
  });
  const deadline = Date.now() + 30_000;
  while (!(await Promise.race([canConnect(port), exited]))) {
    if (Date.now() > deadline) throw new Error('proxy did not start listening within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    bootstrap: `127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface Row {
  measurement: string;
  proxy: string;
  direct: Result[];
  proxied: Result[];
}

/** "median (min–max)" of xs, or – when there are none. */
function spread(xs: number[], digits: number): string {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return '–';
  const f = (x: number) => x.toFixed(digits);
  const lo = Math.min(...ok);
  const hi = Math.max(...ok);
  return ok.length === 1 || f(lo) === f(hi) ? f(median(ok)) : `${f(median(ok))} (${f(lo)}–${f(hi)})`;
}

function table(rows: Row[]): string[] {
  const med = (rs: Result[], k: keyof Result) => {
    const xs = rs.map((r) => r[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return xs.length ? median(xs) : undefined;
  };
  const fmt = (x: number | undefined, digits: number) => (x === undefined ? '–' : x.toFixed(digits));
  // Sub-millisecond values (the round-trip measurement) keep two decimals.
  const msDigits = (rs: Result[]) => (rs.some((r) => r.p99 !== undefined && !Number.isInteger(r.p99)) ? 2 : 0);
  const latency = (rs: Result[]) => (med(rs, 'p99') === undefined ? '–' : `${fmt(med(rs, 'p50'), msDigits(rs))} / ${fmt(med(rs, 'p99'), msDigits(rs))}`);
  return [
    '| measurement | proxy | proxy CPU ms/MB | throughput proxied/direct | direct MB/s | proxied MB/s | p99 added ms | direct p50 / p99 ms | proxied p50 / p99 ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(({ measurement, proxy, direct: d, proxied: p }) => {
      const ratios = p.map((r, i) => r.recordsPerSec / d[i]!.recordsPerSec);
      const added = p.map((r, i) => (r.p99 === undefined || d[i]!.p99 === undefined ? NaN : r.p99 - d[i]!.p99));
      const cpu = p.map((r) => r.proxyCpuMsPerMB ?? NaN);
      return `| ${measurement} | ${proxy} | ${spread(cpu, 1)} | ${spread(ratios, 2)} | ${fmt(med(d, 'mbPerSec'), 1)} | ${fmt(med(p, 'mbPerSec'), 1)} | ${spread(added, msDigits(p))} | ${latency(d)} | ${latency(p)} |`;
    }),
  ];
}

async function main(): Promise<void> {
  console.error(`starting Kafka, the OpenID provider and the proxies (records=${RECORDS}, rounds=${ROUNDS})…`);
  const broker = await startBroker({ serverProps: { 'log.retention.check.interval.ms': String(RETENTION_CHECK_MS) } });
  const oidc = await startOidcProvider({ clients: demoClientsWithGeneratedSecrets(), accessTokenTtlSec: 3600 });
  const proxies: Proxy[] = [];
  /** Configs, credentials and audit spools: removed at the end. */
  const dirs: string[] = [];
  const tempDir = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  const cp = broker.classpath;
  try {
    // Produce rows write tens of GB: keep twice what a consume run reads (per partition) and no more.
    const retention = ['--config', `retention.bytes=${Math.max(2 ** 28, Math.ceil((2 * RECORDS * (RECORD_SIZE + 64)) / 3))}`, '--config', `segment.bytes=${2 ** 27}`];
    await tool(cp, 'topics', ['--bootstrap-server', broker.bootstrap, '--create', '--topic', TOPIC, '--partitions', '3', ...retention]);
    await tool(cp, 'topics', ['--bootstrap-server', broker.bootstrap, '--create', '--topic', E2E_TOPIC, '--partitions', '1']);
    // The audit topic as the proxy would create it (3 partitions), bounded (full capture writes every record again), and
    // taking messages of up to 64 MiB: with captured payloads the audit producer's batches pass the default 1 MiB.
    const auditTopicConfig = [`retention.bytes=${2 ** 28}`, `segment.bytes=${2 ** 27}`, `max.message.bytes=${AUDIT_MAX_MESSAGE_BYTES}`].flatMap((c) => ['--config', c]);
    await tool(cp, 'topics', ['--bootstrap-server', broker.bootstrap, '--create', '--topic', SANDBOX_AUDIT_TOPIC, '--partitions', '3', ...auditTopicConfig]);

    const client = oidc.clients.find((c) => c.clientId === PRINCIPAL)!;
    const benchDir = tempDir('gatehouse-bench-');
    const saslProps = join(benchDir, `${PRINCIPAL}.properties`);
    writeFileSync(saslProps, `${oidcClientProperties(oidc.tokenEndpoint, client.clientId, client.clientSecret).join('\n')}\n`, { mode: 0o600 });
    const authenticated: Omit<Client, 'bootstrap'> = {
      saslProps,
      jvmArgs: [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${oidc.tokenEndpoint}`],
      token: () => oidc.token(PRINCIPAL),
    };
    const variants: Array<{ name: string; sections: (dir: string) => object; auth: boolean }> = [
      { name: 'pass-through', sections: () => ({}), auth: false },
      { name: 'OIDC + policy + audit', sections: (dir) => sandboxSecurityConfig(dir, oidc), auth: true },
      {
        name: 'OIDC + policy + audit + capture',
        sections: (dir) => {
          const s = sandboxSecurityConfig(dir, oidc);
          return { ...s, audit: { ...s.audit, capture: [{ topics: [TOPIC], mode: 'full' }] } };
        },
        auth: true,
      },
    ];
    for (const v of variants) {
      const dir = tempDir('gatehouse-bench-proxy-');
      const p = await startProxyProcess(v.name, dir, broker.bootstrap, v.sections(dir));
      proxies.push({ name: v.name, pid: p.pid, stop: p.stop, client: v.auth ? { bootstrap: p.bootstrap, ...authenticated } : { bootstrap: p.bootstrap, jvmArgs: [] } });
    }
    const direct: Client = { bootstrap: broker.bootstrap, jvmArgs: [] };
    const [passThrough] = proxies as [Proxy, ...Proxy[]];
    const rows: Row[] = [];
    const selected = (measurement: string, proxy: Proxy) => !ONLY || ONLY.some((o) => `${measurement} · ${proxy.name}`.startsWith(o));

    /** `mbMoved`: the MB of records a run moves, for the proxy's CPU per MB. */
    const measure = async (measurement: string, proxy: Proxy, run: (c: Client, round: number) => Promise<Result>, mbMoved?: number) => {
      if (!selected(measurement, proxy)) return;
      const got: Record<'direct' | 'proxied', Result[]> = { direct: [], proxied: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? (['direct', 'proxied'] as const) : (['proxied', 'direct'] as const);
        for (const which of order) {
          const cpuBefore = cpuSeconds(proxy.pid);
          const r = await run(which === 'direct' ? direct : proxy.client, round);
          if (which === 'proxied') {
            await settle(proxy.pid);
            if (mbMoved) r.proxyCpuMsPerMB = ((cpuSeconds(proxy.pid) - cpuBefore) * 1000) / mbMoved;
          }
          got[which].push(r);
          console.error(`  ${measurement} · ${proxy.name} ${which} round ${round + 1}: ${JSON.stringify(r)}`);
        }
      }
      rows.push({ measurement, proxy: proxy.name, ...got });
    };

    const version = broker.version;
    const sasl = (c: Client, kind: 'producer' | 'consumer') => (c.saslProps ? [configFileOption(version, kind), c.saslProps] : []);
    const producerArgs = (c: Client, n: number, rate: number, props: string[]) => [
      '--topic', TOPIC, '--num-records', String(n), '--record-size', String(RECORD_SIZE), '--throughput', String(rate),
      ...sasl(c, 'producer'), '--producer-props', `bootstrap.servers=${c.bootstrap}`, ...props,
    ];
    const produce = async (c: Client, n: number, rate: number, props: string[]) => parseProducer(await tool(cp, 'producer-perf', producerArgs(c, n, rate, props), c.jvmArgs));
    // At full speed the producer's latencies are its own queueing (hundreds of ms): throughput only.
    const produceAll = async (c: Client, props: string[]) => {
      const { recordsPerSec, mbPerSec } = await produce(c, RECORDS, -1, props);
      return { recordsPerSec, mbPerSec };
    };
    const allRecordsMB = (RECORDS * RECORD_SIZE) / 1e6;

    let wrote = false;
    for (const { name, props } of PRODUCER_SETTINGS) {
      for (const proxy of proxies) {
        const measurement = `produce (${name})`;
        wrote ||= selected(measurement, proxy);
        await measure(measurement, proxy, (c) => produceAll(c, props), allRecordsMB);
      }
    }
    await measure(`produce at ${LATENCY_RATE}/s`, passThrough, (c) => produce(c, LATENCY_RATE * 10, LATENCY_RATE, PRODUCER_SETTINGS[1]!.props), (LATENCY_RATE * 10 * RECORD_SIZE) / 1e6);

    if (proxies.some((p) => selected('consume', p))) {
      // Consumption reads what the producers wrote; without produce rows, write it once, unmeasured.
      if (!wrote) await produceAll(direct, PRODUCER_SETTINGS[1]!.props);
      // Let retention trim the topic before consumers read from its start.
      await new Promise((r) => setTimeout(r, 2 * RETENTION_CHECK_MS));
    }
    for (const proxy of proxies) {
      await measure('consume', proxy, async (c, round) =>
        parseConsumer(
          await tool(cp, 'consumer-perf', ['--bootstrap-server', c.bootstrap, ...sasl(c, 'consumer'), '--topic', TOPIC, '--messages', String(RECORDS), '--group', `payments-bench-${round}-${Math.random()}`, '--timeout', '60000'], c.jvmArgs),
        ),
        allRecordsMB,
      );
    }
    for (const proxy of proxies) {
      await measure('produce round trip', proxy, async (c) => ({
        recordsPerSec: NaN,
        mbPerSec: NaN,
        ...(await produceRoundTrips(c.bootstrap, TOPIC, ROUND_TRIPS, RECORD_SIZE, { warmup: ROUND_TRIP_WARMUP, token: await c.token?.() })),
      }), ((ROUND_TRIP_WARMUP + ROUND_TRIPS) * RECORD_SIZE) / 1e6);
    }
    // Each record goes through the proxy twice: produced, then fetched.
    await measure('end-to-end latency', passThrough, async (c) => parseEndToEnd(await tool(cp, 'e2e-latency', [c.bootstrap, E2E_TOPIC, String(E2E_RECORDS), 'all', String(RECORD_SIZE)])), (2 * E2E_RECORDS * RECORD_SIZE) / 1e6);

    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Kafka ${broker.version}, ${new Date().toISOString().slice(0, 10)}`;
    const text = `${table(rows).join('\n')}

Machine: ${machine}. ${RECORDS} records of ${RECORD_SIZE} B per throughput run, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, direct and proxied alternating; each cell is the median of the rounds with their range in parentheses; ratio and added p99 are taken per round against the direct run beside it. Proxies: pass-through has no identity, policy or audit; OIDC + policy + audit is the sandbox's configuration (OAUTHBEARER with tokens from a local OpenID provider, the demo policy, the audit trail on the same broker, its topic taking messages of up to ${AUDIT_MAX_MESSAGE_BYTES / 2 ** 20} MiB for captured payloads) with the Java tools logging in through the OIDC client-credentials handler as ${PRINCIPAL}; + capture adds full payload capture on the bench topic. Java defaults: no producer settings (acks=all); proxy CPU: user + system time of the proxy process during a proxied run (until it is idle again), per MB of records through it; produce round trip: ${ROUND_TRIPS} sequential Produce requests of one record each, timed in the bench process (logged in with a token when the proxy asks).`;
    console.log(text);
    if (troubles.length > 0) {
      console.error(`\nthe audit trail fell behind during the run (${troubles.length} log lines, first: ${troubles[0]}): its rows measured a degraded proxy${values['update-readme'] ? '; README.md left as it was' : ''}`);
      process.exitCode = 1;
    } else if (values['update-readme']) {
      const readme = readFileSync('README.md', 'utf8');
      const next = readme.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${text}\n<!-- bench:end -->`);
      writeFileSync('README.md', next);
      console.error('README.md updated');
    }
  } finally {
    for (const p of proxies) await p.stop();
    await oidc.stop();
    await broker.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
