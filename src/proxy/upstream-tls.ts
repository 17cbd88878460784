/**
 * TLS to brokers (`upstream.tls`): the connector opens a TLS connection and resolves once the
 * handshake is done and the broker's certificate verified against the CA bundle (or the system's
 * CAs) and its host name (or `servername`). The resulting socket carries everything the plain
 * one would: the proxy's SASL login, its discovery Metadata and the clients' traffic.
 */
import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { connect, createSecureContext, type ConnectionOptions } from 'node:tls';
import { ConfigError } from '../config/load.js';
import type { UpstreamTlsConfig } from '../config/schema.js';
import { ProxyError } from './errors.js';
import { formatHostPort, type HostPort, type UpstreamConnector } from './upstream.js';

/**
 * The TLS options `upstream.tls` asks for (CA bundle, client certificate and key, verification),
 * read and checked at once: unparsable PEM or a key that does not fit the certificate is a
 * ConfigError. The same options serve the proxy's broker connections and the audit trail's
 * Kafka client (src/audit/kafka-client.ts); `servername` is left to the caller.
 */
export function upstreamTlsOptions(config: UpstreamTlsConfig): ConnectionOptions & { rejectUnauthorized: boolean } {
  try {
    const options = {
      ...(config.caFile ? { ca: readFileSync(config.caFile, 'utf8') } : {}),
      ...(config.certFile && config.keyFile ? { cert: readFileSync(config.certFile, 'utf8'), key: readFileSync(config.keyFile, 'utf8') } : {}),
      rejectUnauthorized: !config.insecureSkipVerify,
    };
    createSecureContext(options); // unparsable PEM, a key that does not fit: fail at start
    return options;
  } catch (err) {
    throw new ConfigError(config.caFile ?? config.certFile ?? 'upstream.tls', [`upstream.tls: ${(err as Error).message}`]);
  }
}

export class TlsConnector implements UpstreamConnector {
  private readonly options: ConnectionOptions & { rejectUnauthorized: boolean };

  constructor(
    private readonly config: UpstreamTlsConfig,
    private readonly timeoutMs: number,
  ) {
    this.options = upstreamTlsOptions(config);
  }

  connect(target: HostPort): Promise<Socket> {
    // SNI carries host names only; the certificate is checked against servername, else the host.
    const servername = this.config.servername ?? (isIP(target.host) ? undefined : target.host);
    return new Promise((resolve, reject) => {
      const socket = connect({ ...this.options, host: target.host, port: target.port, ...(servername ? { servername } : {}) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ProxyError('GH_UPSTREAM_UNREACHABLE', `TLS connection to ${formatHostPort(target)} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ProxyError('GH_UPSTREAM_UNREACHABLE', `cannot connect to ${formatHostPort(target)} over TLS: ${err.message}`, { cause: err }));
      });
    });
  }
}
