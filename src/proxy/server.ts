/**
 * The proxy: listeners, connections and the stage chain. It moves frames and rewrites broker
 * addresses; everything else is up to the stages it is given.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/schema.js';
import { withResolvedTlsPaths } from '../config/tls-paths.js';
import { upstreamConnectorFromConfig } from '../identity/upstream/from-config.js';
import { createLogger } from '../log.js';
import { Admissions } from './admission.js';
import { BrokerMap } from './broker-map.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { ProxyConnection } from './connection.js';
import { discoverCluster, fetchApiVersions } from './discovery.js';
import { ListenerManager, type ListenerSpec } from './listeners.js';
import { pinnedReadBytes } from './read-pool.js';
import { AddressRewriteStage } from './routing/address-rewrite.js';
import { ApiVersionsStage } from './routing/api-versions.js';
import { BrokerConfigsStage } from './routing/broker-configs.js';
import { RememberedApiVersions, type ApiVersionsAnswers } from './routing/remembered-api-versions.js';
import { ProxyError } from './errors.js';
import type { Stage } from '../stage/stage.js';
import { ServerTlsMaterial, tlsInfoOf } from './tls.js';
import { formatHostPort, parseHostPort, type HostPort, type UpstreamConnector } from './upstream.js';

/** Counters the observability stage will export; tests read them directly. */
export interface ProxyStats {
  clientConnections: number;
  /** Connections this proxy opened to brokers (client traffic and its own: discovery, ApiVersions). */
  upstreamConnections: number;
  closedByCode: Record<string, number>;
  /** Broker responses written to clients while still arriving (cut-through, no stage wanted them). */
  cutThroughResponses: number;
  /** Bytes of cut-through responses moved by the kernel's zero-copy relay (zero-copy.ts). */
  zeroCopyBytes: number;
}

export interface ProxyOptions {
  /** Stages between the client and the broker, in order (identity, policy, masking, audit…). */
  stages?: Stage[];
  connector?: UpstreamConnector;
  logger?: Logger;
  /** The config file's path: relative TLS file paths are resolved against its folder (default: the working directory). */
  configPath?: string;
}

export class GatehouseProxy {
  readonly config: GatehouseConfig;
  readonly log: Logger;
  readonly brokers = new BrokerMap();
  private readonly connector: UpstreamConnector;
  private readonly stages: Stage[];
  private readonly listeners: ListenerManager;
  /** The TLS listener set (`listen.tls`), if configured. */
  private readonly tlsListeners: ListenerManager | undefined;
  private readonly tlsMaterial: ServerTlsMaterial | undefined;
  private readonly connections = new Set<ProxyConnection>();
  private readonly bootstrapTargets: HostPort[];
  /** The limits for connections not admitted yet (a stage admits them: identity). */
  private readonly admissions: Admissions;
  /** The brokers' ApiVersions answers, for connections whose broker connection a stage holds back. */
  private readonly apiVersions: RememberedApiVersions;
  private nextId = 1;
  private bootstrapPort = -1;
  private tlsBootstrapPort = -1;
  private stopping: Promise<void> | null = null;
  readonly stats: ProxyStats = { clientConnections: 0, upstreamConnections: 0, closedByCode: {}, cutThroughResponses: 0, zeroCopyBytes: 0 };

  constructor(config: GatehouseConfig, opts: ProxyOptions = {}) {
    config = withResolvedTlsPaths(config, opts.configPath);
    this.config = config;
    this.log = opts.logger ?? createLogger(config.log.level);
    const connector = opts.connector ?? upstreamConnectorFromConfig(config.upstream);
    this.connector = {
      connect: async (target) => {
        const socket = await connector.connect(target);
        this.stats.upstreamConnections++;
        return socket;
      },
    };
    this.bootstrapTargets = config.upstream.bootstrap.map(parseHostPort);
    this.apiVersions = new RememberedApiVersions({ ask: (nodeId) => this.askApiVersions(nodeId), log: this.log });
    const { host, brokerPortBase, tls } = config.listen;
    this.listeners = new ListenerManager({ host, brokerPortBase }, (s, spec) => this.accept(s, spec), this.log);
    if (tls) {
      // Reads the files now: a missing file or a key that does not fit is a start-up error.
      this.tlsMaterial = new ServerTlsMaterial(tls, this.log);
      this.tlsListeners = new ListenerManager({ host, brokerPortBase: tls.brokerPortBase, tls: this.tlsMaterial }, (s, spec) => this.accept(s, spec), this.log);
    }
    if (config.upstream.tls?.insecureSkipVerify) {
      this.log.warn('upstream.tls.insecureSkipVerify: broker certificates are not verified; anyone on the path can read and change the traffic');
    }
    if (config.identity?.mtls && (!tls || tls.clientAuth === 'none')) {
      this.log.warn('identity.mtls is set but listen.tls does not ask for client certificates (clientAuth none or no listen.tls): no connection is authenticated by a certificate');
    }
    const book = {
      brokers: this.brokers,
      addressFor: (id: number, via: ConnectionInfo) => this.addressFor(id, !!via.tls),
      bootstrap: (via: ConnectionInfo) => ({ host: config.listen.advertisedHost, port: via.tls ? this.tlsBootstrapPort : this.bootstrapPort }),
    };
    // Core routing first, so that later stages see what the client will see.
    this.stages = [
      new ApiVersionsStage(),
      new AddressRewriteStage(book),
      new BrokerConfigsStage(book),
      ...(opts.stages ?? []),
    ];
    const { limits } = config;
    const strangers = this.stages.some((s) => s.admitsConnections)
      ? { maxFrameBytes: limits.maxUnauthenticatedFrameBytes, timeoutMs: limits.loginTimeoutMs, perAddress: limits.maxUnauthenticatedConnectionsPerAddress }
      : null;
    this.admissions = new Admissions(limits.maxFrameBytes, strangers);
    this.brokers.on('broker', (nodeId, address) => {
      this.log.info({ nodeId, upstream: `${address.host}:${address.port}` }, 'learned broker');
      for (const set of this.listenerSets()) set.brokerPort(nodeId).catch(() => undefined);
    });
  }

  /** Binds the bootstrap listener and, if the cluster answers, one listener per broker. */
  async start(): Promise<void> {
    this.bootstrapPort = await this.listeners.bindBootstrap(this.config.listen.bootstrapPort);
    if (this.tlsListeners) {
      this.tlsBootstrapPort = await this.tlsListeners.bindBootstrap(this.config.listen.tls!.bootstrapPort);
      this.tlsMaterial!.watch();
    }
    try {
      await this.discover();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'upstream cluster not reachable yet; broker listeners will be bound as brokers are learned');
    }
  }

  /** The proxy's bootstrap address as clients should use it. */
  get bootstrap(): string {
    return `${this.config.listen.advertisedHost}:${this.bootstrapPort}`;
  }

  /** Listening and not stopping: ready for clients (the readiness probe). */
  get ready(): boolean {
    return this.bootstrapPort > 0 && this.stopping === null;
  }

  get bootstrapListenerPort(): number {
    return this.bootstrapPort;
  }

  /** The TLS bootstrap address as clients should use it; undefined without `listen.tls`. */
  get tlsBootstrap(): string | undefined {
    return this.tlsListeners ? `${this.config.listen.advertisedHost}:${this.tlsBootstrapPort}` : undefined;
  }

  /** The TLS bootstrap listener's bound port; -1 without `listen.tls`. */
  get tlsBootstrapListenerPort(): number {
    return this.tlsBootstrapPort;
  }

  /** Checks the TLS certificate files now instead of at the next `reloadCheckMs`; true if a new certificate went into service. */
  reloadTlsCertificate(): boolean {
    return this.tlsMaterial?.check() ?? false;
  }

  private listenerSets(): ListenerManager[] {
    return this.tlsListeners ? [this.listeners, this.tlsListeners] : [this.listeners];
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Bytes of pooled read buffers held past their read (requests in use, incomplete requests): see read-pool.ts. */
  get pinnedReadBytes(): number {
    return pinnedReadBytes();
  }

  /** Connections from `address` that no stage has admitted yet (not logged in). */
  waitingFrom(address: string): number {
    return this.admissions.waitingFrom(address);
  }

  private async discover(): Promise<void> {
    let last: unknown;
    for (const target of this.bootstrapTargets) {
      try {
        const { metadata: md, apiVersions } = await discoverCluster(this.connector, target, this.config.upstream.connectTimeoutMs, (err) =>
          this.log.warn({ err: (err as Error).message }, 'asking the broker for its ApiVersions answers failed; asked again when a connection needs them'),
        );
        if (apiVersions) {
          this.apiVersions.learn(-1, apiVersions);
          // The broker that answered, when it is known by the address asked (one broker, or a bootstrap list of the brokers' own addresses).
          for (const b of md.brokers) if (b.host === target.host && b.port === target.port) this.apiVersions.learn(b.nodeId, apiVersions);
        }
        for (const b of md.brokers) this.brokers.learn(b.nodeId, { host: b.host, port: b.port });
        await Promise.all(this.listenerSets().flatMap((set) => md.brokers.map((b) => set.brokerPort(b.nodeId))));
        return;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  /** The proxy's host:port for a broker, as clients of the plaintext (or TLS) set are told it (binds its listener if needed). */
  async brokerAddress(nodeId: number, tls = false): Promise<string> {
    const a = await this.addressFor(nodeId, tls);
    return `${a.host}:${a.port}`;
  }

  private async addressFor(nodeId: number, tls: boolean): Promise<HostPort> {
    const set = tls ? this.tlsListeners : this.listeners;
    if (!set) throw new Error('no TLS listeners configured (listen.tls)');
    const port = await set.brokerPort(nodeId);
    return { host: this.config.listen.advertisedHost, port };
  }

  /** Where a connection to a listener goes: any bootstrap broker (node id -1), or one broker. */
  private async targetsFor(nodeId: number): Promise<HostPort[]> {
    if (nodeId < 0) return this.bootstrapTargets;
    let known = this.brokers.get(nodeId);
    if (!known) {
      await this.discover().catch(() => undefined);
      known = this.brokers.get(nodeId);
    }
    return known ? [known] : [];
  }

  /** The ApiVersions answers of the broker(s) a listener's connections go to, asked on a connection of the proxy's own. */
  private async askApiVersions(nodeId: number): Promise<ApiVersionsAnswers> {
    let last: unknown = new ProxyError('GH_UPSTREAM_UNREACHABLE', 'no upstream address known');
    for (const target of await this.targetsFor(nodeId)) {
      try {
        return await fetchApiVersions(this.connector, target, this.config.upstream.connectTimeoutMs);
      } catch (err) {
        last = err instanceof ProxyError ? err : new ProxyError('GH_UPSTREAM_UNREACHABLE', `asking ${formatHostPort(target)} for its ApiVersions answers failed: ${(err as Error).message}`, { cause: err });
      }
    }
    throw last;
  }

  private accept(socket: Socket, spec: ListenerSpec): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const limits = this.admissions.open(socket.remoteAddress ?? '');
    if (typeof limits === 'string') {
      this.stats.closedByCode.GH_TOO_MANY_CONNECTIONS = (this.stats.closedByCode.GH_TOO_MANY_CONNECTIONS ?? 0) + 1;
      this.log.warn({ code: 'GH_TOO_MANY_CONNECTIONS', listener: spec.name, client: `${socket.remoteAddress}:${socket.remotePort}`, reason: limits }, 'connection refused');
      socket.destroy();
      return;
    }
    const info: ConnectionInfo = {
      id: `c${this.nextId++}`,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      listener: spec.name,
      nodeId: spec.nodeId,
      openedAt: Date.now(),
      attributes: new Map(),
      limits,
      ...(spec.tls ? { tls: tlsInfoOf(socket as TLSSocket) } : {}),
    };
    const conn = new ProxyConnection({
      info,
      client: socket,
      resolveTargets: () => this.targetsFor(spec.nodeId),
      connector: this.connector,
      apiVersions: (request, version) => this.apiVersions.answer(spec.nodeId, request, version),
      stages: this.stages,
      maxFrameBytes: limits,
      idleTimeoutMs: this.config.limits.idleTimeoutMs,
      log: this.log,
      onCutThrough: () => this.stats.cutThroughResponses++,
      zeroCopy: this.config.performance.zeroCopy,
      onRelayed: (bytes) => (this.stats.zeroCopyBytes += bytes),
      onClosed: (c, code) => {
        limits.end();
        this.connections.delete(c);
        this.stats.closedByCode[code] = (this.stats.closedByCode[code] ?? 0) + 1;
      },
    });
    this.connections.add(conn);
    this.stats.clientConnections++;
    limits.start((reason) => conn.close('GH_LOGIN_TIMEOUT', reason));
    this.log.debug(
      { conn: info.id, listener: spec.name, client: `${info.remoteAddress}:${info.remotePort}`, ...(info.tls ? { tls: info.tls } : {}) },
      'client connected',
    );
    void conn.start();
  }

  /**
   * Graceful stop: no new connections, every accepted request is answered, then connections
   * close. Connections still busy after the drain timeout are cut.
   */
  stop(drainTimeoutMs = this.config.shutdown.drainTimeoutMs): Promise<void> {
    this.stopping ??= (async () => {
      // server.close() only calls back once every connection is gone, so stop accepting first,
      // drain, and wait for the listeners at the end.
      this.tlsMaterial?.close();
      const listenersClosed = Promise.all(this.listenerSets().map((set) => set.close()));
      for (const c of this.connections) c.drain();
      const deadline = Date.now() + drainTimeoutMs;
      while (this.connections.size > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const c of [...this.connections]) c.close('GH_SHUTDOWN', 'drain timeout reached');
      await listenersClosed;
      this.log.info('proxy stopped');
      this.log.flush?.();
    })();
    return this.stopping;
  }
}
