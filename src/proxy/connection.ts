/**
 * One client connection and the upstream connection that serves it.
 *
 * Requests are read as frames, run through the stages that asked for their API key (in order,
 * one request at a time so the broker sees them in the client's order) and forwarded. The
 * broker answers in order on its connection, so each response is matched against the oldest
 * forwarded request by correlation id. Responses, including those stages make up, leave for the
 * client in request order. Frames no stage wants pass as their original bytes, and a response no
 * stage wants that is next in line for the client is cut through: written on chunk by chunk as
 * it arrives rather than once complete.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { apiCodec, ApiKey } from '../../protocol/generated/index.js';
import { defaultApiVersionsResponse } from '../../protocol/generated/api-versions-response.js';
import type { ProduceRequest } from '../../protocol/generated/produce-request.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { ProxyError, type CloseCode } from './errors.js';
import { API_VERSIONS_KEY, Exchange, ResponseView } from './exchange.js';
import { consumeBorrowed, type Lease } from './read-pool.js';
import { canRelay, relay, relayRecords, type Relay, type RelayEnd } from './zero-copy.js';
import { FrameReader, frameHead, frameLength, writeFrame, type Frame, type FrameHandler } from './frame-reader.js';
import { readInt32At } from '../../protocol/runtime/index.js';
import { takesView, wantsRequest, wantsResponse, type RequestDecision, type ResponseHook, type Stage } from '../stage/stage.js';
import { FETCH_STREAM_MIN_VERSION, FetchStreamReader, readFetchFrame, streamedPartitions, type StreamedFetch } from '../../protocol/runtime/fetch-stream.js';
import type { HostPort, UpstreamConnector } from './upstream.js';
import { formatHostPort } from './upstream.js';

export interface ConnectionOptions {
  info: ConnectionInfo;
  client: Socket;
  /** Upstream addresses to try in order (the bootstrap list, or the one broker). */
  resolveTargets: () => Promise<HostPort[]>;
  connector: UpstreamConnector;
  stages: readonly Stage[];
  maxFrameBytes: number;
  idleTimeoutMs: number;
  log: Logger;
  onClosed: (conn: ProxyConnection, code: CloseCode) => void;
  /** A response is being cut through (counted in the proxy's stats). */
  onCutThrough?: () => void;
  /** Relay cut-through responses in the kernel where possible (zero-copy.ts). */
  zeroCopy?: boolean;
  /** Bytes the zero-copy relay moved (counted in the proxy's stats). */
  onRelayed?: (bytes: number) => void;
}

const UNSUPPORTED_VERSION = 35;

function isPromise<T>(x: unknown): x is Promise<T> {
  return typeof x === 'object' && x !== null && typeof (x as Promise<T>).then === 'function';
}

/** Below this many bytes still to come, a cut-through response is not worth a relay's setup. */
const RELAY_MIN_BYTES = 128 * 1024;

export class ProxyConnection {
  readonly info: ConnectionInfo;
  private readonly client: Socket;
  private upstream: Socket | null = null;
  private readonly opts: ConnectionOptions;
  private readonly log: Logger;
  private readonly clientFrames: FrameReader;
  private readonly upstreamFrames: FrameReader;
  /** Every request not yet answered to the client, in arrival order. */
  private readonly inflight: Exchange[] = [];
  /** Requests waiting for their turn through the request stages. */
  private readonly toProcess: Exchange[] = [];
  /** Requests forwarded upstream that expect a response, in forwarding order. */
  private readonly awaiting: Exchange[] = [];
  private busy = true; // until the upstream is connected and onConnect stages ran
  private closed = false;
  private draining = false;
  /** The request whose response is being cut through to the client, if any. */
  private streaming: Exchange | null = null;
  /** The records view being read from the response cut through, for the stages that take it. */
  private streamView: { reader: FetchStreamReader; viewers: Stage[] } | null = null;
  requestsSeen = 0;

  constructor(opts: ConnectionOptions) {
    this.opts = opts;
    this.info = opts.info;
    this.client = opts.client;
    this.log = opts.log.child({ conn: opts.info.id });
    // Segmented: a request that spans reads is handed on as its chunks and forwarded as them,
    // never joined unless a stage asks for its bytes in one piece.
    this.clientFrames = new FrameReader(opts.maxFrameBytes, 'client request', true);
    // Brokers do not cap response sizes (a consumer's fetch.max.bytes does), so neither does the
    // proxy beyond the int32 frame size itself; maxFrameBytes protects against clients.
    this.upstreamFrames = new FrameReader(0x7fffffff, 'broker response', true);

    this.client.setNoDelay(true);
    this.client.setTimeout(opts.idleTimeoutMs, () =>
      this.close('GH_IDLE_TIMEOUT', `no traffic for ${opts.idleTimeoutMs} ms`),
    );
    consumeBorrowed(this.client, (view, lease) => this.onClientBorrowed(view, lease));
    // Only sockets not on pooled reads emit data (a pooled one would if its Node ignored onread).
    this.client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    this.client.on('end', () => this.close('GH_CLIENT_CLOSED', 'client closed the connection'));
    this.client.on('close', () => this.close('GH_CLIENT_CLOSED', 'client connection closed'));
    this.client.on('error', (err) => this.close('GH_CLIENT_CLOSED', `client socket error: ${err.message}`));
    this.client.on('drain', () => {
      if (!this.relayState) this.upstream?.resume();
    });
  }

  async start(): Promise<void> {
    try {
      for (const stage of this.opts.stages) {
        if (!stage.onConnect) continue;
        const refused = await stage.onConnect(this.info);
        if (typeof refused === 'string') return this.close('GH_STAGE_CLOSED', `${stage.name}: ${refused}`);
      }
      const targets = await this.opts.resolveTargets();
      let lastError: unknown = new ProxyError('GH_UPSTREAM_UNREACHABLE', 'no upstream address known');
      for (const target of targets) {
        if (this.closed) return;
        try {
          this.upstream = await this.opts.connector.connect(target);
          this.log.debug({ upstream: formatHostPort(target) }, 'upstream connected');
          break;
        } catch (err) {
          lastError = err;
          this.log.warn({ upstream: formatHostPort(target), err: (err as Error).message }, 'upstream connect failed');
        }
      }
      if (this.closed) {
        this.upstream?.destroy();
        return;
      }
      if (!this.upstream) throw lastError;
      const up = this.upstream;
      up.setNoDelay(true);
      if (!consumeBorrowed(up, (view, lease) => this.onUpstreamBorrowed(view, lease))) up.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
      up.on('drain', () => this.client.resume());
      up.on('end', () => this.close('GH_UPSTREAM_CLOSED', 'broker closed the connection'));
      up.on('close', () => this.close('GH_UPSTREAM_CLOSED', 'broker connection closed'));
      up.on('error', (err) => this.close('GH_UPSTREAM_CLOSED', `broker socket error: ${err.message}`));
      this.busy = false;
      this.pump();
    } catch (err) {
      this.fail(err);
    }
  }

  // ---- client → broker ----

  /**
   * A client read into a pooled buffer (see read-pool.ts). Requests are used in place, never
   * copied: each exchange holds the reads its bytes lie in until it is over (Exchange.finished),
   * and the frame reader's hold covers the start of an incomplete request.
   */
  private onClientBorrowed(view: Buffer, lease: Lease): void {
    this.clientRead = { memory: view.buffer, lease };
    try {
      this.onClientData(view);
    } finally {
      this.clientRead = null;
    }
    const frames = this.clientFrames;
    if (this.heldClientReads.length > 0) {
      this.heldClientReads = this.heldClientReads.filter((h) => {
        if (frames.holds(h.memory)) return true;
        h.release();
        return false;
      });
    }
    if (frames.pending > 0 && frames.holds(view.buffer)) {
      this.heldClientReads.push({ memory: view.buffer, lease, release: lease.hold() });
    }
  }

  /** The pooled read being handled, if any. */
  private clientRead: { memory: ArrayBufferLike; lease: Lease } | null = null;
  /** Earlier pooled reads the client frame reader still keeps bytes of. */
  private heldClientReads: Array<{ memory: ArrayBufferLike; lease: Lease; release: () => void }> = [];

  /** Makes a new exchange hold every pooled read its bytes lie in. */
  private borrowReads(ex: Exchange, wire: Frame): void {
    const current = this.clientRead!;
    if (Buffer.isBuffer(wire)) {
      if (wire.buffer === current.memory) ex.borrow(current.lease);
      return;
    }
    let last: ArrayBufferLike | null = null;
    for (const part of wire) {
      if (part.buffer === last) continue;
      last = part.buffer;
      const lease = part.buffer === current.memory ? current.lease : this.heldClientReads.find((h) => h.memory === part.buffer)?.lease;
      if (lease) ex.borrow(lease);
    }
  }

  private onClientData(chunk: Buffer): void {
    if (this.closed || this.draining) return;
    let frames: Frame[];
    try {
      frames = this.clientFrames.push(chunk);
    } catch (err) {
      return this.fail(err);
    }
    for (const wire of frames) {
      if (!this.accept(wire)) return;
    }
    this.pump();
    // Answers made at once (a future ApiVersions version) leave now, in request order.
    this.flush();
  }

  /** Parses a request frame and queues it; false when the connection had to close. */
  private accept(wire: Frame): boolean {
    const length = frameLength(wire);
    if (length < 4 + 8) {
      this.close('GH_FRAME_INVALID', `request frame of ${length - 4} bytes is shorter than a request header`);
      return false;
    }
    const head = frameHead(wire, 8);
    const apiKey = head.readInt16BE(4);
    const apiVersion = head.readInt16BE(6);
    const codec = apiCodec(apiKey);
    if (!codec) {
      this.close('GH_UNKNOWN_API', `unknown API key ${apiKey}`);
      return false;
    }
    const futureApiVersions = apiKey === API_VERSIONS_KEY && apiVersion > codec.maxVersion;
    if ((apiVersion < codec.minVersion || apiVersion > codec.maxVersion) && !futureApiVersions) {
      this.close('GH_UNSUPPORTED_VERSION', `${codec.name} v${apiVersion} is outside the supported ${codec.minVersion}-${codec.maxVersion}`);
      return false;
    }
    let ex: Exchange;
    try {
      ex = new Exchange(this.info, codec, wire);
      if (this.clientRead) this.borrowReads(ex, wire);
      // Every request body is walked once here, whether or not a stage wants it: a request the
      // proxy cannot decode is refused (GH_FRAME_INVALID) instead of being forwarded for the
      // broker to choke on. A request in one piece is decoded (and the result kept for stages);
      // one that spanned reads is skimmed, its records skipped rather than joined. The original
      // bytes still go upstream unless a stage changes them.
      if (!futureApiVersions) {
        const body = ex.skim();
        if (apiKey === ApiKey.Produce) ex.expectsResponse = (body as ProduceRequest).acks !== 0;
      }
    } catch (err) {
      this.fail(err);
      return false;
    }
    this.requestsSeen++;
    this.inflight.push(ex);
    if (futureApiVersions) {
      // Answer as a broker does: v0, UNSUPPORTED_VERSION, and the ApiVersions range we speak.
      const body = defaultApiVersionsResponse();
      body.errorCode = UNSUPPORTED_VERSION;
      body.apiKeys = [{ apiKey, minVersion: codec.minVersion, maxVersion: codec.maxVersion }];
      ex.out = ex.syntheticWire(body, 0);
      return true;
    }
    this.toProcess.push(ex);
    return true;
  }

  /** Runs queued requests through the request stages, one at a time, in order. */
  private pump(): void {
    while (!this.busy && !this.closed && this.toProcess.length > 0) {
      const ex = this.toProcess.shift()!;
      let result: void | Promise<void>;
      try {
        result = this.processRequest(ex);
      } catch (err) {
        return this.fail(err);
      }
      if (isPromise(result)) {
        this.busy = true;
        result.then(
          () => {
            this.busy = false;
            this.pump();
          },
          (err: unknown) => this.fail(err),
        );
        return;
      }
    }
  }

  private processRequest(ex: Exchange, from = 0): void | Promise<void> {
    const stages = this.opts.stages;
    for (let i = from; i < stages.length; i++) {
      const stage = stages[i]!;
      if (!wantsRequest(stage, ex.header.apiKey)) continue;
      let decision: RequestDecision | Promise<RequestDecision>;
      ex.stageIndex = i;
      try {
        decision = stage.onRequest!(ex);
      } catch (err) {
        throw this.stageError(stage, err);
      }
      if (isPromise<RequestDecision>(decision)) {
        return decision.then(
          (d) => (this.applyDecision(stage, ex, d) ? this.processRequest(ex, i + 1) : undefined),
          (err: unknown) => {
            throw this.stageError(stage, err);
          },
        );
      }
      if (!this.applyDecision(stage, ex, decision)) return;
    }
    this.forward(ex);
  }

  /** True to continue with the next stage. */
  private applyDecision(stage: Stage, ex: Exchange, d: RequestDecision): boolean {
    if (this.closed) return false;
    if (!d) return true;
    if ('close' in d) {
      this.close('GH_STAGE_CLOSED', `${stage.name}: ${d.close}`);
      return false;
    }
    this.respond(ex, d.respond);
    return false;
  }

  private stageError(stage: Stage, err: unknown): unknown {
    if (err instanceof ProxyError) return err;
    return new ProxyError('GH_STAGE_FAILED', `stage ${stage.name} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  private forward(ex: Exchange): void {
    const up = this.upstream!;
    if (ex.expectsResponse) this.awaiting.push(ex);
    else ex.out = null;
    // Bytes borrowed from pooled reads stay held until the socket is done with them.
    if (!writeFrame(up, ex.upstreamWire(), ex.borrowed && !ex.modified ? ex.use() : undefined)) this.client.pause();
    if (!ex.expectsResponse) this.flush();
  }

  private respond(ex: Exchange, body: unknown): void {
    const wire = ex.syntheticWire(body);
    this.finishResponse(ex, new ResponseView(ex, wire, true, body));
  }

  // ---- broker → client ----

  private onUpstreamData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.upstreamFrames.pushStreaming(chunk, this.responses);
    } catch (err) {
      return this.close('GH_UPSTREAM_PROTOCOL', (err as Error).message);
    }
    this.flush();
  }

  /**
   * A read into a pooled buffer (see read-pool.ts). The part that continues a response being cut
   * through is written to the client straight from that buffer, which stays leased until the
   * write is flushed; everything else is copied first, since it may be kept.
   */
  private onUpstreamBorrowed(view: Buffer, lease: Lease): void {
    if (this.closed) return;
    const use = Math.min(this.upstreamFrames.streaming, view.length);
    if (use > 0) {
      this.lease = lease;
      try {
        this.onUpstreamData(use === view.length ? view : view.subarray(0, use));
      } finally {
        this.lease = null;
      }
    }
    if (use < view.length) this.onUpstreamData(Buffer.from(view.subarray(use)));
    this.maybeRelay();
  }

  /** 'waiting': the broker socket is paused until the client's socket has taken what was written. */
  private relayState: 'waiting' | Relay | null = null;
  /** The relay failed to start once on this connection; it is not tried again. */
  private relayRefused = false;

  /**
   * The rest of the response being cut through goes from the broker's socket to the client's
   * in the kernel (zero-copy.ts), when it is large enough and both are plain TCP sockets. The
   * broker socket is not read meanwhile; the bytes after the response stay in it for Node.
   */
  private maybeRelay(): void {
    const up = this.upstream;
    if (this.closed || this.relayState || !up || !this.streaming) return;
    // A response read as it passes is relayed a records field at a time (the rest of the one it is
    // in), with the batch headers captured on the way; any other, all that is left of it.
    const span = this.streamView ? this.streamView.reader.relayable() : { length: this.upstreamFrames.streaming, firstBoundary: -1 };
    if (!span || span.length < RELAY_MIN_BYTES) return;
    if (!this.opts.zeroCopy || this.relayRefused || !canRelay(up, this.client)) return;
    this.relayState = 'waiting';
    up.pause();
    // The relay writes behind Node's back, so what Node holds for the client goes first.
    if (this.corked) {
      this.corked = false;
      this.client.uncork();
    }
    if (this.client.writableLength === 0) this.startRelay(up, span.length, span.firstBoundary);
    else this.client.once('drain', () => this.startRelay(up, span.length, span.firstBoundary));
  }

  /** `firstBoundary` -1: a plain relay; else where the first batch header starts in a records field's rest. */
  private startRelay(up: Socket, length: number, firstBoundary: number): void {
    if (this.closed || this.relayState !== 'waiting') return;
    try {
      if (firstBoundary < 0) {
        this.relayState = relay(up, this.client, length, (end) => this.relayEnded(up, length, end));
      } else {
        this.relayState = relayRecords(up, this.client, length, firstBoundary, (end, headers, invalidAt) => {
          // The view learns what went past before the frame reader does (it may end the response).
          if (end.errno === 0 && this.streamView) {
            try {
              this.streamView.reader.skipRelayed(length, firstBoundary, headers, invalidAt !== null);
            } catch (err) {
              this.relayState = null;
              return this.fail(err);
            }
          }
          this.relayEnded(up, length, end);
        });
      }
    } catch (err) {
      // No relay this time (e.g. out of file descriptors for its pipe): the bytes come through
      // the process instead, as without the addon.
      this.log.warn({ err: (err as Error).message }, 'zero-copy relay could not start; copying on this connection');
      this.relayState = null;
      this.relayRefused = true;
      up.resume();
    }
  }

  private relayEnded(up: Socket, length: number, end: RelayEnd): void {
    this.relayState = null;
    if (this.closed) return;
    if (end.errno !== 0) {
      const what = `${end.side === 'from' ? 'broker' : 'client'} socket error ${end.errno} relaying a response (${end.written} of ${length} bytes)`;
      return this.close(end.side === 'from' ? 'GH_UPSTREAM_CLOSED' : 'GH_CLIENT_CLOSED', what);
    }
    this.opts.onRelayed?.(length);
    try {
      this.upstreamFrames.skipStreamed(length, this.responses);
    } catch (err) {
      return this.fail(err); // called from native code: nothing above it would catch this
    }
    if (!this.closed) up.resume();
  }

  /** Set while bytes of a pooled read are being cut through. */
  private lease: Lease | null = null;

  /** What the broker connection's frame reader reports to. */
  private readonly responses: FrameHandler = {
    frame: (wire) => this.onResponseFrame(wire),
    start: (size, correlationId) => this.startCutThrough(correlationId, size),
    chunk: (part) => {
      if (this.closed) return;
      // The chunks read in one pass of the event loop leave together, in one writev, as a whole
      // buffered response does: one write per 64 KiB read costs more system calls and wake-ups
      // of the client for no gain in latency. Backpressure is judged once they are written.
      if (!this.corked) {
        this.corked = true;
        this.client.cork();
        setImmediate(this.uncork);
      }
      this.client.write(part, this.lease?.hold());
      this.streamView?.reader.push(part);
    },
    end: () => this.endCutThrough(),
  };

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.client.uncork();
    // Whatever the kernel did not take waits in the socket: stop reading the broker until the
    // client drains it ('drain' resumes the upstream).
    if (!this.closed && this.client.writableLength >= this.client.writableHighWaterMark) this.upstream?.pause();
  };

  /** The response is for the client as the broker sent it: no stage asked to see it. */
  private untouched(ex: Exchange): boolean {
    return !ex.hooks && !this.opts.stages.some((s) => wantsResponse(s, ex.header.apiKey, ex.header.apiVersion));
  }

  /**
   * The stages that take this response as a records view, when every stage that wants it can and
   * nothing else holds it (Interest.responseViews): it then stays on the fast path, read as it
   * passes. Null when the response must be held whole (or nobody wants it).
   */
  private viewers(ex: Exchange): Stage[] | null {
    const { apiKey, apiVersion } = ex.header;
    if (ex.hooks || apiKey !== ApiKey.Fetch || apiVersion < FETCH_STREAM_MIN_VERSION) return null;
    let viewers: Stage[] | null = null;
    for (const s of this.opts.stages) {
      if (!wantsResponse(s, apiKey, apiVersion)) continue;
      if (!takesView(s, apiKey)) return null;
      (viewers ??= []).push(s);
    }
    return viewers;
  }

  /** Hands a fast-path response's view to the stages that take it (after its bytes left). */
  private deliverView(ex: Exchange, viewers: readonly Stage[], res: StreamedFetch): void {
    const view = { request: ex, connection: this.info, size: ex.responseSize, errorCode: res.errorCode, partitions: streamedPartitions(res) };
    for (const stage of viewers) {
      try {
        stage.onResponseView!(view);
      } catch (err) {
        throw this.stageError(stage, err);
      }
    }
  }

  /** A whole response frame from the broker. */
  private onResponseFrame(wire: Frame): void {
    if (this.closed) return;
    const ex = this.awaiting.shift();
    const correlationId = frameLength(wire) < 8 ? NaN : Buffer.isBuffer(wire) ? wire.readInt32BE(4) : readInt32At(wire, 4);
    if (!ex || ex.header.correlationId !== correlationId) {
      return this.close('GH_UPSTREAM_PROTOCOL', `broker answered correlation id ${correlationId}, expected ${ex?.header.correlationId ?? 'none'}`);
    }
    if (this.untouched(ex)) {
      ex.out = wire; // fast path: the broker's bytes, untouched
      return;
    }
    const viewers = this.viewers(ex);
    if (viewers) {
      ex.out = wire; // fast path too; its view is read from the bytes in place
      ex.responseSize = frameLength(wire) - 4;
      try {
        this.deliverView(ex, viewers, readFetchFrame(ex.header.apiVersion, wire));
      } catch (err) {
        this.fail(err);
      }
      return;
    }
    try {
      this.finishResponse(ex, new ResponseView(ex, wire, false));
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * A response has begun to arrive and is not complete. Cut-through: when no stage wants it and
   * every earlier response has been written, its bytes go to the client as they arrive instead
   * of after its last byte (a large Fetch response otherwise waits for all of it). Anything else,
   * including a mismatched correlation id (reported when the frame is complete), is buffered.
   */
  private startCutThrough(correlationId: number, size: number): boolean {
    if (this.closed) return false;
    const ex = this.awaiting[0];
    if (!ex || ex.header.correlationId !== correlationId) return false;
    const viewers = this.untouched(ex) ? null : this.viewers(ex);
    if (!viewers && !this.untouched(ex)) return false;
    this.flush(); // responses completed in the same chunk, ahead of this one
    if (this.closed || this.inflight[0] !== ex) return false;
    this.awaiting.shift();
    this.streaming = ex;
    ex.responseSize = size;
    this.streamView = viewers ? { reader: new FetchStreamReader(ex.header.apiVersion), viewers } : null;
    this.opts.onCutThrough?.();
    return true;
  }

  private endCutThrough(): void {
    const ex = this.streaming;
    const view = this.streamView;
    this.streaming = null;
    this.streamView = null;
    if (!ex || this.closed) return;
    ex.out = null; // all written; flush() drops it from the head of the queue
    if (view) {
      try {
        this.deliverView(ex, view.viewers, view.reader.result());
      } catch (err) {
        return this.fail(err);
      }
    }
    this.flush();
  }

  private finishResponse(ex: Exchange, res: ResponseView): void {
    ex.response = res;
    const result = this.runResponseStages(res);
    if (isPromise(result)) {
      result.then(
        () => {
          ex.out = res.clientWire();
          this.flush();
        },
        (err: unknown) => this.fail(err),
      );
      return;
    }
    ex.out = res.clientWire();
    this.flush();
  }

  /**
   * Runs the response through the stages in order: at each stage, first the hooks it set on this
   * request, then its onResponse if it declared interest in the API's responses. The steps are
   * listed once; an asynchronous step resumes the list where it left off.
   */
  private runResponseStages(res: ResponseView): void | Promise<void> {
    const stages = this.opts.stages;
    const ex = res.request;
    const { apiKey, apiVersion } = ex.header;
    const steps: Array<{ stage: Stage; hook?: ResponseHook }> = [];
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i]!;
      if (ex.hooks) for (const h of ex.hooks) if (h.stage === i) steps.push({ stage, hook: h.hook });
      if (wantsResponse(stage, apiKey, apiVersion)) steps.push({ stage });
    }
    return this.runSteps(res, steps, 0);
  }

  private runSteps(res: ResponseView, steps: ReadonlyArray<{ stage: Stage; hook?: ResponseHook }>, from: number): void | Promise<void> {
    for (let i = from; i < steps.length; i++) {
      const { stage, hook } = steps[i]!;
      let r: void | Promise<void>;
      try {
        r = hook ? hook(res) : stage.onResponse!(res);
      } catch (err) {
        throw this.stageError(stage, err);
      }
      if (isPromise<void>(r)) {
        return r.then(
          () => this.runSteps(res, steps, i + 1),
          (err: unknown) => {
            throw this.stageError(stage, err);
          },
        );
      }
    }
  }

  /** Writes finished responses to the client in request order. */
  private flush(): void {
    if (this.closed) return;
    let blocked = false;
    while (this.inflight.length > 0 && this.inflight[0]!.out !== undefined) {
      const ex = this.inflight.shift()!;
      const out = ex.out;
      ex.finished();
      // A response that arrived in chunks leaves as those chunks, in one writev.
      if (out && !writeFrame(this.client, out)) blocked = true;
    }
    if (blocked) this.upstream?.pause();
    if (this.draining && this.inflight.length === 0) this.close('GH_SHUTDOWN', 'proxy shutting down');
  }

  // ---- ending ----

  /** Stops taking requests; closes once every accepted request has been answered. */
  drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.client.pause();
    this.flush();
  }

  private fail(err: unknown): void {
    if (err instanceof ProxyError) return this.close(err.code, err.message);
    this.log.error({ err }, 'unexpected error');
    this.close('GH_STAGE_FAILED', (err as Error)?.message ?? String(err));
  }

  close(code: CloseCode, message: string): void {
    if (this.closed) return;
    this.closed = true;
    const expected = code === 'GH_CLIENT_CLOSED' || code === 'GH_SHUTDOWN';
    const fields = { code, reason: message, requests: this.requestsSeen };
    if (expected) this.log.debug(fields, 'connection closed');
    else this.log.warn(fields, 'connection closed');
    // end() lets responses already written reach the client; the timer covers a peer that
    // never closes its side.
    if (!this.client.destroyed) {
      this.client.end();
      setTimeout(() => this.client.destroy(), 2000).unref();
    }
    if (this.relayState && this.relayState !== 'waiting') this.relayState.cancel();
    this.relayState = null;
    this.upstream?.destroy();
    for (const stage of this.opts.stages) {
      try {
        stage.onClose?.(this.info, code === 'GH_STAGE_CLOSED' ? message : code);
      } catch (err) {
        this.log.error({ err, stage: stage.name }, 'stage onClose failed');
      }
    }
    this.opts.onClosed(this, code);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
