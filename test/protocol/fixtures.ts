/**
 * The captured frames under test/fixtures/frames (written by scripts/capture-fixtures.ts) and the
 * few rules needed to parse one: which header version a request or response uses, and which
 * version its body is encoded in.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  apiCodec,
  readRequestHeader,
  readResponseHeader,
  writeRequestHeader,
  writeResponseHeader,
  type ApiCodec,
} from '../../protocol/generated/index.js';
import { Reader, Writer } from '../../protocol/runtime/index.js';

export const FRAMES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'frames');
export const API_VERSIONS = 18;
const UNSUPPORTED_VERSION = 35;

export type Direction = 'request' | 'response';

export interface FixtureEntry {
  /** Path relative to test/fixtures/frames. */
  file: string;
  /** Which client produced the exchange: java, kcat, kafkajs. */
  client: string;
  apiKey: number;
  apiName: string;
  /** The version in the request header (for responses: the request's version). */
  apiVersion: number;
  direction: Direction;
  /** Responses: the version the request asked for (same as apiVersion). */
  requestVersion?: number;
  /** Responses: the version the body is encoded in (0 for an ApiVersions UNSUPPORTED_VERSION answer). */
  bodyVersion?: number;
  /** Header client id, for requests. */
  clientId?: string | null;
  bytes: number;
}

/** A kind of frame the recorder saw go by, with how many of them (captured or not). */
export interface SeenKind {
  client: string;
  apiKey: number;
  apiName: string;
  apiVersion: number;
  direction: Direction;
  count: number;
}

export interface FixtureIndex {
  generatedBy: string;
  kafkaVersion: string;
  frames: FixtureEntry[];
  /** Every (client, API, version, direction) that went through the proxy during the capture. */
  seen: SeenKind[];
}

export function loadIndex(): FixtureIndex | undefined {
  const path = join(FRAMES_DIR, 'index.json');
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as FixtureIndex;
}

export function loadFrame(e: FixtureEntry): Buffer {
  return readFileSync(join(FRAMES_DIR, e.file));
}

export function requestHeaderVersion(codec: ApiCodec, v: number): number {
  return codec.requestFlexibleFrom >= 0 && v >= codec.requestFlexibleFrom ? 2 : 1;
}

export function responseHeaderVersion(codec: ApiCodec, v: number): number {
  if (codec.apiKey === API_VERSIONS) return 0;
  return codec.responseFlexibleFrom >= 0 && v >= codec.responseFlexibleFrom ? 1 : 0;
}

/** The version an ApiVersions response body is in: v0 when the broker refused the version. */
export function responseBodyVersion(codec: ApiCodec, requestVersion: number, frame: Buffer, bodyOffset: number): number {
  if (codec.apiKey === API_VERSIONS && frame.length >= bodyOffset + 2 && frame.readInt16BE(bodyOffset) === UNSUPPORTED_VERSION) return 0;
  return requestVersion;
}

export interface Decoded {
  codec: ApiCodec;
  headerVersion: number;
  bodyVersion: number;
  header: unknown;
  body: unknown;
  bodyOffset: number;
}

/** Decodes a whole frame (header + body), requiring every byte to be consumed. */
export function decodeFrame(
  frame: Buffer,
  direction: Direction,
  apiKey: number,
  requestVersion: number,
  bodyVersion?: number,
): Decoded {
  const codec = apiCodec(apiKey);
  if (!codec) throw new Error(`no codec for API key ${apiKey}`);
  const r = new Reader(frame);
  if (direction === 'request') {
    const headerVersion = requestHeaderVersion(codec, requestVersion);
    const header = readRequestHeader(r, headerVersion);
    const bodyOffset = r.pos;
    const body = codec.readRequest(r, requestVersion);
    r.done(`${codec.name} request v${requestVersion}`);
    return { codec, headerVersion, bodyVersion: requestVersion, header, body, bodyOffset };
  }
  const headerVersion = responseHeaderVersion(codec, requestVersion);
  const header = readResponseHeader(r, headerVersion);
  const bodyOffset = r.pos;
  const v = bodyVersion ?? responseBodyVersion(codec, requestVersion, frame, bodyOffset);
  const body = codec.readResponse(r, v);
  r.done(`${codec.name} response v${v}`);
  return { codec, headerVersion, bodyVersion: v, header, body, bodyOffset };
}

export function encodeFrame(d: Decoded, direction: Direction): Buffer {
  const w = new Writer(256);
  if (direction === 'request') {
    writeRequestHeader(w, d.headerVersion, d.header as Parameters<typeof writeRequestHeader>[2]);
    d.codec.writeRequest(w, d.bodyVersion, d.body);
  } else {
    writeResponseHeader(w, d.headerVersion, d.header as Parameters<typeof writeResponseHeader>[2]);
    d.codec.writeResponse(w, d.bodyVersion, d.body);
  }
  return Buffer.from(w.finish());
}

/** Every `records` field (a Buffer) anywhere in a decoded body: Produce, Fetch, ShareFetch... */
export function recordsFields(body: unknown): Buffer[] {
  const out: Buffer[] = [];
  const walk = (x: unknown): void => {
    if (x === null || typeof x !== 'object' || Buffer.isBuffer(x)) return;
    if (Array.isArray(x)) {
      for (const e of x) walk(e);
      return;
    }
    for (const [k, v] of Object.entries(x)) {
      if (k === 'records' && Buffer.isBuffer(v)) out.push(v);
      else walk(v);
    }
  };
  walk(body);
  return out;
}
