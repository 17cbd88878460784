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
 *
 * The broker connection opens at once, unless a stage holds it back (Stage.holdUpstream, e.g.
 * until the client has logged in): then when no stage holds it back any more or a request has to
 * go to the broker, with ApiVersions answered from the broker's remembered answer meanwhile.
 *
 * This file wires the parts together and owns the connection's life (connect, drain, close):
 *  - connection/request-path.ts: client → broker (frames, request stages, forward/answer/close);
 *  - connection/client-reads.ts: which pooled client reads requests still borrow;
 *  - connection/response-order.ts: broker → client (order by correlation id, cut-through, views);
 *  - connection/response-stages.ts: who sees a response (nobody, a records view, whole);
 *  - connection/relay-handover.ts: handing a response cut through to the zero-copy relay;
 *  - connection/upstream-opening.ts: when the broker connection opens;
 *  - connection/core.ts: what they share.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionInfo } from '../stage/connection-info.js';
import type { Stage } from '../stage/stage.js';
import { ProxyError, type CloseCode } from './errors.js';
import { FrameReader, type FrameLimit } from './frame-reader.js';
import { consumeBorrowed, type Lease } from './read-pool.js';
import type { HostPort, UpstreamConnector } from './upstream.js';
import { formatHostPort } from './upstream.js';
import { ClientReads } from './connection/client-reads.js';
import { ConnectionCore, isPromise, stageError } from './connection/core.js';
import { RelayHandover } from './connection/relay-handover.js';
import { RequestPath } from './connection/request-path.js';
import { ResponseOrder } from './connection/response-order.js';
import { UpstreamOpening } from './connection/upstream-opening.js';
import type { ApiVersionsSource } from './routing/remembered-api-versions.js';

export interface ConnectionOptions {
  info: ConnectionInfo;
  client: Socket;
  /** Upstream addresses to try in order (the bootstrap list, or the one broker). */
  resolveTargets: () => Promise<HostPort[]>;
  connector: UpstreamConnector;
  /** The broker's ApiVersions answers while a stage holds the broker connection back; absent: ApiVersions opens it. */
  apiVersions?: ApiVersionsSource;
  stages: readonly Stage[];
  /** The largest request frame taken: fixed, or a limit that may be raised (a connection admitted, admission.ts). */
  maxFrameBytes: number | FrameLimit;
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

export class ProxyConnection {
  readonly info: ConnectionInfo;
  private readonly opts: ConnectionOptions;
  private readonly log: Logger;
  private readonly core: ConnectionCore;
  private readonly requests: RequestPath;
  private readonly responses: ResponseOrder;
  private readonly relay: RelayHandover;
  private readonly upstream: UpstreamOpening;

  constructor(opts: ConnectionOptions) {
    this.opts = opts;
    this.info = opts.info;
    this.log = opts.log.child({ conn: opts.info.id });
    const client = opts.client;
    const core = (this.core = new ConnectionCore(opts.info, client, opts.stages, this.log, (code, message) => this.close(code, message)));
    // Segmented: a request that spans reads is handed on as its chunks and forwarded as them,
    // never joined unless a stage asks for its bytes in one piece.
    const clientFrames = new FrameReader(opts.maxFrameBytes, 'client request', true);
    const reads = new ClientReads(clientFrames);
    this.responses = new ResponseOrder(core, opts.onCutThrough);
    this.upstream = new UpstreamOpening(core, () => this.connectUpstream());
    this.requests = new RequestPath(core, clientFrames, reads, this.responses, this.upstream, opts.apiVersions);
    this.relay = new RelayHandover(core, this.responses, { enabled: !!opts.zeroCopy, onRelayed: opts.onRelayed });

    // Every handler below is guarded: what goes wrong in it ends this connection, not the process.
    const guarded = core.guarded.bind(core);
    client.setNoDelay(true);
    client.setTimeout(opts.idleTimeoutMs, guarded(() => this.close('GH_IDLE_TIMEOUT', `no traffic for ${opts.idleTimeoutMs} ms`)));
    const onRequestBytes = (v: Buffer) => this.requests.onData(v);
    consumeBorrowed(client, guarded((view: Buffer, lease: Lease) => reads.read(view, lease, onRequestBytes)));
    // Only sockets not on pooled reads emit data (a pooled one would if its Node ignored onread).
    client.on('data', guarded((chunk: Buffer) => reads.plain(chunk, onRequestBytes)));
    client.on('end', guarded(() => this.close('GH_CLIENT_CLOSED', 'client closed the connection')));
    client.on('close', guarded(() => this.close('GH_CLIENT_CLOSED', 'client connection closed')));
    client.on('error', guarded((err: Error) => this.close('GH_CLIENT_CLOSED', `client socket error: ${err.message}`)));
    client.on(
      'drain',
      guarded(() => {
        if (!this.relay.active) core.upstream?.resume();
      }),
    );
  }

  /** Requests accepted from the client so far. */
  get requestsSeen(): number {
    return this.requests.requestsSeen;
  }

  async start(): Promise<void> {
    const core = this.core;
    try {
      for (const stage of this.opts.stages) {
        if (!stage.onConnect) continue;
        let refused: void | string;
        try {
          refused = await stage.onConnect(this.info);
        } catch (err) {
          throw stageError(stage, err);
        }
        if (typeof refused === 'string') return this.close('GH_STAGE_CLOSED', `${stage.name}: ${refused}`);
      }
    } catch (err) {
      return core.fail(err);
    }
    if (core.closed) return;
    if (this.upstream.held()) {
      if (core.closed) return;
      this.log.debug('broker connection held back by a stage');
    } else if (!(await this.upstream.open())) {
      return;
    }
    this.requests.open();
  }

  /** Connects to the broker (trying the targets in order) and wires its socket; returns once connected or closed. */
  private async connectUpstream(): Promise<void> {
    const core = this.core;
    const targets = await this.opts.resolveTargets();
    let lastError: unknown = new ProxyError('GH_UPSTREAM_UNREACHABLE', 'no upstream address known');
    for (const target of targets) {
      if (core.closed) return;
      try {
        core.upstream = await this.opts.connector.connect(target);
        this.log.debug({ upstream: formatHostPort(target) }, 'upstream connected');
        break;
      } catch (err) {
        lastError = err;
        this.log.warn({ upstream: formatHostPort(target), err: (err as Error).message }, 'upstream connect failed');
      }
    }
    if (core.closed) {
      core.upstream?.destroy();
      return;
    }
    if (!core.upstream) throw lastError;
    const up = core.upstream;
    up.setNoDelay(true);
    // Every handler is guarded: what goes wrong in it ends this connection, not the process.
    const guarded = core.guarded.bind(core);
    const borrowed = consumeBorrowed(
      up,
      guarded((view: Buffer, lease: Lease) => {
        this.responses.onBorrowed(view, lease);
        this.relay.maybeStart();
      }),
    );
    if (!borrowed) up.on('data', guarded((chunk: Buffer) => this.responses.onData(chunk)));
    up.on('drain', guarded(() => this.opts.client.resume()));
    up.on('end', guarded(() => this.close('GH_UPSTREAM_CLOSED', 'broker closed the connection')));
    up.on('close', guarded(() => this.close('GH_UPSTREAM_CLOSED', 'broker connection closed')));
    up.on('error', guarded((err: Error) => this.close('GH_UPSTREAM_CLOSED', `broker socket error: ${err.message}`)));
  }

  /** Stops taking requests; closes once every accepted request has been answered. */
  drain(): void {
    const core = this.core;
    if (core.closed || core.draining) return;
    core.draining = true;
    this.opts.client.pause();
    this.responses.flush();
  }

  close(code: CloseCode, message: string): void {
    const core = this.core;
    if (core.closed) return;
    core.closed = true;
    const client = this.opts.client;
    const expected = code === 'GH_CLIENT_CLOSED' || code === 'GH_SHUTDOWN';
    const fields = { code, reason: message, requests: this.requestsSeen };
    if (expected) this.log.debug(fields, 'connection closed');
    else this.log.warn(fields, 'connection closed');
    // end() lets responses already written reach the client; the timer covers a peer that
    // never closes its side.
    if (!client.destroyed) {
      client.end();
      setTimeout(() => client.destroy(), 2000).unref();
    }
    this.relay.cancel();
    core.upstream?.destroy();
    const onCloseFailed = (stage: Stage, err: unknown) => this.log.error({ err, stage: stage.name }, 'stage onClose failed');
    for (const stage of this.opts.stages) {
      try {
        // Typed to return nothing; a promise one returns anyway is not waited for, but its
        // rejection is logged rather than left unhandled.
        const r: unknown = stage.onClose?.(this.info, code === 'GH_STAGE_CLOSED' ? message : code);
        if (isPromise(r)) r.then(undefined, (err: unknown) => onCloseFailed(stage, err));
      } catch (err) {
        onCloseFailed(stage, err);
      }
    }
    this.opts.onClosed(this, code);
  }

  get isClosed(): boolean {
    return this.core.closed;
  }
}
