import type { TlsInfo } from './tls.js';

/** What stages know about a client connection. */
export interface ConnectionInfo {
  /** Unique within this proxy process, e.g. "c42". */
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The listener the client connected to: "bootstrap" or "broker-<nodeId>", prefixed "tls-" on the TLS listener set. */
  readonly listener: string;
  /** Node id of the broker this connection is routed to, or -1 for the bootstrap listener. */
  readonly nodeId: number;
  readonly openedAt: number;
  /** The TLS session (protocol, cipher, verified client certificate) on the TLS listener set; absent on plaintext. */
  readonly tls?: TlsInfo;
  /** Per-connection scratch space for stages (e.g. the authenticated principal). */
  readonly attributes: Map<string | symbol, unknown>;
}
