/**
 * Benchmark: Kafka's own perf tools against one broker, direct and through Gatehouse, in the
 * same run. Prints records/s, MB/s and latency for each and the proxied/direct ratio.
 *
 *   npm run bench                      default sizes
 *   npm run bench -- --records 500000  more records per run
 *   npm run bench -- --update-readme   also write the table into README.md
 *   npm run bench -- --only consume    only the measurements whose name starts so (comma-separated)
 *
 * Each measurement runs direct and proxied back to back, alternating which goes first, and the
 * median of the rounds is reported. This is a benchmark, not a test: nothing here fails on speed.
 */
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from '../../src/kafka/broker.js';
import { runTool } from '../../src/kafka/tools.js';
import { canConnect } from '../../src/kafka/broker.js';
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
/** Sequential Produce round trips timed per round (after 2,000 untimed). */
const ROUND_TRIPS = 20_000;
const LATENCY_RATE = Number(values['latency-rate']);
const RECORD_SIZE = 1024;
const ONLY = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
if (ONLY && values['update-readme']) throw new Error('--update-readme needs every measurement; drop --only');

interface Result {
  recordsPerSec: number;
  mbPerSec: number;
  p50?: number;
  p99?: number;
  /** Proxied runs: CPU time the proxy process used (user + system), per MB moved. */
  proxyCpuMsPerMB?: number;
}

/** User + system CPU seconds a process has used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function medianResult(rs: Result[]): Result {
  const pick = (k: keyof Result) => {
    const xs = rs.map((r) => r[k]).filter((x): x is number => typeof x === 'number');
    return xs.length ? median(xs) : undefined;
  };
  return { recordsPerSec: pick('recordsPerSec')!, mbPerSec: pick('mbPerSec')!, p50: pick('p50'), p99: pick('p99'), proxyCpuMsPerMB: pick('proxyCpuMsPerMB') };
}

async function tool(classpath: string, name: string, args: string[]): Promise<string> {
  const r = await runTool(classpath, name as never, args, { timeoutMs: 600_000 });
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

async function startProxyProcess(upstream: string): Promise<{ bootstrap: string; pid: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const config = join(dir, 'gatehouse.yaml');
  const port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(
    config,
    `listen:\n  host: 127.0.0.1\n  advertisedHost: 127.0.0.1\n  bootstrapPort: ${port}\n  brokerPortBase: ${port}\nupstream:\n  bootstrap: ["${upstream}"]\nlog:\n  level: warn\n`,
  );
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'gatehouse.mjs'), 'run', '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: false,
  });
  process.once('exit', () => child.kill('SIGKILL'));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`proxy exited with ${code}`))));
  child.stdout!.resume();
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
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main(): Promise<void> {
  console.error(`starting Kafka and the proxy (records=${RECORDS}, rounds=${ROUNDS})…`);
  const broker = await startBroker({});
  const proxy = await startProxyProcess(broker.bootstrap);
  const cp = broker.classpath;
  try {
    await tool(cp, 'topics', ['--bootstrap-server', broker.bootstrap, '--create', '--topic', 'bench', '--partitions', '3']);
    await tool(cp, 'topics', ['--bootstrap-server', broker.bootstrap, '--create', '--topic', 'bench-latency', '--partitions', '1']);
    const targets = { direct: broker.bootstrap, proxied: proxy.bootstrap };
    const rows: Array<{ name: string; direct: Result; proxied: Result }> = [];

    /** `mbMoved`: the MB of records a run moves, for the proxy's CPU per MB. */
    const measure = async (name: string, run: (bs: string, round: number) => Promise<Result>, mbMoved?: number) => {
      if (ONLY && !ONLY.some((o) => name.startsWith(o))) {
        // Consumption reads what the max-rate producer wrote: write it once, unmeasured.
        if (name === 'produce, max rate' && ONLY.includes('consume')) await run(targets.direct, 0);
        return;
      }
      const got: Record<'direct' | 'proxied', Result[]> = { direct: [], proxied: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? (['direct', 'proxied'] as const) : (['proxied', 'direct'] as const);
        for (const which of order) {
          const cpuBefore = cpuSeconds(proxy.pid);
          const r = await run(targets[which], round);
          if (which === 'proxied' && mbMoved) r.proxyCpuMsPerMB = ((cpuSeconds(proxy.pid) - cpuBefore) * 1000) / mbMoved;
          got[which].push(r);
          console.error(`  ${name} ${which} round ${round + 1}: ${JSON.stringify(r)}`);
        }
      }
      rows.push({ name, direct: medianResult(got.direct), proxied: medianResult(got.proxied) });
    };

    const producerArgs = (bs: string, n: number, rate: number) => [
      '--topic', 'bench', '--num-records', String(n), '--record-size', String(RECORD_SIZE), '--throughput', String(rate),
      '--producer-props', `bootstrap.servers=${bs}`, 'acks=all', 'linger.ms=5', 'batch.size=65536',
    ];
    const allRecordsMB = (RECORDS * RECORD_SIZE) / 1e6;
    await measure('produce, max rate', async (bs) => parseProducer(await tool(cp, 'producer-perf', producerArgs(bs, RECORDS, -1))), allRecordsMB);
    await measure(`produce at ${LATENCY_RATE}/s`, async (bs) =>
      parseProducer(await tool(cp, 'producer-perf', producerArgs(bs, LATENCY_RATE * 10, LATENCY_RATE))),
    );
    await measure('consume', async (bs, round) =>
      parseConsumer(
        await tool(cp, 'consumer-perf', ['--bootstrap-server', bs, '--topic', 'bench', '--messages', String(RECORDS), '--group', `bench-${round}-${Math.random()}`, '--timeout', '60000']),
      ),
      allRecordsMB,
    );
    await measure('produce round trip', async (bs) => ({ recordsPerSec: NaN, mbPerSec: NaN, ...(await produceRoundTrips(bs, 'bench-latency', ROUND_TRIPS, RECORD_SIZE)) }));
    await measure('end-to-end latency', async (bs) => parseEndToEnd(await tool(cp, 'e2e-latency', [bs, 'bench-latency', '5000', 'all', String(RECORD_SIZE)])));

    const fmt = (x: number | undefined, digits = 0) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
    // Sub-millisecond values (the round-trip measurement) keep two decimals.
    const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(Math.abs(x) < 10 && !Number.isInteger(x) ? 2 : 1));
    const ratio = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) || b === 0 ? '–' : (a / b).toFixed(2));
    const lines = [
      '| measurement | direct rec/s | proxied rec/s | direct MB/s | proxied MB/s | ratio | direct p50 / p99 ms | proxied p50 / p99 ms | p99 added ms | proxy CPU ms/MB |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(({ name, direct: d, proxied: p }) =>
        `| ${name} | ${fmt(d.recordsPerSec)} | ${fmt(p.recordsPerSec)} | ${fmt(d.mbPerSec, 1)} | ${fmt(p.mbPerSec, 1)} | ${ratio(p.recordsPerSec, d.recordsPerSec)} | ${ms(d.p50)} / ${ms(d.p99)} | ${ms(p.p50)} / ${ms(p.p99)} | ${d.p99 === undefined || p.p99 === undefined ? '–' : ms(p.p99 - d.p99)} | ${p.proxyCpuMsPerMB === undefined ? '–' : p.proxyCpuMsPerMB.toFixed(1)} |`,
      ),
    ];
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Kafka ${broker.version}, ${new Date().toISOString().slice(0, 10)}`;
    const table = `${lines.join('\n')}\n\nMachine: ${machine}. ${RECORDS} records of ${RECORD_SIZE} B, acks=all, median of ${ROUNDS} rounds, direct and proxied alternating; proxy CPU: user + system time of the proxy process during a proxied run, per MB of records; produce round trip: ${ROUND_TRIPS} sequential Produce requests of one record each, timed in the bench process.`;
    console.log(table);
    if (values['update-readme']) {
      const readme = readFileSync('README.md', 'utf8');
      const next = readme.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${table}\n<!-- bench:end -->`);
      writeFileSync('README.md', next);
      console.error('README.md updated');
    }
  } finally {
    await proxy.stop();
    await broker.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
