/**
 * How the proxy reaches a broker. The plain connector opens a TCP connection (TlsConnector in
 * upstream-tls.ts a TLS one, with `upstream.tls`); with `upstream.sasl` in the config it is
 * wrapped by SaslUpstreamConnector
 * (src/identity/upstream/), which adds the proxy's own SASL login that clients never see.
 */
import type { Socket } from 'node:net';
import { connectPooled } from './read-pool.js';
import { ProxyError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface UpstreamConnector {
  connect(target: HostPort): Promise<Socket>;
}

export function parseHostPort(s: string): HostPort {
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(s.slice(i + 1)) };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

export class PlainConnector implements UpstreamConnector {
  constructor(private readonly timeoutMs: number) {}

  connect(target: HostPort): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connectPooled({ host: target.host, port: target.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ProxyError('GH_UPSTREAM_UNREACHABLE', `connecting to ${formatHostPort(target)} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new ProxyError('GH_UPSTREAM_UNREACHABLE', `cannot connect to ${formatHostPort(target)}: ${err.message}`, { cause: err }));
      });
    });
  }
}
