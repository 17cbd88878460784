/**
 * Client → broker: requests are read as frames, checked, and run through the stages that asked
 * for their API key, in order, one request at a time so the broker sees them in the client's
 * order. Each is then forwarded (as its original bytes unless a stage changed it), answered by a
 * stage, or the connection closed. Every request accepted is queued for its answer in
 * response-order.ts, which also takes the answers stages make up.
 *
 * While a stage holds the broker connection back (upstream-opening.ts), a request that must go to
 * the broker waits for it to open, and those behind it wait in turn; an ApiVersions request is
 * answered with the broker's remembered answer instead (routing/remembered-api-versions.ts).
 */
import { apiCodec, ApiKey } from '../../../protocol/generated/index.js';
import type { ApiVersionsRequest } from '../../../protocol/generated/api-versions-request.js';
import { defaultApiVersionsResponse } from '../../../protocol/generated/api-versions-response.js';
import type { ProduceRequest } from '../../../protocol/generated/produce-request.js';
import { wantsRequest, type RequestDecision, type Stage } from '../../stage/stage.js';
import { API_VERSIONS_KEY, encodeError, Exchange, ResponseView } from '../exchange.js';
import { frameHead, frameLength, writeFrame, type Frame, type FrameReader } from '../frame-reader.js';
import type { ClientReads } from './client-reads.js';
import { isPromise, stageError, type ConnectionCore } from './core.js';
import type { ResponseOrder } from './response-order.js';
import type { UpstreamOpening } from './upstream-opening.js';
import type { ApiVersionsSource } from '../routing/remembered-api-versions.js';

const UNSUPPORTED_VERSION = 35;

export class RequestPath {
  /** Requests waiting for their turn through the request stages. */
  private readonly toProcess: Exchange[] = [];
  private busy = true; // until the onConnect stages ran (and the upstream is connected, unless held back)
  requestsSeen = 0;

  constructor(
    private readonly core: ConnectionCore,
    /** The client's frame reader (segmented: see connection.ts). */
    private readonly frames: FrameReader,
    private readonly reads: ClientReads,
    private readonly order: ResponseOrder,
    private readonly upstream: UpstreamOpening,
    /** The broker's ApiVersions answers while the broker connection waits; absent: ApiVersions opens it too. */
    private readonly apiVersions?: ApiVersionsSource,
  ) {}

  /** The onConnect stages ran and the broker is connected, or a stage holds it back: requests may go. */
  open(): void {
    this.busy = false;
    this.pump();
  }

  /** Bytes from the client (a pooled read is handed here through ClientReads.read). */
  onData(chunk: Buffer): void {
    if (this.core.closed || this.core.draining) return;
    let frames: Frame[];
    try {
      frames = this.frames.push(chunk);
    } catch (err) {
      return this.core.fail(err);
    }
    for (const wire of frames) {
      if (!this.accept(wire)) return;
    }
    this.pump();
    // Answers made at once (a future ApiVersions version) leave now, in request order.
    this.order.flush();
  }

  /** Parses a request frame and queues it; false when the connection had to close. */
  private accept(wire: Frame): boolean {
    const core = this.core;
    const length = frameLength(wire);
    if (length < 4 + 8) {
      core.close('GH_FRAME_INVALID', `request frame of ${length - 4} bytes is shorter than a request header`);
      return false;
    }
    const head = frameHead(wire, 8);
    const apiKey = head.readInt16BE(4);
    const apiVersion = head.readInt16BE(6);
    const codec = apiCodec(apiKey);
    if (!codec) {
      core.close('GH_UNKNOWN_API', `unknown API key ${apiKey}`);
      return false;
    }
    const futureApiVersions = apiKey === API_VERSIONS_KEY && apiVersion > codec.maxVersion;
    if ((apiVersion < codec.minVersion || apiVersion > codec.maxVersion) && !futureApiVersions) {
      core.close('GH_UNSUPPORTED_VERSION', `${codec.name} v${apiVersion} is outside the supported ${codec.minVersion}-${codec.maxVersion}`);
      return false;
    }
    let ex: Exchange;
    try {
      ex = new Exchange(core.info, codec, wire);
      this.reads.lend(ex, wire);
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
      core.fail(err);
      return false;
    }
    this.requestsSeen++;
    this.order.enqueue(ex);
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
    while (!this.busy && !this.core.closed && this.toProcess.length > 0) {
      const ex = this.toProcess.shift()!;
      let result: void | Promise<void>;
      try {
        result = this.processRequest(ex);
      } catch (err) {
        return this.core.fail(err);
      }
      if (isPromise(result)) {
        this.busy = true;
        // A stage that rejects, or anything that goes wrong once it settled, ends the connection.
        this.core.after(result, () => {
          this.busy = false;
          this.processed();
          this.pump();
        });
        return;
      }
      this.processed();
    }
  }

  /** The stages are through with a request: the broker connection opens if none holds it back any more. */
  private processed(): void {
    if (!this.core.upstream) this.upstream.check();
  }

  private processRequest(ex: Exchange, from = 0): void | Promise<void> {
    const stages = this.core.stages;
    for (let i = from; i < stages.length; i++) {
      const stage = stages[i]!;
      if (!wantsRequest(stage, ex.header.apiKey)) continue;
      let decision: RequestDecision | Promise<RequestDecision>;
      ex.stageIndex = i;
      ex.stageName = stage.name;
      try {
        decision = stage.onRequest!(ex);
      } catch (err) {
        throw stageError(stage, err);
      }
      if (isPromise<RequestDecision>(decision)) {
        return decision.then(
          (d) => (this.applyDecision(stage, ex, d) ? this.processRequest(ex, i + 1) : undefined),
          (err: unknown) => {
            throw stageError(stage, err);
          },
        );
      }
      if (!this.applyDecision(stage, ex, decision)) return;
    }
    return this.forward(ex);
  }

  /** True to continue with the next stage. */
  private applyDecision(stage: Stage, ex: Exchange, d: RequestDecision): boolean {
    if (this.core.closed) return false;
    if (!d) return true;
    if ('close' in d) {
      this.core.close('GH_STAGE_CLOSED', `${stage.name}: ${d.close}`);
      return false;
    }
    this.respond(stage, ex, d.respond);
    return false;
  }

  private forward(ex: Exchange): void | Promise<void> {
    if (this.core.upstream) return this.send(ex);
    if (ex.header.apiKey === API_VERSIONS_KEY && this.apiVersions) return this.answerRemembered(ex, this.apiVersions);
    return this.upstream.open().then((connected) => {
      if (connected) this.send(ex);
    });
  }

  /** ApiVersions while the broker connection waits: the broker's answer to this version, through the response stages. */
  private async answerRemembered(ex: Exchange, source: ApiVersionsSource): Promise<void> {
    const answer = await source(ex.body<ApiVersionsRequest>(), ex.header.apiVersion);
    if (this.core.closed) return;
    // Decoded afresh from the bytes: stages may change the body they get, and this one is shared.
    this.order.finish(ex, new ResponseView(ex, ex.syntheticWire(answer.body, answer.version), true));
  }

  private send(ex: Exchange): void {
    const up = this.core.upstream!;
    if (ex.expectsResponse) this.order.expect(ex);
    else ex.out = null;
    // Bytes borrowed from pooled reads stay held until the socket is done with them.
    if (!writeFrame(up, ex.upstreamWire(), ex.borrowed && !ex.modified ? ex.use() : undefined)) this.core.client.pause();
    if (!ex.expectsResponse) this.order.flush();
  }

  private respond(stage: Stage, ex: Exchange, body: unknown): void {
    let wire: Buffer;
    try {
      wire = ex.syntheticWire(body);
    } catch (err) {
      throw encodeError(stage.name, `its answer (${ex.codec.name} response v${ex.header.apiVersion})`, err);
    }
    this.order.finish(ex, new ResponseView(ex, wire, true, body));
  }
}
