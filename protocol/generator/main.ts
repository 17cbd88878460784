/**
 * protocol/generator: turns Apache Kafka's message definitions into TypeScript codecs.
 *
 *   tsx protocol/generator/main.ts          regenerate protocol/generated/
 *   tsx protocol/generator/main.ts --check  fail if protocol/generated/ differs from what it would write
 *
 * Definitions come from the kafka-clients jars that the Maven step resolves (never committed):
 * Kafka 3.9 supplies the old versions that Kafka 4.0 deleted (KIP-896), Kafka 4.x the rest.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDefinitions, type RawMessage } from './definitions.js';
import { HEADER_LINE, camel, emitMessage, kebab } from './emit.js';
import { mergeMessage, type Message } from './model.js';

export const OLD_KAFKA = '3.9.1';
export const NEW_KAFKA = '4.3.1';

/** APIs a broker listens for but that only brokers and controllers send each other. */
const INTER_BROKER = new Set([
  'WriteTxnMarkers',
  'InitializeShareGroupState',
  'ReadShareGroupState',
  'WriteShareGroupState',
  'DeleteShareGroupState',
  'ReadShareGroupStateSummary',
]);

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'generated');

async function definitionsDir(version: string): Promise<string> {
  const cache = process.env.GATEHOUSE_CACHE ?? join(homedir(), '.cache', 'gatehouse');
  const dir = join(cache, 'defs', version, 'common', 'message');
  if (existsSync(dir)) return dir;
  const jars = (await import('../../src/kafka/jars.js')) as { ensureKafka: (v: string) => Promise<{ defsDir: string }> };
  const got = await jars.ensureKafka(version);
  return join(got.defsDir, 'common', 'message');
}

function isClientFacing(m: RawMessage | undefined): boolean {
  return !!m && (m.listeners ?? []).includes('broker');
}

export function buildMessages(oldDefs: Map<string, RawMessage>, newDefs: Map<string, RawMessage>): Message[] {
  const byKey = new Map<number, { old?: RawMessage; cur?: RawMessage; oldRes?: RawMessage; curRes?: RawMessage }>();
  const responseOf = (defs: Map<string, RawMessage>, req: RawMessage) => defs.get(req.name.replace(/Request$/, 'Response'));
  for (const [defs, which] of [[oldDefs, 'old'], [newDefs, 'cur']] as const) {
    for (const m of defs.values()) {
      if (m.type !== 'request' || m.apiKey === undefined) continue;
      const e = byKey.get(m.apiKey) ?? {};
      if (which === 'old') Object.assign(e, { old: m, oldRes: responseOf(defs, m) });
      else Object.assign(e, { cur: m, curRes: responseOf(defs, m) });
      byKey.set(m.apiKey, e);
    }
  }
  const out: Message[] = [];
  for (const key of [...byKey.keys()].sort((a, b) => a - b)) {
    const e = byKey.get(key)!;
    const name = (e.cur ?? e.old)!.name.replace(/Request$/, '');
    if (INTER_BROKER.has(name)) continue;
    if (!isClientFacing(e.cur) && !isClientFacing(e.old)) continue;
    // A definition that is not client-facing in its own release contributes no versions.
    const old = isClientFacing(e.old) ? e.old : undefined;
    const cur = isClientFacing(e.cur) ? e.cur : undefined;
    const req = mergeMessage(old, cur);
    const res = mergeMessage(old ? e.oldRes : undefined, cur ? e.curRes : undefined);
    if (!req || !res) continue;
    out.push(req, res);
  }
  for (const h of ['RequestHeader', 'ResponseHeader']) {
    const m = mergeMessage(oldDefs.get(h), newDefs.get(h));
    if (m) out.push(m);
  }
  return out;
}

function emitIndex(messages: Message[]): string {
  const apis = messages.filter((m) => m.kind === 'request');
  const lines: string[] = [HEADER_LINE, '/* eslint-disable */'];
  lines.push("import type { Reader, Writer } from '../runtime/index.js';");
  for (const m of messages) {
    const extra = m.kind === 'header' ? '' : `default${m.name}, `;
    const type = m.kind === 'header' ? '' : `, type ${m.name}`;
    lines.push(`import { read${m.name}, write${m.name}, ${extra}${camel(m.name)}Versions${type} } from './${kebab(m.name)}.js';`);
  }
  lines.push('', '/** Codecs for one API: request and response bodies (headers are separate). */');
  lines.push('export interface ApiCodec {');
  lines.push('  apiKey: number;', '  name: string;', '  minVersion: number;', '  maxVersion: number;');
  lines.push('  /** First version whose request uses the flexible encoding (header v2), or -1. */');
  lines.push('  requestFlexibleFrom: number;', '  responseFlexibleFrom: number;');
  lines.push('  readRequest(r: Reader, v: number): unknown;', '  writeRequest(w: Writer, v: number, o: unknown): void;');
  lines.push('  readResponse(r: Reader, v: number): unknown;', '  writeResponse(w: Writer, v: number, o: unknown): void;');
  lines.push('  /** A request body with every field at its default (a fresh object each call). */', '  defaultRequest(): unknown;');
  lines.push('  /** A response body with every field at its default (a fresh object each call). */', '  defaultResponse(): unknown;', '}', '');
  lines.push('export const ApiKey = {');
  for (const m of apis) lines.push(`  ${m.name.replace(/Request$/, '')}: ${m.apiKey},`);
  lines.push('} as const;', '');
  lines.push('/** The request and response body types of every API, by API key. */');
  lines.push('export interface ApiTypes {');
  for (const m of apis) lines.push(`  ${m.apiKey}: { request: ${m.name}; response: ${m.name.replace(/Request$/, 'Response')} };`);
  lines.push('}', '');
  lines.push('/** An API key the proxy has codecs for, as a type. */', 'export type KnownApiKey = keyof ApiTypes;');
  lines.push('/** The request body type of an API key (a union of them all for the type KnownApiKey). */', 'export type RequestOf<K extends KnownApiKey> = ApiTypes[K][\'request\'];');
  lines.push('/** The response body type of an API key. */', 'export type ResponseOf<K extends KnownApiKey> = ApiTypes[K][\'response\'];', '');
  lines.push('const table: ApiCodec[] = [];');
  for (const m of apis) {
    const res = m.name.replace(/Request$/, 'Response');
    lines.push(
      `table[${m.apiKey}] = { apiKey: ${m.apiKey}, name: '${m.name.replace(/Request$/, '')}', ` +
        `minVersion: ${camel(m.name)}Versions.min, maxVersion: ${camel(m.name)}Versions.max, ` +
        `requestFlexibleFrom: ${camel(m.name)}Versions.flexibleFrom, responseFlexibleFrom: ${camel(res)}Versions.flexibleFrom, ` +
        `readRequest: read${m.name}, writeRequest: write${m.name} as ApiCodec['writeRequest'], ` +
        `readResponse: read${res}, writeResponse: write${res} as ApiCodec['writeResponse'], ` +
        `defaultRequest: default${m.name}, defaultResponse: default${res} };`,
    );
  }
  lines.push('', '/** The codec for an API key, or undefined for one the proxy does not know. */');
  lines.push('export function apiCodec(apiKey: number): ApiCodec | undefined {');
  lines.push('  return table[apiKey];', '}', '');
  lines.push('/** Every API the proxy has codecs for, by key. */');
  lines.push('export function allApis(): readonly ApiCodec[] {');
  lines.push('  return table.filter((c) => c !== undefined);', '}', '');
  lines.push('export { readRequestHeader, writeRequestHeader, type RequestHeader } from \'./request-header.js\';');
  lines.push('export { readResponseHeader, writeResponseHeader, type ResponseHeader } from \'./response-header.js\';');
  lines.push('');
  return lines.join('\n');
}

export async function generate(): Promise<Map<string, string>> {
  const oldDefs = loadDefinitions(await definitionsDir(OLD_KAFKA));
  const newDefs = loadDefinitions(await definitionsDir(NEW_KAFKA));
  const messages = buildMessages(oldDefs, newDefs);
  const files = new Map<string, string>();
  for (const m of messages) files.set(`${kebab(m.name)}.ts`, emitMessage(m));
  files.set('index.ts', emitIndex(messages));
  return files;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const files = await generate();
  if (check) {
    const stale: string[] = [];
    const present = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith('.ts')) : [];
    for (const [name, text] of files) {
      const path = join(outDir, name);
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(name);
    }
    for (const f of present) if (!files.has(f)) stale.push(`${f} (no longer generated)`);
    if (stale.length) {
      console.error(`protocol/generated is out of date (${stale.length} files): ${stale.slice(0, 10).join(', ')}${stale.length > 10 ? ', …' : ''}`);
      console.error('run: npm run protocol:generate');
      process.exit(1);
    }
    console.error(`protocol/generated matches the generator (${files.size} files)`);
    return;
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(outDir, name), text);
  console.error(`wrote ${files.size} files to protocol/generated`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
