/**
 * One request and its response as they pass through a connection: parsed header, lazily decoded
 * bodies, and the bytes that will finally reach the broker and the client.
 */
import { Reader, SegmentedReader, Writer, isProtocolError } from '../../protocol/runtime/index.js';
import { batchHeaders, locateRecords, recordsBytes } from '../../protocol/runtime/records-view.js';
import {
  readRequestHeader,
  readResponseHeader,
  writeResponseHeader,
  type ApiCodec,
} from '../../protocol/generated/index.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { ProxyError } from './errors.js';
import { frameHead, joinFrame, type Frame } from './frame-reader.js';
import { once, type Lease } from './read-pool.js';
import type { InterceptedRequest, InterceptedResponse, Located, RequestHeaderInfo, ResponseHook } from '../stage/stage.js';

export const API_VERSIONS_KEY = 18;
const UNSUPPORTED_VERSION = 35;

export function requestHeaderVersion(codec: ApiCodec, version: number): number {
  return codec.requestFlexibleFrom >= 0 && version >= codec.requestFlexibleFrom ? 2 : 1;
}

export function responseHeaderVersion(codec: ApiCodec, version: number): number {
  if (codec.apiKey === API_VERSIONS_KEY) return 0; // always v0, so any client can read it
  return codec.responseFlexibleFrom >= 0 && version >= codec.responseFlexibleFrom ? 1 : 0;
}

/**
 * Byte fields at least this large are referenced, not copied, when a changed message is encoded
 * again: a Fetch answer with one partition rewritten leaves with the others' records as the very
 * bytes the broker sent, written around the new ones (one writev).
 */
const REFERENCE_ABOVE = 4096;

/**
 * A changed response: its header as received, its body encoded again, large byte fields
 * referenced (a held response's bytes are the proxy's own copy, never a pooled read buffer).
 */
function reencoded(header: Buffer, encode: (w: Writer) => void): Frame {
  const w = new Writer(1024, REFERENCE_ABOVE);
  encode(w);
  const parts = w.finishParts();
  if (parts.length <= 1) return sizePrefixed([header, ...parts]);
  const head = Buffer.allocUnsafe(4 + header.length);
  head.writeInt32BE(header.length + w.length, 0);
  header.copy(head, 4);
  return [head, ...parts];
}

function sizePrefixed(parts: Buffer[]): Buffer {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = Buffer.allocUnsafe(4 + total);
  out.writeInt32BE(total, 0);
  let at = 4;
  for (const p of parts) {
    p.copy(out, at);
    at += p.length;
  }
  return out;
}

/** The body at `start` of `wire` skimmed with `read`, and where its records lie. */
function locate<T>(wire: Frame, start: number, read: (r: Reader) => T): Located<T> {
  const segments = Buffer.isBuffer(wire) ? [wire] : wire;
  const { body, fields } = locateRecords(segments, start, read);
  return { body, fields, headers: (f) => batchHeaders(segments, f), bytes: (f) => recordsBytes(segments, f) };
}

/** A body a stage set or answered with that the codec cannot write, as the error that closes the connection. */
export function encodeError(stage: string | undefined, what: string, err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  return new ProxyError('GH_STAGE_FAILED', `stage ${stage ?? '(unknown)'} failed: ${what} cannot be encoded: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

function asFrameError(err: unknown, what: string): never {
  if (isProtocolError(err)) throw new ProxyError('GH_FRAME_INVALID', `${what}: ${err.message}`, { cause: err });
  throw err;
}

export class Exchange implements InterceptedRequest {
  readonly header: RequestHeaderInfo;
  /** Payload bytes (size prefix excluded). */
  readonly size: number;
  /** Offset of the request body within the payload. */
  private readonly bodyOffset: number;
  private joined: Buffer | undefined;
  private decoded: unknown = undefined;
  private replaced = false;
  expectsResponse = true;
  /** The response to write to the client (size prefix included); null: none; undefined: not yet. */
  out: Frame | null | undefined = undefined;
  response: ResponseView | undefined;
  /** Payload bytes of the response (set by the connection for responses on the fast path). */
  responseSize = 0;
  /** Index and name of the stage whose onRequest is running (set by the connection). */
  stageIndex = -1;
  stageName: string | undefined;
  /** The stage that last set the body. */
  private changedBy: string | undefined;
  /** Per-request response hooks, with the index of the stage that asked. */
  hooks: Array<{ stage: number; hook: ResponseHook }> | undefined;
  /** Holds on the pooled reads `wire` is a view of (read-pool.ts); null when it borrows none. */
  private holds: Array<() => void> | null = null;
  /** Uses of the borrowed bytes still running: the exchange itself, plus pending writes. */
  private uses = 1;
  private over = false;

  constructor(
    readonly connection: ConnectionInfo,
    readonly codec: ApiCodec,
    /** As received, size prefix included: one buffer, or the chunks it arrived in. */
    readonly wire: Frame,
  ) {
    const r = Buffer.isBuffer(wire) ? new Reader(wire, 4) : new SegmentedReader(wire, 4);
    this.size = r.end - 4;
    const head = frameHead(wire, 8); // the connection checked the frame holds a request head
    const apiKey = head.readInt16BE(4);
    const apiVersion = head.readInt16BE(6);
    let clientId: string | null = null;
    let correlationId = 0;
    try {
      // A future ApiVersions version is parsed with the newest header we know; the broker answers
      // it with v0 and UNSUPPORTED_VERSION, as Kafka's version negotiation expects.
      const h = readRequestHeader(r, requestHeaderVersion(codec, Math.min(apiVersion, codec.maxVersion)));
      clientId = h.clientId;
      correlationId = h.correlationId;
    } catch (err) {
      asFrameError(err, 'request header');
    }
    this.bodyOffset = r.pos - 4;
    this.header = { apiKey, apiVersion, correlationId, clientId, apiName: codec.name };
  }

  /** The payload (size prefix excluded) as one buffer; joins a chunked frame on first use. */
  get frame(): Buffer {
    this.joined ??= joinFrame(this.wire).subarray(4);
    return this.joined;
  }

  /** Takes a hold on a pooled read that `wire` is (partly) a view of. */
  borrow(lease: Lease): void {
    (this.holds ??= []).push(lease.hold());
  }

  /** Whether `wire` borrows pooled reads that `finished()` lets go. */
  get borrowed(): boolean {
    return this.holds !== null;
  }

  /** One more use of the borrowed bytes, such as a pending write; call the result when done. */
  use(): () => void {
    this.uses++;
    return once(() => this.unuse());
  }

  /**
   * The exchange is over: its response has been handed to the client socket, or it had none and
   * was forwarded. Once every pending use is done too, the pooled reads it borrowed may be reused.
   */
  finished(): void {
    if (this.over) return;
    this.over = true;
    this.unuse();
  }

  private unuse(): void {
    if (--this.uses > 0 || !this.holds) return;
    const holds = this.holds;
    this.holds = null;
    for (const release of holds) release();
  }

  get modified(): boolean {
    return this.replaced;
  }

  /**
   * Reads the body as the broker does: the fields the version defines, and nothing is said about
   * bytes after them (some clients write a few; current librdkafka's all-topics Metadata request
   * carries three). They are forwarded with the original frame, and dropped if a stage changes
   * the body and it is re-encoded.
   */
  private decode(r: Reader): unknown {
    try {
      return this.codec.readRequest(r, this.header.apiVersion);
    } catch (err) {
      asFrameError(err, `${this.codec.name} request v${this.header.apiVersion}`);
    }
  }

  body<T = unknown>(): T {
    this.decoded ??= this.decode(new Reader(this.frame, this.bodyOffset));
    return this.decoded as T;
  }

  skim<T = unknown>(): T {
    if (this.decoded !== undefined || Buffer.isBuffer(this.wire)) return this.body<T>();
    return this.decode(new SegmentedReader(this.wire, 4 + this.bodyOffset)) as T;
  }

  setBody(body: unknown): void {
    this.decoded = body;
    this.replaced = true;
    this.changedBy = this.stageName;
  }

  locate(): Located<never> {
    try {
      return locate(this.wire, 4 + this.bodyOffset, (r) => this.codec.readRequest(r, this.header.apiVersion) as never);
    } catch (err) {
      asFrameError(err, `${this.codec.name} request v${this.header.apiVersion}`);
    }
  }

  interceptResponse(hook: ResponseHook): void {
    (this.hooks ??= []).push({ stage: this.stageIndex, hook });
  }

  /** The bytes to send upstream: the original frame, or the original header + re-encoded body. */
  upstreamWire(): Frame {
    if (!this.replaced) return this.wire;
    // Copied whole: a request's bytes may lie in a pooled read buffer the proxy reuses.
    const w = new Writer(this.frame.length + 64);
    try {
      this.codec.writeRequest(w, this.header.apiVersion, this.decoded);
    } catch (err) {
      throw encodeError(this.changedBy, `the ${this.codec.name} request v${this.header.apiVersion} it set`, err);
    }
    return sizePrefixed([this.frame.subarray(0, this.bodyOffset), w.finish()]);
  }

  /** A response a stage made up: header for this request's version, correlation id echoed. */
  syntheticWire(body: unknown, v = this.header.apiVersion): Buffer {
    const hw = new Writer(16);
    writeResponseHeader(hw, responseHeaderVersion(this.codec, v), { correlationId: this.header.correlationId });
    const bw = new Writer(256);
    this.codec.writeResponse(bw, v, body);
    return sizePrefixed([hw.finish(), bw.finish()]);
  }
}

/** A response on its way to the client, as stages see it. */
export class ResponseView implements InterceptedResponse {
  private readonly bodyOffset: number;
  readonly size: number;
  private joined: Buffer | undefined;
  private decoded: unknown = undefined;
  private replaced = false;
  /** The stage whose onResponse or response hook is running (set by the connection). */
  stage: string | undefined;
  /** The stage that last set the body. */
  private changedBy: string | undefined;

  constructor(
    readonly request: Exchange,
    /** As received, size prefix included: one buffer, or the chunks it arrived in. */
    readonly wire: Frame,
    readonly synthetic: boolean,
    decodedBody?: unknown,
  ) {
    const r = Buffer.isBuffer(wire) ? new Reader(wire, 4) : new SegmentedReader(wire, 4);
    try {
      readResponseHeader(r, responseHeaderVersion(request.codec, Math.min(request.header.apiVersion, request.codec.maxVersion)));
    } catch (err) {
      asFrameError(err, 'response header');
    }
    this.bodyOffset = r.pos - 4;
    this.size = r.end - 4;
    this.decoded = decodedBody;
  }

  /** The payload (size prefix excluded) as one buffer; joins a chunked frame on first use. */
  get frame(): Buffer {
    this.joined ??= joinFrame(this.wire).subarray(4);
    return this.joined;
  }

  get connection(): ConnectionInfo {
    return this.request.connection;
  }

  get modified(): boolean {
    return this.replaced;
  }

  /** The version the body is encoded in: v0 for an ApiVersions error answer, else the request's. */
  private bodyVersion(): number {
    const req = this.request;
    if (req.codec.apiKey === API_VERSIONS_KEY && this.frame.length >= this.bodyOffset + 2) {
      if (this.frame.readInt16BE(this.bodyOffset) === UNSUPPORTED_VERSION) return 0;
    }
    return req.header.apiVersion;
  }

  private decode(r: Reader, v: number): unknown {
    try {
      const body = this.request.codec.readResponse(r, v);
      r.done(`${this.request.codec.name} response v${v}`);
      return body;
    } catch (err) {
      if (isProtocolError(err)) {
        throw new ProxyError('GH_UPSTREAM_PROTOCOL', `${this.request.codec.name} response v${v}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  body<T = unknown>(): T {
    if (this.decoded === undefined) {
      const v = this.bodyVersion();
      this.decoded = this.decode(new Reader(this.frame, this.bodyOffset), v);
    }
    return this.decoded as T;
  }

  skim<T = unknown>(): T {
    if (this.decoded !== undefined || Buffer.isBuffer(this.wire)) return this.body<T>();
    return this.decode(new SegmentedReader(this.wire, 4 + this.bodyOffset), this.request.header.apiVersion) as T;
  }

  setBody(body: unknown): void {
    this.decoded = body;
    this.replaced = true;
    this.changedBy = this.stage;
  }

  locate(): Located<never> {
    const v = this.request.header.apiVersion;
    try {
      return locate(this.wire, 4 + this.bodyOffset, (r) => this.request.codec.readResponse(r, v) as never);
    } catch (err) {
      if (isProtocolError(err)) throw new ProxyError('GH_UPSTREAM_PROTOCOL', `${this.request.codec.name} response v${v}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** The bytes for the client: as received, or the original header + re-encoded body. */
  clientWire(): Frame {
    if (!this.replaced) return this.wire;
    const v = this.bodyVersion();
    try {
      return reencoded(this.frame.subarray(0, this.bodyOffset), (w) => this.request.codec.writeResponse(w, v, this.decoded));
    } catch (err) {
      throw encodeError(this.changedBy, `the ${this.request.codec.name} response v${v} it set`, err);
    }
  }
}
