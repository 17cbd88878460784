/**
 * The proxy's TCP listeners: one bootstrap listener, and one per upstream broker at
 * brokerPortBase + nodeId, bound the first time that node id appears. With brokerPortBase 0 each
 * broker gets any free port instead (handy for tests and sandboxes).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';

export interface ListenerSpec {
  name: string;
  nodeId: number;
}

export class ListenerManager {
  private readonly servers = new Map<string, Server>();
  private readonly ports = new Map<number, Promise<number>>();

  constructor(
    private readonly host: string,
    private readonly brokerPortBase: number,
    private readonly onConnection: (socket: Socket, spec: ListenerSpec) => void,
    private readonly log: Logger,
  ) {}

  private listen(spec: ListenerSpec, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true }, (socket) => this.onConnection(socket, spec));
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
    return this.listen({ name: 'bootstrap', nodeId: -1 }, port);
  }

  /** The port of a broker's listener, binding it on first use. */
  brokerPort(nodeId: number): Promise<number> {
    let p = this.ports.get(nodeId);
    if (!p) {
      const port = this.brokerPortBase === 0 ? 0 : this.brokerPortBase + nodeId;
      p = this.listen({ name: `broker-${nodeId}`, nodeId }, port);
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
