/**
 * One listener set of the proxy: one bootstrap listener, and one per upstream broker at
 * brokerPortBase + nodeId, bound the first time that node id appears. With brokerPortBase 0 each
 * broker gets any free port instead (handy for tests and sandboxes). The proxy has a plaintext
 * set and, with `listen.tls`, a TLS set (names prefixed "tls-") whose connections are handed on
 * once the TLS handshake is done.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { adoptPooled } from './read-pool.js';
import type { ServerTlsMaterial } from './tls.js';

export interface ListenerSpec {
  name: string;
  nodeId: number;
  /** Whether the listener speaks TLS (its sockets are TLSSockets, handshake done). */
  tls: boolean;
}

export interface ListenerSetOptions {
  host: string;
  brokerPortBase: number;
  /** TLS material for a TLS set; absent: plaintext. */
  tls?: ServerTlsMaterial | undefined;
}

export class ListenerManager {
  private readonly servers = new Map<string, Server>();
  private readonly ports = new Map<number, Promise<number>>();

  private readonly host: string;
  private readonly brokerPortBase: number;
  private readonly tls: ServerTlsMaterial | undefined;
  private readonly prefix: string;

  constructor(
    options: ListenerSetOptions,
    private readonly onConnection: (socket: Socket, spec: ListenerSpec) => void,
    private readonly log: Logger,
  ) {
    this.host = options.host;
    this.brokerPortBase = options.brokerPortBase;
    this.tls = options.tls;
    this.prefix = options.tls ? 'tls-' : '';
  }

  private createServer(spec: ListenerSpec): Server {
    const tls = this.tls;
    // Plaintext clients are read into pooled buffers (read-pool.ts): accepted paused, then moved.
    if (!tls) return createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.onConnection(adoptPooled(socket), spec));
    const server = createTlsServer({ ...tls.serverOptions(), noDelay: true }, (socket: TLSSocket) => {
      // clientAuth `requested`: no certificate is fine, a certificate that does not verify is not.
      if (!socket.authorized && socket.getPeerCertificate()?.raw) {
        this.log.warn({ listener: spec.name, client: `${socket.remoteAddress}:${socket.remotePort}`, reason: String(socket.authorizationError) }, 'client certificate rejected');
        socket.destroy();
        return;
      }
      this.onConnection(socket, spec);
    });
    server.on('tlsClientError', (err, socket) => {
      this.log.info({ listener: spec.name, client: `${socket.remoteAddress}:${socket.remotePort}`, reason: err.message }, 'tls handshake failed');
    });
    tls.attach(server);
    return server;
  }

  private listen(spec: ListenerSpec, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = this.createServer(spec);
      server.once('error', (err) => reject(new Error(`cannot listen on ${this.host}:${port} for ${spec.name}: ${err.message}`)));
      server.listen({ host: this.host, port }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ err, listener: spec.name }, 'listener error'));
        this.servers.set(spec.name, server);
        const bound = (server.address() as { port: number }).port;
        this.log.info({ listener: spec.name, host: this.host, port: bound }, 'listening');
        resolve(bound);
      });
    });
  }

  bindBootstrap(port: number): Promise<number> {
    return this.listen({ name: `${this.prefix}bootstrap`, nodeId: -1, tls: !!this.tls }, port);
  }

  /** The port of a broker's listener, binding it on first use. */
  brokerPort(nodeId: number): Promise<number> {
    let p = this.ports.get(nodeId);
    if (!p) {
      const port = this.brokerPortBase === 0 ? 0 : this.brokerPortBase + nodeId;
      p = this.listen({ name: `${this.prefix}broker-${nodeId}`, nodeId, tls: !!this.tls }, port);
      p.catch((err: Error) => {
        this.log.error({ nodeId, err: err.message }, 'cannot bind broker listener');
        this.ports.delete(nodeId);
      });
      this.ports.set(nodeId, p);
    }
    return p;
  }

  boundBrokers(): number[] {
    return [...this.ports.keys()];
  }

  /** Stops accepting; existing connections are left to the caller. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.servers.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    this.servers.clear();
  }
}
