/**
 * Differential test against Apache Kafka's own codecs. For every API, every version the
 * generated codecs support and both directions, random bodies are built from the generator's
 * model of the message (every field present in that version gets a random value of its type,
 * nullable fields are sometimes null, tagged fields sometimes left at their default), encoded
 * with the generated writer, then read and written back by Kafka's generated Java message
 * classes (test/protocol/JavaCodecCheck.java). Java must consume every byte and write exactly
 * the same bytes back. Versions Kafka 4 dropped are checked against Kafka 3.9's classes.
 *
 * Real clients only ever exercise a handful of versions; this covers the rest, in particular the
 * old versions merged in from the 3.9 definitions.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiCodec } from '../../protocol/generated/index.js';
import { loadDefinitions } from '../../protocol/generator/definitions.js';
import { camel } from '../../protocol/generator/emit.js';
import { NEW_KAFKA, OLD_KAFKA, buildMessages } from '../../protocol/generator/main.js';
import type { Field, FieldType, Message } from '../../protocol/generator/model.js';
import { Reader, Writer } from '../../protocol/runtime/index.js';
import { ensureKafka, javaBin } from '../../src/kafka/jars.js';

const CHECKER = join(dirname(fileURLToPath(import.meta.url)), 'JavaCodecCheck.java');
const SAMPLES_PER_VERSION = Number(process.env.GATEHOUSE_CROSSCHECK_SAMPLES ?? 6);
const SEED = Number(process.env.GATEHOUSE_CROSSCHECK_SEED ?? 20251123);

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(
    readonly rnd: () => number,
    /** Probability of picking a default-like value (0, "", [], null) instead of a random one. */
    readonly plain: number,
  ) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
  string(): string {
    const alphabet = ['a', 'b', 'z', '0', '-', '.', '_', ' ', 'é', '€', '漢', '𝄞'];
    let s = '';
    const n = this.int(0, 8);
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
  int64(): bigint {
    if (this.chance(0.3)) return BigInt(this.int(-2, 2));
    return BigInt.asIntN(64, (BigInt(this.int(0, 0xffffffff)) << 32n) | BigInt(this.int(0, 0xffffffff)));
  }

  prim(name: string): unknown {
    const plain = this.chance(this.plain);
    switch (name) {
      case 'bool':
        return plain ? false : this.chance(0.5);
      case 'int8':
        return plain ? 0 : this.int(-128, 127);
      case 'int16':
        return plain ? 0 : this.int(-32768, 32767);
      case 'uint16':
        return plain ? 0 : this.int(0, 65535);
      case 'int32':
        return plain ? 0 : this.chance(0.5) ? this.int(-3, 300) : this.int(-2147483648, 2147483647);
      case 'uint32':
        return plain ? 0 : this.int(0, 4294967295);
      case 'int64':
        return plain ? 0n : this.int64();
      case 'float64':
        return plain ? 0 : (this.rnd() - 0.5) * 1e6;
      case 'string':
        return plain ? '' : this.string();
      case 'bytes':
        return plain ? Buffer.alloc(0) : this.bytes(this.int(0, 12));
      case 'records':
        return plain ? Buffer.alloc(0) : this.bytes(this.int(0, 24));
      case 'uuid':
        return plain ? 'AAAAAAAAAAAAAAAAAAAAAA' : this.bytes(16).toString('base64url');
    }
    throw new Error(`no generator for ${name}`);
  }

  value(t: FieldType, v: number, depth: number): unknown {
    if (t.kind === 'prim') return this.prim(t.name);
    if (t.kind === 'struct') return this.struct(t.fields, v, depth + 1);
    const n = depth > 3 || this.chance(this.plain) ? 0 : this.int(0, 3);
    return Array.from({ length: n }, () => this.value(t.elem, v, depth + 1));
  }

  field(f: Field, v: number, depth: number): unknown {
    if (f.nullable.has(v) && this.chance(0.2)) return null;
    // Sometimes the declared default: a tagged field equal to it must be left out by both sides.
    if (f.type.kind === 'prim' && f.default !== undefined && f.default !== 'null' && this.chance(0.2)) return declaredDefault(f.type.name, f.default);
    return this.value(f.type, v, depth);
  }

  struct(fields: Field[], v: number, depth: number): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (const f of fields) o[camel(f.name)] = this.field(f, v, depth);
    return o;
  }
}

function declaredDefault(type: string, d: string): unknown {
  switch (type) {
    case 'bool':
      return d === 'true';
    case 'int64':
      return d === '' ? 0n : BigInt(d);
    case 'string':
      return d;
    case 'bytes':
    case 'records':
      return Buffer.alloc(0);
    case 'uuid':
      return 'AAAAAAAAAAAAAAAAAAAAAA';
    default:
      return d === '' ? 0 : Number(d);
  }
}

interface Case {
  id: number;
  msg: Message;
  apiKey: number;
  version: number;
  direction: 'request' | 'response';
  bytes: Buffer;
}

interface Verdict {
  status: 'OK' | 'UNSUPPORTED' | 'ERR';
  detail: string;
}

function runChecker(classpath: string, cases: Case[]): Promise<Map<number, Verdict>> {
  return new Promise((resolve, reject) => {
    const child = spawn(javaBin(), ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-cp', classpath, CHECKER], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`JavaCodecCheck exited ${code}: ${Buffer.concat(err).toString().slice(0, 2000)}`));
        return;
      }
      const verdicts = new Map<number, Verdict>();
      for (const line of Buffer.concat(out).toString().split('\n')) {
        if (!line) continue;
        const [id, status, ...rest] = line.split(' ');
        verdicts.set(Number(id), { status: status as Verdict['status'], detail: rest.join(' ') });
      }
      resolve(verdicts);
    });
    child.stdin.on('error', () => {
      // reported through the exit code
    });
    child.stdin.end(cases.map((c) => `${c.id} ${c.apiKey} ${c.version} ${c.direction} ${c.bytes.toString('hex')}`).join('\n') + '\n');
  });
}

let messages: Message[] = [];
let newClasspath = '';
let oldClasspath = '';

beforeAll(async () => {
  const [cur, old] = await Promise.all([ensureKafka(NEW_KAFKA), ensureKafka(OLD_KAFKA)]);
  newClasspath = cur.classpath;
  oldClasspath = old.classpath;
  messages = buildMessages(
    loadDefinitions(join(old.defsDir, 'common', 'message')),
    loadDefinitions(join(cur.defsDir, 'common', 'message')),
  );
});

describe('generated codecs agree with Kafka\'s Java message classes', () => {
  it('every API, every version, both directions, random bodies', async () => {
    const rnd = prng(SEED);
    const cases: Case[] = [];
    const failures: string[] = [];
    let id = 0;
    const apis = messages.filter((m) => m.apiKey !== undefined && m.kind !== 'header');
    expect(apis.length).toBeGreaterThan(100);
    for (const msg of apis) {
      const codec = apiCodec(msg.apiKey!);
      if (!codec) {
        failures.push(`${msg.name}: no codec for API key ${msg.apiKey}`);
        continue;
      }
      const direction = msg.kind === 'request' ? 'request' : 'response';
      for (const v of msg.versions) {
        for (let s = 0; s < SAMPLES_PER_VERSION; s++) {
          // The first sample is all defaults; the others get more and more random.
          const gen = new Gen(rnd, s === 0 ? 1 : [0.5, 0.3, 0.15, 0.05, 0][(s - 1) % 5]!);
          const body = gen.struct(msg.fields, v, 0);
          const w = new Writer(64);
          try {
            if (direction === 'request') codec.writeRequest(w, v, body);
            else codec.writeResponse(w, v, body);
          } catch (err) {
            failures.push(`${msg.name} v${v}: the generated writer refused a valid value: ${(err as Error).message}`);
            continue;
          }
          const bytes = Buffer.from(w.finish());
          // The generated reader takes back what the writer wrote, exactly.
          try {
            const r = new Reader(bytes);
            const back = direction === 'request' ? codec.readRequest(r, v) : codec.readResponse(r, v);
            r.done('re-read');
            const w2 = new Writer(64);
            if (direction === 'request') codec.writeRequest(w2, v, back);
            else codec.writeResponse(w2, v, back);
            if (!Buffer.from(w2.finish()).equals(bytes)) failures.push(`${msg.name} v${v}: decode→encode changed the bytes`);
          } catch (err) {
            failures.push(`${msg.name} v${v}: the generated reader refused what the writer wrote: ${(err as Error).message}`);
            continue;
          }
          cases.push({ id: id++, msg, apiKey: msg.apiKey!, version: v, direction, bytes });
        }
      }
    }

    const first = await runChecker(newClasspath, cases);
    const fallback = cases.filter((c) => first.get(c.id)?.status === 'UNSUPPORTED');
    const second = fallback.length ? await runChecker(oldClasspath, fallback) : new Map<number, Verdict>();
    const reported = new Set<string>();
    let checked = 0;
    let viaOld = 0;
    for (const c of cases) {
      let verdict = first.get(c.id);
      let which = NEW_KAFKA;
      if (verdict?.status === 'UNSUPPORTED') {
        verdict = second.get(c.id);
        which = OLD_KAFKA;
        viaOld++;
      }
      const where = `${c.msg.name} v${c.version}`;
      let problem: string | undefined;
      if (!verdict) problem = `no answer from Kafka ${which}`;
      else if (verdict.status === 'UNSUPPORTED') problem = `neither Kafka ${NEW_KAFKA} nor ${OLD_KAFKA} knows it: ${verdict.detail}`;
      else if (verdict.status === 'ERR') problem = `Kafka ${which} could not read it: ${verdict.detail}`;
      else if (verdict.detail !== c.bytes.toString('hex')) {
        const java = Buffer.from(verdict.detail, 'hex');
        let at = 0;
        while (at < java.length && at < c.bytes.length && java[at] === c.bytes[at]) at++;
        problem = `Kafka ${which} re-encoded it differently (${java.length} vs ${c.bytes.length} bytes, first difference at ${at})`;
      } else checked++;
      // One line per (message, version) is enough to go on.
      if (problem && !reported.has(where)) {
        reported.add(where);
        failures.push(`${where}: ${problem}; body ${c.bytes.toString('hex').slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBe(cases.length);
    expect(viaOld).toBeGreaterThan(0);
  });
});
