/**
 * Broker → client: responses leave in request order, and those no stage holds are cut through.
 *
 * The broker answers in order on its connection, so each response is matched against the oldest
 * forwarded request by correlation id. Responses, including those stages make up, leave for the
 * client in request order (`flush`). A response no stage wants that is next in line for the
 * client is cut through: written on chunk by chunk as it arrives rather than once complete, and
 * read as it passes when stages take it as a records view. The relay (relay-handover.ts) may move
 * the rest of a response cut through; it asks here what it may move and reports what it moved.
 */
import type { Stage } from '../../stage/stage.js';
import { isProtocolError, readInt32At } from '../../../protocol/runtime/index.js';
import { FetchStreamReader, readFetchFrame } from '../../../protocol/runtime/fetch-stream.js';
import { ProxyError } from '../errors.js';
import { ResponseView, type Exchange } from '../exchange.js';
import { FrameReader, frameLength, writeFrame, type Frame, type FrameHandler } from '../frame-reader.js';
import type { Lease } from '../read-pool.js';
import { isPromise, type ConnectionCore } from './core.js';
import { deliverView, runResponseStages, streamedApi, untouched, viewers } from './response-stages.js';

export class ResponseOrder {
  /** Every request not yet answered to the client, in arrival order. */
  private readonly inflight: Exchange[] = [];
  /** Requests forwarded upstream that expect a response, in forwarding order. */
  private readonly awaiting: Exchange[] = [];
  // Brokers do not cap response sizes (a consumer's fetch.max.bytes does), so neither does the
  // proxy beyond the int32 frame size itself; maxFrameBytes protects against clients.
  private readonly frames = new FrameReader(0x7fffffff, 'broker response', true);
  /** The request whose response is being cut through to the client, if any. */
  private streaming: Exchange | null = null;
  /** The records view being read from the response cut through, for the stages that take it. */
  private streamView: { reader: FetchStreamReader; viewers: Stage[] } | null = null;
  /** Set while bytes of a pooled read are being cut through. */
  private lease: Lease | null = null;
  private corked = false;

  constructor(
    private readonly core: ConnectionCore,
    /** A response is being cut through (counted in the proxy's stats). */
    private readonly onCutThrough?: () => void,
  ) {}

  /** A request accepted from the client: its answer leaves in this order. */
  enqueue(ex: Exchange): void {
    this.inflight.push(ex);
  }

  /** A request forwarded upstream that the broker will answer. */
  expect(ex: Exchange): void {
    this.awaiting.push(ex);
  }

  /** Bytes from the broker: a read of a socket not on pooled reads, or a copy or view from onBorrowed. */
  onData(chunk: Buffer): void {
    if (this.core.closed) return;
    try {
      this.frames.pushStreaming(chunk, this.handler);
    } catch (err) {
      // Bytes the broker should not have sent; anything else thrown on the way is not its fault.
      if (isProtocolError(err) || (err instanceof ProxyError && err.code.startsWith('GH_FRAME_'))) return this.core.close('GH_UPSTREAM_PROTOCOL', err.message);
      return this.core.fail(err);
    }
    this.flush();
  }

  /**
   * A read into a pooled buffer (see read-pool.ts). The part that continues a response being cut
   * through is written to the client straight from that buffer, which stays leased until the
   * write is flushed; everything else is copied first, since it may be kept.
   */
  onBorrowed(view: Buffer, lease: Lease): void {
    if (this.core.closed) return;
    const use = Math.min(this.frames.streaming, view.length);
    if (use > 0) {
      this.lease = lease;
      try {
        this.onData(use === view.length ? view : view.subarray(0, use));
      } finally {
        this.lease = null;
      }
    }
    if (use < view.length) this.onData(Buffer.from(view.subarray(use)));
  }

  /**
   * A response a stage made up, or one held whole: run through the response stages, then queued.
   * Throws what a stage did wrong when the stages finish at once; once they finish later, anything
   * that goes wrong (a rejection, a body that cannot be encoded) ends the connection.
   */
  finish(ex: Exchange, res: ResponseView): void {
    ex.response = res;
    const result = runResponseStages(this.core.stages, res);
    if (isPromise(result)) return this.core.after(result, () => this.queue(ex, res));
    this.queue(ex, res);
  }

  /** The response, as the stages left it, is next for the client once those before it leave. */
  private queue(ex: Exchange, res: ResponseView): void {
    ex.out = res.clientWire();
    this.flush();
  }

  /** Writes finished responses to the client in request order. */
  flush(): void {
    const core = this.core;
    if (core.closed) return;
    let blocked = false;
    while (this.inflight.length > 0 && this.inflight[0]!.out !== undefined) {
      const ex = this.inflight.shift()!;
      const out = ex.out;
      ex.finished();
      // A response that arrived in chunks leaves as those chunks, in one writev.
      if (out && !writeFrame(core.client, out)) blocked = true;
    }
    if (blocked) core.upstream?.pause();
    if (core.draining && this.inflight.length === 0) core.close('GH_SHUTDOWN', 'proxy shutting down');
  }

  // ---- for the relay (relay-handover.ts) ----

  /**
   * What of the response being cut through a relay may move now: all that is left of it, or for
   * one read as it passes, the rest of the records field it is in (`firstBoundary`: where the
   * first batch header starts in it; -1 for a plain relay). Null when none is being cut through.
   */
  relaySpan(): { length: number; firstBoundary: number } | null {
    if (!this.streaming) return null;
    // A response read as it passes is relayed a records field at a time (the rest of the one it is
    // in), with the batch headers captured on the way; any other, all that is left of it.
    return this.streamView ? this.streamView.reader.relayable() : { length: this.frames.streaming, firstBoundary: -1 };
  }

  /** Hands what Node holds for the client to its socket now (the relay writes behind Node's back). */
  uncorkNow(): void {
    if (!this.corked) return;
    this.corked = false;
    this.core.client.uncork();
  }

  /**
   * A relay of records moved `length` bytes, capturing these batch headers. Called before
   * `relayed`: the view learns what went past before the frame reader does (it may end the response).
   */
  viewRelayed(length: number, firstBoundary: number, headers: Buffer, unreadable: boolean): void {
    this.streamView?.reader.skipRelayed(length, firstBoundary, headers, unreadable);
  }

  /** `length` bytes of the response cut through went to the client around the process. */
  relayed(length: number): void {
    this.frames.skipStreamed(length, this.handler);
  }

  // ---- the broker's frames ----

  /** What the broker connection's frame reader reports to. */
  private readonly handler: FrameHandler = {
    frame: (wire) => this.onFrame(wire),
    start: (size, correlationId) => this.startCutThrough(correlationId, size),
    chunk: (part) => {
      if (this.core.closed) return;
      // The chunks read in one pass of the event loop leave together, in one writev, as a whole
      // buffered response does: one write per 64 KiB read costs more system calls and wake-ups
      // of the client for no gain in latency. Backpressure is judged once they are written.
      if (!this.corked) {
        this.corked = true;
        this.core.client.cork();
        setImmediate(this.uncork);
      }
      this.core.client.write(part, this.lease?.hold());
      this.streamView?.reader.push(part);
    },
    end: () => this.endCutThrough(),
  };

  /** Run by setImmediate, so nothing above it would catch what it throws. */
  private readonly uncork = (): void => {
    const { client, upstream } = this.core;
    this.corked = false;
    try {
      client.uncork();
      // Whatever the kernel did not take waits in the socket: stop reading the broker until the
      // client drains it ('drain' resumes the upstream).
      if (!this.core.closed && client.writableLength >= client.writableHighWaterMark) upstream?.pause();
    } catch (err) {
      this.core.fail(err);
    }
  };

  /** A whole response frame from the broker. */
  private onFrame(wire: Frame): void {
    const core = this.core;
    if (core.closed) return;
    const ex = this.awaiting.shift();
    const correlationId = frameLength(wire) < 8 ? NaN : Buffer.isBuffer(wire) ? wire.readInt32BE(4) : readInt32At(wire, 4);
    if (!ex || ex.header.correlationId !== correlationId) {
      return core.close('GH_UPSTREAM_PROTOCOL', `broker answered correlation id ${correlationId}, expected ${ex?.header.correlationId ?? 'none'}`);
    }
    if (untouched(core.stages, ex)) {
      ex.out = wire; // fast path: the broker's bytes, untouched
      return;
    }
    const takers = viewers(core.stages, ex);
    if (takers) {
      ex.out = wire; // fast path too; its view is read from the bytes in place
      ex.responseSize = frameLength(wire) - 4;
      try {
        deliverView(this.core, ex, takers, readFetchFrame(ex.header.apiVersion, wire, streamedApi(ex.header.apiKey)!));
      } catch (err) {
        core.fail(err);
      }
      return;
    }
    try {
      this.finish(ex, new ResponseView(ex, wire, false));
    } catch (err) {
      core.fail(err);
    }
  }

  /**
   * A response has begun to arrive and is not complete. Cut-through: when no stage wants it and
   * every earlier response has been written, its bytes go to the client as they arrive instead
   * of after its last byte (a large Fetch response otherwise waits for all of it). Anything else,
   * including a mismatched correlation id (reported when the frame is complete), is buffered.
   */
  private startCutThrough(correlationId: number, size: number): boolean {
    const stages = this.core.stages;
    if (this.core.closed) return false;
    const ex = this.awaiting[0];
    if (!ex || ex.header.correlationId !== correlationId) return false;
    const takers = untouched(stages, ex) ? null : viewers(stages, ex);
    if (!takers && !untouched(stages, ex)) return false;
    this.flush(); // responses completed in the same chunk, ahead of this one
    if (this.core.closed || this.inflight[0] !== ex) return false;
    this.awaiting.shift();
    this.streaming = ex;
    ex.responseSize = size;
    this.streamView = takers ? { reader: new FetchStreamReader(ex.header.apiVersion, streamedApi(ex.header.apiKey)!), viewers: takers } : null;
    this.onCutThrough?.();
    return true;
  }

  private endCutThrough(): void {
    const ex = this.streaming;
    const view = this.streamView;
    this.streaming = null;
    this.streamView = null;
    if (!ex || this.core.closed) return;
    ex.out = null; // all written; flush() drops it from the head of the queue
    if (view) {
      try {
        deliverView(this.core, ex, view.viewers, view.reader.result());
      } catch (err) {
        return this.core.fail(err);
      }
    }
    this.flush();
  }
}
