/**
 * TLS on the client side: the TLS listener set's server options (certificate, key and, for
 * client certificates, a CA bundle) read from files and reloaded when the files change, and what
 * a connection's TLS session tells the stages (protocol, cipher, the verified client certificate).
 *
 * Reloading polls the files' contents every `reloadCheckMs` (robust against editors, `mv` and
 * Kubernetes' symlink swaps, which fs.watch misses). A changed set is loaded into a new secure
 * context first; only if that works (the key matches the certificate, the PEM parses) do the
 * servers switch to it (`server.setSecureContext`). Connections already open keep the session
 * they have; a bad new pair is logged and the old one stays in service.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError } from '../config/load.js';
import type { ListenTlsConfig } from '../config/schema.js';
import type { TlsInfo } from '../stage/connection-info.js';

/** Node's multi-line X.509 name ("C=DE\nO=Example\nCN=app", issuer order) as RFC 2253 ("CN=app,O=Example,C=DE"). */
export function rfc2253(name: string): string {
  return name
    .split('\n')
    .filter(Boolean)
    .reverse()
    .join(',');
}

/** Describes a certificate for logs: subject, serial, SHA-256 fingerprint, expiry. */
export function describeCertificate(pem: string | Buffer): { subject: string; serial: string; fingerprint: string; validTo: string } {
  const c = new X509Certificate(pem);
  return { subject: rfc2253(c.subject), serial: c.serialNumber, fingerprint: c.fingerprint256, validTo: new Date(c.validTo).toISOString() };
}

/** The TLS facts of an established server-side socket, for ConnectionInfo. */
export function tlsInfoOf(socket: TLSSocket): TlsInfo {
  const base = { protocol: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher()?.name ?? 'unknown' };
  const peer = socket.authorized ? socket.getPeerX509Certificate() : undefined;
  if (!peer) return base;
  return {
    ...base,
    peerSubject: rfc2253(peer.subject),
    peerIssuer: rfc2253(peer.issuer),
    peerCertFingerprint: peer.fingerprint256,
    peerSerial: peer.serialNumber,
    peerValidTo: Date.parse(peer.validTo),
  };
}

interface Loaded {
  options: TlsOptions;
  /** Hash of the files' contents, to notice changes. */
  digest: string;
  cert: string;
}

/** The TLS listeners' server options, kept current from the files in `listen.tls`. */
export class ServerTlsMaterial {
  private current: Loaded;
  /** Digest of the last set tried (good or bad), so a bad set is reported once, not at every check. */
  private lastTried: string;
  private readonly servers = new Set<TlsServer>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: ListenTlsConfig,
    private readonly log: Logger,
  ) {
    // At start a bad file is a configuration error.
    try {
      this.current = this.load();
    } catch (err) {
      throw new ConfigError(config.certFile, [`listen.tls: cannot load certFile, keyFile${config.caFile ? ', caFile' : ''}: ${(err as Error).message}`]);
    }
    this.lastTried = this.current.digest;
    this.log.info({ ...describeCertificate(this.current.cert), clientAuth: config.clientAuth }, 'tls certificate loaded');
  }

  /** Options for tls.createServer: the current context, and client certificate handling. */
  serverOptions(): TlsOptions {
    const clientAuth = this.config.clientAuth;
    return {
      ...this.current.options,
      requestCert: clientAuth !== 'none',
      // `requested`: a client without a certificate is let in; one whose certificate does not
      // verify is turned away by the listener (see ListenerManager), as `required` does here.
      rejectUnauthorized: clientAuth === 'required',
    };
  }

  /** Servers to switch to a reloaded certificate. */
  attach(server: TlsServer): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /** Starts checking the files for changes. */
  watch(): void {
    this.timer ??= setInterval(() => this.check(), this.config.reloadCheckMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reloads if the files changed; true when a new certificate went into service. */
  check(): boolean {
    let next: Loaded;
    try {
      const digest = this.digest();
      if (digest === this.lastTried) return false;
      this.lastTried = digest;
      next = this.load();
    } catch (err) {
      this.log.error({ err: (err as Error).message, certFile: this.config.certFile, keyFile: this.config.keyFile }, 'tls certificate reload failed; the previous certificate stays in service');
      return false;
    }
    this.current = next;
    for (const s of this.servers) s.setSecureContext(next.options);
    this.log.info(describeCertificate(next.cert), 'tls certificate reloaded');
    return true;
  }

  private read(): { cert: string; key: string; ca: string | undefined } {
    const { certFile, keyFile, caFile } = this.config;
    return {
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
      ca: caFile === undefined ? undefined : readFileSync(caFile, 'utf8'),
    };
  }

  private digest(files = this.read()): string {
    return createHash('sha256').update(files.cert).update('\0').update(files.key).update('\0').update(files.ca ?? '').digest('hex');
  }

  private load(): Loaded {
    const files = this.read();
    const options: TlsOptions = { cert: files.cert, key: files.key, ...(files.ca !== undefined ? { ca: files.ca } : {}) };
    // Throws on unparsable PEM and on a key that does not match the certificate.
    createSecureContext(options);
    describeCertificate(files.cert);
    return { options, digest: this.digest(files), cert: files.cert };
  }
}
